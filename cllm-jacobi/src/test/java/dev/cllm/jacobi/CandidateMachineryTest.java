package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The parts of {@link LookaheadDecoder}: the n-gram index, the cost curve, and the tree the cost model picks. */
class CandidateMachineryTest {

    private static List<int[]> continuations(NgramIndex index, int[] context, int max, int length) {
        List<int[]> out = new ArrayList<>();
        index.continuations(context, context.length, max, length, (c, k) -> out.add(c));
        return out;
    }

    @Test
    void longerMatchesComeFirstThenTheMostRecentOccurrences() {
        NgramIndex index = new NgramIndex(3, 4, 1000);
        index.add(new int[]{1, 2, 3, 4, 5}, 0, 5);
        index.add(new int[]{9, 2, 3, 7, 7}, 0, 5);
        index.add(new int[]{3, 8}, 0, 2);
        // context ends with 1 2 3: the 3-gram match (-> 4 5) beats the 2-gram (2 3 -> 7 7) and the 1-gram (3 -> 8)
        List<int[]> c = continuations(index, new int[]{0, 1, 2, 3}, 5, 2);
        assertThat(c).hasSize(3);
        assertThat(c.get(0)).containsExactly(4, 5);
        assertThat(c.get(1)).containsExactly(7, 7);
        assertThat(c.get(2)).containsExactly(8);
        // a continuation never crosses the end of its sequence, and duplicates are proposed once
        index.add(new int[]{3, 8}, 0, 2);
        assertThat(continuations(index, new int[]{3}, 5, 4)).hasSize(3);
    }

    @Test
    void theRingForgetsTheOldestTokens() {
        NgramIndex index = new NgramIndex(2, 8, 16);
        index.add(new int[]{1, 2, 3}, 0, 3);
        for (int i = 0; i < 10; i++) {
            index.add(new int[]{20 + i, 30 + i}, 0, 2);
        }
        assertThat(continuations(index, new int[]{1}, 4, 4)).isEmpty();
        assertThat(continuations(index, new int[]{29}, 4, 4)).hasSize(1);
    }

    @Test
    void passCostInterpolatesAndNeverDecreases() {
        PassCost c = PassCost.of(Map.of(1, 100.0, 4, 130.0, 8, 120.0, 16, 300.0));
        assertThat(c.nanos(1)).isEqualTo(100.0);
        assertThat(c.nanos(2)).isEqualTo(110.0);
        assertThat(c.nanos(8)).isEqualTo(130.0);       // the dip at 8 is noise: t never decreases
        assertThat(c.nanos(32)).isGreaterThan(c.nanos(16));
        assertThat(c.ratio(4)).isEqualTo(1.3);
        assertThatThrownBy(() -> PassCost.of(Map.of(2, 1.0))).hasMessageContaining("t(1)");
    }

    @Test
    void theCostModelRunsAloneWhenGuessesAreUnlikelyAndAddsThemWhenTheyPay() {
        AcceptanceModel model = new AcceptanceModel();
        for (int i = 0; i < 500; i++) {
            model.record(CandidateSource.JACOBI, 1, false);   // the window is never right
            model.record(CandidateSource.POOL, 1, true);      // the pool always is
            model.record(CandidateSource.POOL, 2, true);
        }
        TreeBuilder t = new TreeBuilder();
        t.reset(5);
        t.insertJacobi(new int[]{6, 7}, new CandidateSource[]{CandidateSource.JACOBI, CandidateSource.JACOBI}, 2,
                model);
        PassCost cost = PassCost.linear(1000, 100);
        DraftTree tree = t.select(cost, 16, 0, 0);
        assertThat(tree.size()).as("a pass over the root only").isEqualTo(1);

        t.reset(5);
        t.insertJacobi(new int[]{6, 7}, new CandidateSource[]{CandidateSource.JACOBI, CandidateSource.JACOBI}, 2,
                model);
        t.insert(0, new int[]{8, 9}, 2, CandidateSource.POOL, model);
        tree = t.select(cost, 16, 0, 0);
        assertThat(tree.size()).isEqualTo(3);
        assertThat(tree.tokens()).containsExactly(5, 8, 9);

        // a fixed size takes the most probable nodes; the window's chain comes first in the layout
        t.reset(5);
        t.insertJacobi(new int[]{6, 7}, new CandidateSource[]{CandidateSource.JACOBI, CandidateSource.JACOBI}, 2,
                model);
        t.insert(0, new int[]{8, 9}, 2, CandidateSource.POOL, model);
        tree = t.select(cost, 16, 5, 0);
        assertThat(tree.tokens()).containsExactly(5, 6, 7, 8, 9);
        assertThat(tree.parents()).containsExactly(-1, 0, 1, 0, 3);
    }

    @Test
    void sharedPrefixesMergeAndRememberEverySource() {
        AcceptanceModel model = new AcceptanceModel();
        TreeBuilder t = new TreeBuilder();
        t.reset(1);
        t.insert(0, new int[]{2, 3, 4}, 3, CandidateSource.POOL, model);
        int[] path = t.insert(0, new int[]{2, 3, 9}, 3, CandidateSource.PROMPT, model);
        assertThat(t.size()).isEqualTo(5);
        int shared = path[1];
        assertThat(t.sources(shared)).isEqualTo((1 << CandidateSource.POOL.ordinal())
                | (1 << CandidateSource.PROMPT.ordinal()));
    }
}
