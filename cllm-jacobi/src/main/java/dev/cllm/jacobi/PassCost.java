package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;

import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The measured cost of one forward pass against the number of tokens it runs, t(S), on one model and machine: what
 * {@link LookaheadDecoder} weighs the expected accepted tokens of each candidate against. Between measured sizes it
 * interpolates linearly, beyond the largest it extrapolates with the last slope. Immutable.
 */
public final class PassCost {
    /** The sizes {@link #calibrate} measures. */
    static final int[] CALIBRATION_SIZES = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};
    static final int CALIBRATION_ROUNDS = 9;

    private final int[] sizes;     // increasing, starting at 1
    private final double[] nanos;  // non-decreasing

    private PassCost(int[] sizes, double[] nanos) {
        this.sizes = sizes;
        this.nanos = nanos;
    }

    /**
     * A cost curve from measured (size, nanoseconds) points; it must include size 1. Values are made non-decreasing
     * (a pass over more tokens never costs less: a dip is measurement noise).
     *
     * @throws IllegalArgumentException if size 1 is missing, or a size or time is not positive
     */
    public static PassCost of(Map<Integer, Double> nanosBySize) {
        TreeMap<Integer, Double> sorted = new TreeMap<>(nanosBySize);
        if (!sorted.containsKey(1)) {
            throw new IllegalArgumentException("a pass cost curve needs t(1), got sizes " + sorted.keySet());
        }
        int[] s = new int[sorted.size()];
        double[] t = new double[sorted.size()];
        int i = 0;
        for (Map.Entry<Integer, Double> e : sorted.entrySet()) {
            if (e.getKey() < 1 || !(e.getValue() > 0)) {
                throw new IllegalArgumentException("pass cost: size " + e.getKey() + " and time " + e.getValue()
                        + " must be positive");
            }
            s[i] = e.getKey();
            t[i] = i == 0 ? e.getValue() : Math.max(e.getValue(), t[i - 1]);
            i++;
        }
        return new PassCost(s, t);
    }

    /** t(S) = fixed + perToken * S: for tests and for models not yet measured. */
    public static PassCost linear(double fixedNanos, double perTokenNanos) {
        return of(Map.of(1, fixedNanos + perTokenNanos, 64, fixedNanos + 64 * perTokenNanos));
    }

    /**
     * Measures t(S) on {@code session}'s model at its current position: a warm-up, then rounds that each time one pass
     * per calibration size up to {@code maxSize} (and the remaining capacity), and per size the fastest of the rounds:
     * the pass's own cost, which load elsewhere on the machine only ever adds to (the minimum is far steadier than a
     * median on a busy machine). Nothing is committed, so the session is left as it was.
     *
     * @param root a token to fill the trees with (any id in the vocabulary)
     */
    public static PassCost calibrate(DecodingSession session, int root, int maxSize) {
        int limit = Math.min(maxSize, session.capacity() - session.position());
        if (limit < 1) {
            throw new IllegalArgumentException("no room to calibrate at position " + session.position()
                    + " of a session of " + session.capacity());
        }
        int count = 0;
        while (count < CALIBRATION_SIZES.length && CALIBRATION_SIZES[count] <= limit) {
            count++;
        }
        DraftTree[] trees = new DraftTree[count];
        long[][] samples = new long[count][CALIBRATION_ROUNDS];
        for (int i = 0; i < count; i++) {
            trees[i] = tree(root, CALIBRATION_SIZES[i]);
            time(session, trees[i]);                      // warm-up
        }
        for (int r = 0; r < CALIBRATION_ROUNDS; r++) {
            for (int i = 0; i < count; i++) {
                samples[i][r] = time(session, trees[i]);
            }
        }
        Map<Integer, Double> measured = new TreeMap<>();
        for (int i = 0; i < count; i++) {
            Arrays.sort(samples[i]);
            measured.put(CALIBRATION_SIZES[i], (double) Math.max(1, samples[i][0]));
        }
        return of(measured);
    }

    /** A tree of {@code size} nodes shaped like the ones the decoder runs: a chain with one side branch. */
    private static DraftTree tree(int root, int size) {
        int[] tokens = new int[size];
        int[] parents = new int[size];
        Arrays.fill(tokens, root);
        int chain = Math.max(1, (size + 1) / 2);
        for (int i = 0; i < size; i++) {
            parents[i] = i == 0 ? -1 : i < chain ? i - 1 : i == chain ? 0 : i - 1;
        }
        return DraftTree.of(tokens, parents);
    }

    private static long time(DecodingSession session, DraftTree tree) {
        long start = System.nanoTime();
        session.forward(tree);
        long elapsed = System.nanoTime() - start;
        session.commit(0);
        return elapsed;
    }

    /** t(S) in nanoseconds. */
    public double nanos(int size) {
        if (size <= sizes[0]) {
            return nanos[0];
        }
        for (int i = 1; i < sizes.length; i++) {
            if (size <= sizes[i]) {
                double f = (double) (size - sizes[i - 1]) / (sizes[i] - sizes[i - 1]);
                return nanos[i - 1] + f * (nanos[i] - nanos[i - 1]);
            }
        }
        int n = sizes.length;
        double slope = n == 1 ? nanos[0] : (nanos[n - 1] - nanos[n - 2]) / (sizes[n - 1] - sizes[n - 2]);
        return nanos[n - 1] + slope * (size - sizes[n - 1]);
    }

    /** t(S) / t(1). */
    public double ratio(int size) {
        return nanos(size) / nanos[0];
    }

    /** The largest size measured. */
    public int largestMeasured() {
        return sizes[sizes.length - 1];
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("PassCost[t(1)=");
        b.append(String.format(Locale.ROOT, "%.3f ms", nanos[0] / 1e6));
        for (int i = 1; i < sizes.length; i++) {
            b.append(String.format(Locale.ROOT, ", %d: %.2fx", sizes[i], nanos[i] / nanos[0]));
        }
        return b.append(']').toString();
    }
}
