package dev.cllm.jacobi;

/**
 * Estimates, per kind of candidate and depth, the probability that a guess is right given that its parent was: the
 * posterior mean of a Beta prior updated with the trials seen so far. A trial is a guess whose parent was verified
 * (so the guess was tested under the right prefix); a success is a guess that was verified too. Not thread-safe;
 * {@link #mergeFrom} folds one generation's counts into a longer-lived model.
 */
final class AcceptanceModel {
    /** Depths beyond this share the last estimate. */
    static final int DEPTHS = 32;
    /** Prior pseudo-counts: a first guess is taken to be right with probability 1 / (1 + 2). */
    static final double PRIOR_SUCCESSES = 1.0;
    static final double PRIOR_FAILURES = 2.0;

    /** Match lengths are told apart up to this many tokens. */
    static final int MATCHES = 6;
    /** Kinds of candidate that agree with the Jacobi window: a source and the length of the context suffix it matched
     *  (0 when it matched none). */
    static final int AGREEING = CandidateSource.values().length * MATCHES;
    /**
     * All kinds: each of the above once more for a guess that departs from the Jacobi window's guess at the same
     * place. Siblings exclude each other (one token is right), so where the window is usually right a guess that
     * differs from it is usually wrong, whatever its source's record elsewhere: it gets estimates of its own.
     */
    static final int KINDS = 2 * AGREEING;

    private final double[][] trials = new double[KINDS][DEPTHS + 1];
    private final double[][] successes = new double[KINDS][DEPTHS + 1];

    /** The kind of a candidate from {@code source} found by matching the last {@code matchLength} context tokens. */
    static int kind(CandidateSource source, int matchLength) {
        return source.ordinal() * MATCHES + Math.min(Math.max(matchLength, 0), MATCHES - 1);
    }

    /** The kind of the same candidate where it departs from the Jacobi window. */
    static int departing(int kind) {
        return kind < AGREEING ? kind + AGREEING : kind;
    }

    /** The estimated probability that a guess of {@code kind} at {@code depth} (>= 1) is right. */
    double p(int kind, int depth) {
        int d = Math.min(depth, DEPTHS);
        return (successes[kind][d] + PRIOR_SUCCESSES) / (trials[kind][d] + PRIOR_SUCCESSES + PRIOR_FAILURES);
    }

    /** Same as {@code p(kind(source, 0), depth)}. */
    double p(CandidateSource source, int depth) {
        return p(kind(source, 0), depth);
    }

    void record(CandidateSource source, int depth, boolean verified) {
        record(kind(source, 0), depth, verified);
    }

    void record(int kind, int depth, boolean verified) {
        int s = kind;
        int d = Math.min(depth, DEPTHS);
        trials[s][d]++;
        if (verified) {
            successes[s][d]++;
        }
    }

    /** A copy, to start a generation from what earlier ones learned. */
    AcceptanceModel copy() {
        AcceptanceModel c = new AcceptanceModel();
        c.mergeFrom(this, 1.0);
        return c;
    }

    /**
     * Adds {@code other}'s counts scaled by {@code weight}. Each (source, depth) keeps at most a thousand trials (old
     * and new scaled down together), so that what a model did long ago never outweighs what it does now.
     */
    void mergeFrom(AcceptanceModel other, double weight) {
        for (int s = 0; s < trials.length; s++) {
            for (int d = 0; d <= DEPTHS; d++) {
                trials[s][d] += weight * other.trials[s][d];
                successes[s][d] += weight * other.successes[s][d];
                double cap = 1000;
                if (trials[s][d] > cap) {
                    double f = cap / trials[s][d];
                    trials[s][d] *= f;
                    successes[s][d] *= f;
                }
            }
        }
    }
}
