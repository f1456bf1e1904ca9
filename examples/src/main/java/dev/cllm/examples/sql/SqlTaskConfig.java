package dev.cllm.examples.sql;

/**
 * What {@link SqlTask#generate} makes: the seed all its randomness comes from, and the split sizes.
 *
 * @param seed                the seed of the one {@link java.util.SplittableRandom}
 * @param trainExamples       training questions
 * @param heldOutExamples     held-out questions
 * @param examplesPerDatabase questions asked about each database (the last database of a split may get fewer)
 */
public record SqlTaskConfig(long seed, int trainExamples, int heldOutExamples, int examplesPerDatabase) {
    public SqlTaskConfig {
        if (trainExamples < 1) {
            throw new IllegalArgumentException("trainExamples must be >= 1, got " + trainExamples);
        }
        if (heldOutExamples < 1) {
            throw new IllegalArgumentException("heldOutExamples must be >= 1, got " + heldOutExamples);
        }
        if (examplesPerDatabase < 1 || examplesPerDatabase > 40) {
            throw new IllegalArgumentException("examplesPerDatabase must be in [1, 40], got " + examplesPerDatabase);
        }
    }

    /** Seed 0, 4,000 training and 200 held-out questions, 8 per database (500 + 25 databases). */
    public static SqlTaskConfig defaults() {
        return new SqlTaskConfig(0, 4000, 200, 8);
    }

    public SqlTaskConfig withSeed(long seed) {
        return new SqlTaskConfig(seed, trainExamples, heldOutExamples, examplesPerDatabase);
    }

    public SqlTaskConfig withTrainExamples(int trainExamples) {
        return new SqlTaskConfig(seed, trainExamples, heldOutExamples, examplesPerDatabase);
    }

    public SqlTaskConfig withHeldOutExamples(int heldOutExamples) {
        return new SqlTaskConfig(seed, trainExamples, heldOutExamples, examplesPerDatabase);
    }

    public SqlTaskConfig withExamplesPerDatabase(int examplesPerDatabase) {
        return new SqlTaskConfig(seed, trainExamples, heldOutExamples, examplesPerDatabase);
    }
}
