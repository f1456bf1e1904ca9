package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig.NoiseSchedule;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The progressive noise schedule on synthetic trajectories. */
class ProgressiveNoiseTest {

    /** A synthetic trajectory of block size n: correct prefixes that never shrink, ending at the fixed point. */
    private static List<TokenIds> trajectory(SplittableRandom rng, int n) {
        int[] fixed = rng.ints(n, 10, 20).toArray();
        List<TokenIds> states = new ArrayList<>();
        int prefix = 1;   // the first token of every state is certain
        while (prefix < n) {
            int[] s = fixed.clone();
            for (int r = prefix; r < n; r++) {
                s[r] = rng.nextInt(10) < 3 ? fixed[r] : 30 + rng.nextInt(5);   // guesses, some stationary-correct
            }
            s[prefix] = 99;   // wrong at the prefix's end
            states.add(TokenIds.of(s));
            prefix += 1 + rng.nextInt(3);
            if (rng.nextInt(4) == 0) {
                states.add(TokenIds.of(s));   // a repeated noise level: ties
            }
        }
        states.add(TokenIds.of(fixed));
        return states;
    }

    @Test
    void levelsAreNumpysLinspaceFromZeroToOne() {
        assertThat(ProgressiveNoise.levels(1)).containsExactly(0.0);
        assertThat(ProgressiveNoise.levels(2)).containsExactly(0.0, 1.0);
        assertThat(ProgressiveNoise.levels(5)).containsExactly(0.0, 0.25, 0.5, 0.75, 1.0);
        double[] sixteen = ProgressiveNoise.levels(16);
        assertThat(sixteen[1]).isEqualTo(1.0 / 15);
        assertThat(sixteen[15]).isEqualTo(1.0);
    }

    @Test
    void theTargetCyclesThroughTheWindowUpwardsDownwardsOrAtRandom() {
        int w = 4;
        double[] linear = new double[10];
        double[] reverse = new double[10];
        for (int i = 0; i < 10; i++) {
            linear[i] = ProgressiveNoise.target(NoiseSchedule.LINEAR, w, i, 0);
            reverse[i] = ProgressiveNoise.target(NoiseSchedule.REVERSE, w, i, 0);
        }
        double third = 1.0 / 3;
        assertThat(linear).containsExactly(new double[]{0, third, 2 * third, 1, 0, third, 2 * third, 1, 0, third},
                within(1e-15));
        assertThat(reverse).containsExactly(new double[]{1, 2 * third, third, 0, 1, 2 * third, third, 0, 1, 2 * third},
                within(1e-15));
        assertThat(ProgressiveNoise.target(NoiseSchedule.LINEAR, 1, 7, 0)).isZero();

        Set<Double> drawn = new HashSet<>();
        List<Double> levels = new ArrayList<>();
        for (double l : ProgressiveNoise.levels(w)) {
            levels.add(l);
        }
        for (long key = 0; key < 200; key++) {
            double t = ProgressiveNoise.target(NoiseSchedule.RANDOM, w, 3, key);
            assertThat(levels).contains(t);
            assertThat(ProgressiveNoise.target(NoiseSchedule.RANDOM, w, 3, key)).as("seeded").isEqualTo(t);
            drawn.add(t);
        }
        assertThat(drawn).as("every level drawn").hasSize(w);
    }

    @Property(tries = 300)
    void thePickedStateHasTheNoiseClosestToTheTargetTheFirstOnTies(@ForAll long seed,
                                                                   @ForAll @IntRange(min = 1, max = 12) int n,
                                                                   @ForAll @IntRange(min = 1, max = 20) int window,
                                                                   @ForAll @IntRange(min = 0, max = 40) int block) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<TokenIds> states = trajectory(rng, n);
        TokenIds fixed = states.get(states.size() - 1);
        double target = ProgressiveNoise.target(NoiseSchedule.LINEAR, window, block, 0);
        int k = ProgressiveNoise.pick(states, target);
        double picked = Math.abs(ProgressiveNoise.noise(states.get(k), fixed) - target);
        for (int i = 0; i < states.size(); i++) {
            double d = Math.abs(ProgressiveNoise.noise(states.get(i), fixed) - target);
            if (i < k) {
                assertThat(d).as("state %s before the pick is farther", i).isGreaterThan(picked);
            } else {
                assertThat(d).as("state %s is not closer", i).isGreaterThanOrEqualTo(picked);
            }
        }
    }

    @Test
    void noiseIsTheUnconvergedFractionOfTheBlock() {
        TokenIds fixed = TokenIds.of(5, 6, 7, 8);
        assertThat(ProgressiveNoise.noise(TokenIds.of(5, 0, 7, 8), fixed)).isEqualTo(0.75);   // stationary 7, 8 count
        assertThat(ProgressiveNoise.noise(TokenIds.of(5, 6, 7, 0), fixed)).isEqualTo(0.25);
        assertThat(ProgressiveNoise.noise(fixed, fixed)).isZero();
        // states with noise 3/4, 3/4, 1/2, 0: the target 0 picks the fixed point, 1 the first (noisiest) state,
        // 5/8 (halfway between 3/4 and 1/2) the first of the tie
        List<TokenIds> states = List.of(TokenIds.of(5, 0, 0, 0), TokenIds.of(5, 1, 1, 1), TokenIds.of(5, 6, 1, 1),
                fixed);
        assertThat(ProgressiveNoise.pick(states, 0)).isEqualTo(3);
        assertThat(ProgressiveNoise.pick(states, 1)).isZero();
        assertThat(ProgressiveNoise.pick(states, 0.625)).isZero();
        assertThat(ProgressiveNoise.pick(states, 0.6)).isEqualTo(2);
    }
}
