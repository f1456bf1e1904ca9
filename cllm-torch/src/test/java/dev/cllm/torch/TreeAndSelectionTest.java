package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Tree verification and token selection on a real model: a node of a {@link DraftTree} gets the token its path would
 * get as a plain block, committing a path moves its cache entries so that decoding goes on as if the path had been
 * forwarded alone, and on-device selection matches {@link TokenSelector#select} on the same logits.
 */
class TreeAndSelectionTest {
    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /** A random tree of {@code size} nodes over the vocabulary, rooted at {@code root}. */
    private static DraftTree randomTree(SplittableRandom rng, int root, int size) {
        int[] tokens = new int[size];
        int[] parents = new int[size];
        tokens[0] = root;
        parents[0] = -1;
        for (int i = 1; i < size; i++) {
            tokens[i] = rng.nextInt(model.config().vocabSize());
            parents[i] = rng.nextInt(i);
        }
        return DraftTree.of(tokens, parents);
    }

    /** The tokens a session selects after each prefix of {@code block}, on a fresh copy of {@code prompt}. */
    private static int[] chainAfter(int[] prompt, int[] block, TokenSelector selector) {
        try (DecodingSession s = model.newSession(256)) {
            s.select(selector);
            s.prefill(prompt);
            return s.forward(block);
        }
    }

    @Test
    void everyTreeNodeGetsTheTokenItsPathGetsAsABlock() {
        SplittableRandom rng = new SplittableRandom(1);
        int[] prompt = Stories260K.greedyCases().get(0).promptIds();
        for (TokenSelector selector : new TokenSelector[]{TokenSelector.GREEDY,
                new TokenSelector(true, 0.9, 20, 0.95, 0.0, 1.2, 0.1, 0.1, 77, 0, Set.of())}) {
            for (int trial = 0; trial < 6; trial++) {
                try (DecodingSession s = model.newSession(256)) {
                    s.select(selector);
                    int root = s.prefill(prompt);
                    DraftTree tree = randomTree(rng, root, 3 + rng.nextInt(14));
                    int[] selected = s.forward(tree);
                    for (int i = 0; i < tree.size(); i++) {
                        int[] path = tree.path(i);
                        int[] block = new int[path.length];
                        for (int d = 0; d < path.length; d++) {
                            block[d] = tree.token(path[d]);
                        }
                        int[] expected = chainAfter(prompt, block, selector);
                        assertThat(selected[i]).as("%s node %d of %s", selector.sample() ? "sampled" : "greedy", i,
                                tree).isEqualTo(expected[block.length - 1]);
                    }
                }
            }
        }
    }

    @Test
    void committingABranchMovesItsCacheEntriesIntoPlace() {
        int[] prompt = Stories260K.greedyCases().get(1).promptIds();
        int[] reference;
        try (DecodingSession s = model.newSession(256)) {
            int t = s.prefill(prompt);
            reference = new int[12];
            for (int i = 0; i < reference.length; i++) {
                reference[i] = t;
                t = s.forward(new int[]{t})[0];
                s.commit(1);
            }
        }
        try (DecodingSession s = model.newSession(256)) {
            int root = s.prefill(prompt);
            // a wrong chain first (slots 1..3), then the right continuation as a side branch (slots 4..6)
            int[] tokens = {root, 5, 6, 7, reference[1], reference[2], reference[3]};
            int[] parents = {-1, 0, 1, 2, 0, 4, 5};
            DraftTree tree = DraftTree.of(tokens, parents);
            int[] selected = s.forward(tree);
            int v = tree.deepestVerified(selected);
            assertThat(v).isEqualTo(6);
            s.commitPath(v);
            assertThat(s.position()).isEqualTo(prompt.length + 4);
            int next = selected[v];
            assertThat(next).isEqualTo(reference[4]);
            for (int i = 4; i < reference.length; i++) {      // decoding goes on over the moved entries
                assertThat(next).isEqualTo(reference[i]);
                next = s.forward(new int[]{next})[0];
                s.commit(1);
            }
        }
    }

    @Test
    void onDeviceSelectionMatchesTheReferenceOnTheSameLogits() {
        int[] prompt = Stories260K.greedyCases().get(2).promptIds();
        int[] block = {prompt[0], 400, 23, 99, 400, 17};
        int vocab = model.config().vocabSize();
        for (long seed = 0; seed < 30; seed++) {
            TokenSelector s = new TokenSelector(true, 0.5 + seed % 3 * 0.4, (int) (seed % 4) * 7,
                    seed % 2 == 0 ? 1.0 : 0.8, seed % 5 == 0 ? 0.05 : 0.0, seed % 3 == 0 ? 1.3 : 1.0,
                    seed % 4 == 1 ? 0.5 : 0.0, seed % 4 == 2 ? 0.3 : 0.0, seed, (int) (seed % 3), Set.of(2));
            Logits logits;
            try (DecodingSession session = model.newSession(256)) {
                session.prefill(prompt);
                logits = session.forwardLogits(block);
            }
            int[] device = chainAfter(prompt, block, s);
            int[] seq = Arrays.copyOf(prompt, prompt.length + block.length);
            System.arraycopy(block, 0, seq, prompt.length, block.length);
            float[] row = new float[vocab];
            for (int t = 0; t < block.length; t++) {
                for (int v = 0; v < vocab; v++) {
                    row[v] = logits.get(t, v);
                }
                int expected = s.select(row, 0, vocab, seq, prompt.length + t + 1, prompt.length);
                assertThat(device[t]).as("seed %d row %d: %s", seed, t, s).isEqualTo(expected);
            }
        }
    }

    @Test
    void commitsOfATreeGoThroughCommitPath() {
        try (DecodingSession s = model.newSession(64)) {
            int root = s.prefill(new int[]{1, 2, 3});
            s.forward(DraftTree.of(new int[]{root, 4, 5}, new int[]{-1, 0, 0}));
            assertThatThrownBy(() -> s.commit(2)).hasMessageContaining("commitPath");
            assertThatThrownBy(() -> s.commitPath(3)).hasMessageContaining("not in the last tree");
            s.commit(0);
            assertThat(s.position()).isEqualTo(3);
        }
    }
}
