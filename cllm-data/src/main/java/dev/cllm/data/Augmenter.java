package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;

/**
 * Synthesizes stationary tokens, after the authors' {@code --use_aug} ({@code data/generate_trajectory.py}): in
 * intermediate states, some wrong tokens after the first wrong one are set to their fixed-point value.
 *
 * <p>For every intermediate state (not the first, not the fixed point) with w ≥ 2 wrong positions, a uniformly
 * random number k in [1, w - 1] of the w - 1 wrong positions after the first wrong one (chosen without replacement)
 * take their fixed-point token. The first wrong position stays wrong, so an augmented state has exactly the correct
 * prefix of its source state, and more correct tokens after it.
 *
 * <p>The augmented states go into a <b>separate record</b> marked {@link TrajectoryRecord#augmented()}, ordered by
 * correct prefix (stable, so in source order for a collected trajectory) and ending with the fixed point; the
 * original record is left as it was. The authors instead insert augmented states at the front of the state list,
 * which breaks the order in which the correct prefix never shrinks and mixes synthesized states into what a local
 * consistency loss reads as consecutive Jacobi steps.
 *
 * <p>The authors' code differs in two more ways that we do not copy: it skips the second and the second-to-last
 * state too, and a bug makes it correct one random wrong position (possibly the first) rather than k.
 */
public final class Augmenter {

    private Augmenter() {
    }

    /**
     * The augmented companion of {@code source}, or empty when no intermediate state has two wrong positions.
     *
     * @param random the stream of choices; the same stream gives the same result
     */
    public static Optional<TrajectoryRecord> augment(TrajectoryRecord source, SplittableRandom random) {
        Trajectory t = source.trajectory();
        TokenIds fixed = t.fixedPoint();
        List<TokenIds> states = t.states();
        List<TokenIds> augmented = new ArrayList<>();
        for (int j = 1; j < states.size() - 1; j++) {
            int[] state = states.get(j).toArray();
            int[] wrong = new int[state.length];
            int w = 0;
            for (int i = 0; i < state.length; i++) {
                if (state[i] != fixed.get(i)) {
                    wrong[w++] = i;
                }
            }
            if (w < 2) {
                continue;
            }
            int k = 1 + random.nextInt(w - 1);
            // partial Fisher-Yates over wrong[1..w): the first k picks, without replacement
            for (int c = 0; c < k; c++) {
                int pick = 1 + c + random.nextInt(w - 1 - c);
                int position = wrong[pick];
                wrong[pick] = wrong[1 + c];
                wrong[1 + c] = position;
                state[position] = fixed.get(position);
            }
            augmented.add(TokenIds.of(state));
        }
        if (augmented.isEmpty()) {
            return Optional.empty();
        }
        augmented.sort(Comparator.comparingInt(t::correctPrefix));
        augmented.add(fixed);
        Trajectory synthetic = new Trajectory(t.promptIndex(), t.block(), t.context(), augmented, t.answer());
        return Optional.of(new TrajectoryRecord(synthetic, source.promptLength(), source.labels(),
                source.completeTeacherOutput(), true));
    }

    /** The stream for one prompt: depends only on the seed and the prompt index, so shards and resumptions agree. */
    static SplittableRandom forPrompt(long seed, long promptIndex) {
        return new SplittableRandom(mix(seed ^ mix(promptIndex + 0x9E3779B97F4A7C15L)));
    }

    /** Stafford's mix13, the finalizer of SplittableRandom. */
    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
