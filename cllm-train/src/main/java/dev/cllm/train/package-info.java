/**
 * Jacobi trajectory datasets, the training data of a CLLM (Kou et al. 2024, section 3.2): a target model's own
 * Jacobi trajectories, collected offline and read back for training.
 *
 * <p>{@link dev.cllm.train.CollectionJob} runs a {@link dev.cllm.api.TrajectoryCollector} over a
 * {@link dev.cllm.train.PromptFile} (sharded, resumable after a crash) and writes our JSON Lines format through
 * {@link dev.cllm.train.TrajectoryWriter}; {@link dev.cllm.train.TrajectoryReader} streams it back as
 * {@link dev.cllm.train.TrajectoryRecord}s. {@link dev.cllm.train.RepetitionFilter} cleans repetitive teacher output
 * and {@link dev.cllm.train.Augmenter} synthesizes stationary tokens, both after the authors' collection script;
 * {@link dev.cllm.train.AuthorsFormat} converts to and from the JSON files of hao-ai-lab/Consistency_LLM.
 */
package dev.cllm.train;
