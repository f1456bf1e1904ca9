package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig.NoiseSchedule;

import java.util.List;
import java.util.SplittableRandom;

/**
 * Jacobi Forcing's progressive noise schedule (arXiv 2512.14681, section 3.1, equation 7): which Jacobi state of a
 * block becomes its noisy copy in the packed sequence.
 *
 * <p>The noise of a state is the fraction of the block not yet converged, {@code (n - f) / n} with f the state's
 * correct prefix (the first offset where it differs from the fixed point; n when it is the fixed point). Block i of
 * an answer gets a target noise t_i from the levels {@code linspace(0, 1, w)} of a window of w blocks, and the state
 * whose noise is closest to t_i (the first state, the noisiest, on ties).
 *
 * <p>The levels are the authors' code's ({@code numpy.linspace(0, 1, w)}, which includes 1), not the paper's
 * {@code [0, 1/w, ..., (w-1)/w]}: the released checkpoints were trained with them. Both start at 0 and rise by
 * equal steps; the code's reach the noisiest state of every window's last block. Stateless.
 */
final class ProgressiveNoise {
    private ProgressiveNoise() {
    }

    /**
     * The noise levels of a window: {@code numpy.linspace(0, 1, window)}, computed as numpy does (level k is
     * {@code k · (1 / (w - 1))}, the last exactly 1), so that ties break on the same states; {@code [0]} for a window
     * of 1.
     */
    static double[] levels(int window) {
        if (window < 1) {
            throw new IllegalArgumentException("noise window must be >= 1, got " + window);
        }
        double[] levels = new double[window];
        if (window == 1) {
            return levels;
        }
        double step = 1.0 / (window - 1);
        for (int k = 0; k < window - 1; k++) {
            levels[k] = k * step;
        }
        levels[window - 1] = 1.0;
        return levels;
    }

    /**
     * The target noise of block {@code block} (its index in its prompt's generation).
     *
     * @param randomKey seeds the draw of {@link NoiseSchedule#RANDOM} (unused by the other schedules)
     */
    static double target(NoiseSchedule schedule, int window, int block, long randomKey) {
        double[] levels = levels(window);
        int k = switch (schedule) {
            case LINEAR -> block % window;
            case REVERSE -> window - 1 - block % window;
            case RANDOM -> new SplittableRandom(randomKey).nextInt(window);
        };
        return levels[k];
    }

    /** The fraction of {@code state} not yet converged to {@code fixedPoint}: {@code (n - correct prefix) / n}. */
    static double noise(TokenIds state, TokenIds fixedPoint) {
        int n = fixedPoint.size();
        int f = 0;
        while (f < n && state.get(f) == fixedPoint.get(f)) {
            f++;
        }
        return (double) (n - f) / n;
    }

    /**
     * The index of the state whose noise is closest to {@code target}, the first on ties. The states run from the
     * initial guess to the fixed point, which comes last.
     */
    static int pick(List<TokenIds> states, double target) {
        TokenIds fixedPoint = states.get(states.size() - 1);
        int best = 0;
        double bestDistance = Double.POSITIVE_INFINITY;
        for (int k = 0; k < states.size(); k++) {
            double d = Math.abs(noise(states.get(k), fixedPoint) - target);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return best;
    }
}
