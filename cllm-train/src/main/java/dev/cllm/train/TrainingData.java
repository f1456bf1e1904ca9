package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.data.TrajectoryRecord;

import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The data a trainer was given: trajectory records (consistency training) or token sequences with the index of the
 * first scored token of each (language-model training), and a description for people. Makes the run's
 * {@link Examples} and a fingerprint that a resume and the ranks of a job compare.
 */
final class TrainingData {
    private final List<TrajectoryRecord> trajectories;   // or null
    private final List<int[]> sequences;                 // or null
    private final int[] lossStarts;                      // with sequences
    private final String description;

    private TrainingData(List<TrajectoryRecord> trajectories, List<int[]> sequences, int[] lossStarts,
                         String description) {
        this.trajectories = trajectories;
        this.sequences = sequences;
        this.lossStarts = lossStarts;
        this.description = description;
    }

    static TrainingData ofTrajectories(List<TrajectoryRecord> records, String description) {
        return new TrainingData(List.copyOf(records), null, null, description);
    }

    /** @throws IllegalArgumentException when there is not one loss start per sequence */
    static TrainingData ofSequences(List<int[]> sequences, int[] lossStarts, String description) {
        if (lossStarts.length != sequences.size()) {
            throw new IllegalArgumentException(lossStarts.length + " loss starts for " + sequences.size()
                    + " sequences");
        }
        return new TrainingData(null, List.copyOf(sequences), lossStarts.clone(), description);
    }

    boolean isTrajectories() {
        return trajectories != null;
    }

    /**
     * The examples of a run with {@code config}; in a trajectory's fixed point, the positions after a token of
     * {@code stopIds} (the target model's EOS) are not trained on. Jacobi Forcing packs whole answers, whose positions
     * must stay below {@code maxPositions} (the model's {@code max_position_embeddings}), and the ground truths its AR
     * term reads inside {@code vocabSize}.
     */
    ExampleSource examples(TrainingConfig config, Set<Integer> stopIds, int maxPositions, int vocabSize) {
        if (trajectories == null) {
            return Examples.ofSequences(sequences, lossStarts, config);
        }
        return config.objective() == TrainingConfig.Objective.JACOBI_FORCING
                ? PackedAnswers.of(trajectories, config, stopIds, maxPositions, vocabSize)
                : Examples.ofTrajectories(trajectories, config, stopIds);
    }

    /** {@code DESCRIPTION, N examples, hash H}: H a 64-bit hash of every token the data holds. */
    String fingerprint(ExampleSource examples) {
        long h = 1125899906842597L;
        if (trajectories != null) {
            for (TrajectoryRecord r : trajectories) {
                h = 31 * h + r.trajectory().context().hashCode();
                for (TokenIds s : r.trajectory().states()) {
                    h = 31 * h + s.hashCode();
                }
                h = 31 * h + r.fullLabels().hashCode();
            }
        } else {
            for (int i = 0; i < sequences.size(); i++) {
                h = 31 * h + Arrays.hashCode(sequences.get(i));
                h = 31 * h + lossStarts[i];
            }
        }
        return description + ", " + examples.size() + " examples, hash " + Long.toHexString(h);
    }
}
