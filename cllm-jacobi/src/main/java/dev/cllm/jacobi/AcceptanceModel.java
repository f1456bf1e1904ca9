package dev.cllm.jacobi;

/**
 * Estimates, per candidate source and depth, the probability that a guess is right given that its parent was: the
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

    private final double[][] trials = new double[CandidateSource.values().length][DEPTHS + 1];
    private final double[][] successes = new double[CandidateSource.values().length][DEPTHS + 1];

    /** The estimated probability that a guess of {@code source} at {@code depth} (>= 1) is right. */
    double p(CandidateSource source, int depth) {
        int s = source.ordinal();
        int d = Math.min(depth, DEPTHS);
        return (successes[s][d] + PRIOR_SUCCESSES) / (trials[s][d] + PRIOR_SUCCESSES + PRIOR_FAILURES);
    }

    void record(CandidateSource source, int depth, boolean verified) {
        int s = source.ordinal();
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
