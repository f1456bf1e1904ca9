package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/** Augmented states keep their source's correct prefix, are ordered, end at the fixed point, and are seeded. */
class AugmenterTest {

    /** A monotone trajectory like a Jacobi one: each state fixes a longer prefix; other tokens random. */
    @Provide
    Arbitrary<TrajectoryRecord> trajectories() {
        return Arbitraries.longs().map(seed -> {
            Random r = new Random(seed);
            int n = 2 + r.nextInt(15);
            int[] fixed = r.ints(n, 0, 50).toArray();
            List<TokenIds> states = new ArrayList<>();
            int prefix = 1;
            while (prefix < n) {
                int[] s = fixed.clone();
                for (int i = prefix; i < n; i++) {
                    if (i == prefix || r.nextInt(3) > 0) {
                        s[i] = (fixed[i] + 1 + r.nextInt(5)) % 50; // wrong
                    }
                }
                states.add(TokenIds.of(s));
                prefix += 1 + r.nextInt(3);
            }
            states.add(TokenIds.of(fixed));
            Trajectory t = new Trajectory(4, 2, TokenIds.of(1, 2, 3), states, TokenIds.of(9));
            return TrajectoryRecord.of(t, 2);
        });
    }

    @Property(tries = 500)
    void augmentedStatesKeepTheirCorrectPrefixAndStayOrdered(@ForAll("trajectories") TrajectoryRecord source,
                                                             @ForAll long seed) {
        Trajectory t = source.trajectory();
        Optional<TrajectoryRecord> result = Augmenter.augment(source, new SplittableRandom(seed));
        List<TokenIds> eligible = new ArrayList<>();
        for (int j = 1; j < t.states().size() - 1; j++) {
            if (wrong(t, t.states().get(j)) >= 2) {
                eligible.add(t.states().get(j));
            }
        }
        assertThat(result.isPresent()).isEqualTo(!eligible.isEmpty());
        if (result.isEmpty()) {
            return;
        }
        TrajectoryRecord aug = result.get();
        Trajectory a = aug.trajectory();
        assertThat(aug.augmented()).isTrue();
        assertThat(a.promptIndex()).isEqualTo(t.promptIndex());
        assertThat(a.block()).isEqualTo(t.block());
        assertThat(a.context()).isEqualTo(t.context());
        assertThat(a.answer()).isEqualTo(t.answer());
        assertThat(aug.promptLength()).isEqualTo(source.promptLength());
        assertThat(a.fixedPoint()).isEqualTo(t.fixedPoint());
        assertThat(a.states()).hasSize(eligible.size() + 1);
        for (int i = 0; i < eligible.size(); i++) {
            TokenIds src = eligible.get(i);
            TokenIds out = a.states().get(i);
            assertThat(t.correctPrefix(out)).as("correct prefix").isEqualTo(t.correctPrefix(src));
            int corrected = wrong(t, src) - wrong(t, out);
            assertThat(corrected).isBetween(1, wrong(t, src) - 1);
            for (int k = 0; k < out.size(); k++) {
                // only wrong tokens change, and only to the fixed point's
                if (out.get(k) != src.get(k)) {
                    assertThat(out.get(k)).isEqualTo(t.fixedPoint().get(k));
                }
            }
        }
        for (int i = 0; i + 1 < a.states().size(); i++) {
            assertThat(a.correctPrefix(a.states().get(i + 1)))
                    .isGreaterThanOrEqualTo(a.correctPrefix(a.states().get(i)));
        }
        assertThat(Augmenter.augment(source, new SplittableRandom(seed))).isEqualTo(result);
    }

    private static int wrong(Trajectory t, TokenIds state) {
        int w = 0;
        for (int i = 0; i < state.size(); i++) {
            w += state.get(i) != t.fixedPoint().get(i) ? 1 : 0;
        }
        return w;
    }

    @Test
    void firstAndLastStatesAndStatesWithOneWrongTokenAreLeftAlone() {
        TokenIds fixed = TokenIds.of(1, 2, 3, 4);
        Trajectory t = new Trajectory(0, 0, TokenIds.of(9), List.of(TokenIds.of(1, 0, 0, 0), TokenIds.of(1, 2, 3, 0),
                fixed), TokenIds.empty());
        assertThat(Augmenter.augment(TrajectoryRecord.of(t, 1), new SplittableRandom(1))).isEmpty();
        assertThat(Augmenter.augment(TrajectoryRecord.of(new Trajectory(0, 0, TokenIds.of(9), List.of(fixed),
                TokenIds.empty()), 1), new SplittableRandom(1))).isEmpty();
    }

    @Test
    void twoWrongTokensGiveExactlyOneCorrection() {
        TokenIds fixed = TokenIds.of(1, 2, 3, 4);
        Trajectory t = new Trajectory(0, 0, TokenIds.of(9), List.of(TokenIds.of(1, 0, 0, 0), TokenIds.of(1, 2, 0, 0),
                fixed), TokenIds.empty());
        TrajectoryRecord aug = Augmenter.augment(TrajectoryRecord.of(t, 1), new SplittableRandom(5)).orElseThrow();
        assertThat(aug.trajectory().states()).containsExactly(TokenIds.of(1, 2, 0, 4), fixed);
    }

    @Test
    void perPromptStreamsDependOnSeedAndIndexOnly() {
        assertThat(Augmenter.forPrompt(3, 7).nextLong()).isEqualTo(Augmenter.forPrompt(3, 7).nextLong());
        assertThat(Augmenter.forPrompt(3, 7).nextLong()).isNotEqualTo(Augmenter.forPrompt(3, 8).nextLong());
        assertThat(Augmenter.forPrompt(3, 7).nextLong()).isNotEqualTo(Augmenter.forPrompt(4, 7).nextLong());
    }
}
