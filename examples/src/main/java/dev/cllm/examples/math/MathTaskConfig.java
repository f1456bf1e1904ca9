package dev.cllm.examples.math;

/**
 * What {@link MathTask#generate} makes: the seed all its randomness comes from, and the split sizes.
 *
 * @param seed            the seed of the one {@link java.util.SplittableRandom}
 * @param trainExamples   training problems
 * @param heldOutExamples held-out problems
 */
public record MathTaskConfig(long seed, int trainExamples, int heldOutExamples) {
    public MathTaskConfig {
        if (trainExamples < 1) {
            throw new IllegalArgumentException("trainExamples must be >= 1, got " + trainExamples);
        }
        if (heldOutExamples < 1) {
            throw new IllegalArgumentException("heldOutExamples must be >= 1, got " + heldOutExamples);
        }
    }

    /** Seed 0, 16,000 training and 200 held-out problems. */
    public static MathTaskConfig defaults() {
        return new MathTaskConfig(0, 16_000, 200);
    }

    public MathTaskConfig withSeed(long seed) {
        return new MathTaskConfig(seed, trainExamples, heldOutExamples);
    }

    public MathTaskConfig withTrainExamples(int trainExamples) {
        return new MathTaskConfig(seed, trainExamples, heldOutExamples);
    }

    public MathTaskConfig withHeldOutExamples(int heldOutExamples) {
        return new MathTaskConfig(seed, trainExamples, heldOutExamples);
    }
}
