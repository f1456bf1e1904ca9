/**
 * Consistency training on libtorch (Kou et al. 2024, section 3.2): the trainer behind
 * {@link dev.cllm.api.ConsistencyTrainer}, its losses, optimizer and checkpoints, data-parallel training and
 * trajectory collection over c10d ({@link dev.cllm.train.Collectives}, {@link dev.cllm.train.Rendezvous}), and
 * {@link dev.cllm.train.HfExport}, which writes a model as a Hugging Face checkpoint. The training data (trajectory
 * datasets) lives in {@code dev.cllm.data}, which needs no tensors.
 *
 * <p>A run, top-down: {@link dev.cllm.train.TorchConsistencyTrainer} (orchestration and the public builder) →
 * {@code RankAgreement} and {@code TrainingCheckpoints} (what to train, from which step) → {@code TrainingLoop}
 * (optimizer steps) → {@code GlobalBatches}, {@code Batch}, {@code ConsistencyObjective} and {@code Losses} (the loss
 * of a micro-batch; for Jacobi Forcing {@code PackedAnswers}, {@code ProgressiveNoise}, {@code PackedSequence} and
 * {@code JacobiForcingObjective}) → {@code GradientSync} and {@code AdamW} (the update) → {@code TrainingMetrics}
 * (what it reports).
 */
package dev.cllm.train;
