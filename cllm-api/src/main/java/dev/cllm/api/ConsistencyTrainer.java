package dev.cllm.api;

/**
 * Turns a target model into a CLLM: trains it on its own Jacobi trajectories with a consistency loss (map any state
 * to the fixed point) plus an AR loss (keep the output the same), and saves Hugging Face checkpoints that
 * {@link ConsistencyModel} implementations load.
 *
 * <p>A trainer is configured once (model, data, {@link TrainingConfig}, output) and {@link #train() run}; running it
 * again with the same output resumes from the last checkpoint.
 */
public interface ConsistencyTrainer {

    /**
     * Trains until the configured steps or epochs are done, saving checkpoints along the way.
     *
     * @throws IllegalStateException if a loss or gradient becomes non-finite (the last checkpoint is kept)
     */
    TrainingSummary train();
}
