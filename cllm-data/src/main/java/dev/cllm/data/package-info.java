/**
 * Jacobi trajectory datasets, the training data of a CLLM (Kou et al. 2024, section 3.2): a target model's own
 * Jacobi trajectories, collected offline and read back for training.
 *
 * <p>{@link dev.cllm.data.CollectionJob} runs a {@link dev.cllm.api.TrajectoryCollector} over a
 * {@link dev.cllm.data.PromptFile} (sharded, resumable after a crash) and writes our JSON Lines format through
 * {@link dev.cllm.data.TrajectoryWriter}; {@link dev.cllm.data.TrajectoryReader} streams it back as
 * {@link dev.cllm.data.TrajectoryRecord}s. {@link dev.cllm.data.RepetitionFilter} cleans repetitive teacher output
 * and {@link dev.cllm.data.Augmenter} synthesizes stationary tokens, both after the authors' collection script;
 * {@link dev.cllm.data.AuthorsFormat} converts to and from the JSON files of hao-ai-lab/Consistency_LLM.
 */
package dev.cllm.data;
