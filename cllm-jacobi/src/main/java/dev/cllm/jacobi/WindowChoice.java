package dev.cllm.jacobi;

import java.util.SplittableRandom;

/**
 * Chooses how many tokens of the Jacobi window the passes run, by what each choice has returned: accepted tokens per
 * unit of pass time, measured on earlier passes with the same model (Thompson sampling over a few window lengths).
 *
 * <p>Why not per node, as the other candidates are chosen: running a window token pays twice, once if it is
 * accepted now and again because its prediction refines the window for the next pass (the Jacobi update). A guess
 * that is unlikely to be right now is what makes the next guess right; per-node probabilities see only the first
 * part and would starve a consistency-trained model of exactly the refinement it was trained to exploit. And a
 * window's return depends on how it was run in the passes before, so a length is kept for an epoch of
 * {@value #EPOCH} passes and judged by the epoch's rate as a whole, never by a single pass.
 *
 * <p>Thread-safe: concurrent generations with one model share one choice.
 */
final class WindowChoice {
    /** Passes a chosen length is kept for before it is judged. */
    static final int EPOCH = 8;
    /** Epochs remembered per length: older ones are scaled down beyond this many. */
    static final double MEMORY = 50;
    /** The smallest variance an epoch rate is taken to have (rates are in units of an autoregressive pass's). */
    static final double VARIANCE_FLOOR = 0.0025;

    private final int[] lengths;        // guesses after the root; 0 = no window
    private final double[] epochs;
    private final double[] sum;
    private final double[] squares;
    private int current = -1;
    private int epochPasses;
    private double epochAccepted;
    private double epochCost;

    /**
     * The lengths tried for a window of {@code blocks} blocks of {@code window} tokens: none, about a quarter of a
     * block, half a block, one block, and each further block (Jacobi Forcing's multi-block decoding, judged by its
     * rate like everything else).
     */
    WindowChoice(int window, int blocks) {
        java.util.stream.IntStream.Builder b = java.util.stream.IntStream.builder();
        int guesses = Math.max(1, window - 1);
        b.add(0).add(guesses / 4).add(guesses / 2).add(guesses);
        for (int k = 2; k <= blocks; k++) {
            b.add(k * window - 1);
        }
        this.lengths = b.build().distinct().sorted().toArray();
        this.epochs = new double[lengths.length];
        this.sum = new double[lengths.length];
        this.squares = new double[lengths.length];
    }

    /** The window length for the next pass, at most {@code maxLength}. */
    synchronized int choose(int maxLength, SplittableRandom rng) {
        if (current < 0 || epochPasses >= EPOCH) {
            current = pick(rng);
            epochPasses = 0;
            epochAccepted = 0;
            epochCost = 0;
        }
        return Math.min(maxLength, lengths[current]);
    }

    private int pick(SplittableRandom rng) {
        for (int a = 0; a < lengths.length; a++) {
            if (epochs[a] < 1) {
                return a;                                 // every length once, shortest first
            }
        }
        int best = 0;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int a = 0; a < lengths.length; a++) {
            double mean = sum[a] / epochs[a];
            double variance = Math.max(VARIANCE_FLOOR, squares[a] / epochs[a] - mean * mean);
            double score = mean + Math.sqrt(variance / epochs[a]) * gaussian(rng);
            if (score > bestScore) {
                best = a;
                bestScore = score;
            }
        }
        return best;
    }

    /** Records a pass: it accepted {@code accepted} tokens at a relative cost of t(S)/t(1). */
    synchronized void record(int accepted, double relativeCost) {
        if (current < 0) {
            return;
        }
        epochPasses++;
        epochAccepted += accepted;
        epochCost += relativeCost;
        if (epochPasses == EPOCH) {
            double rate = epochAccepted / epochCost;
            epochs[current]++;
            sum[current] += rate;
            squares[current] += rate * rate;
            if (epochs[current] > MEMORY) {
                double f = MEMORY / epochs[current];
                epochs[current] *= f;
                sum[current] *= f;
                squares[current] *= f;
            }
        }
    }

    /** The lengths tried. */
    int[] lengths() {
        return lengths.clone();
    }

    /** The mean epoch rate of each length so far (NaN where untried), for statistics and tests. */
    synchronized double[] rates() {
        double[] out = new double[lengths.length];
        for (int a = 0; a < out.length; a++) {
            out[a] = epochs[a] < 1 ? Double.NaN : sum[a] / epochs[a];
        }
        return out;
    }

    private static double gaussian(SplittableRandom rng) {
        double u1 = 1.0 - rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
