/**
 * Consistency training on libtorch (Kou et al. 2024, section 3.2): the trainer behind
 * {@link dev.cllm.api.ConsistencyTrainer}, its losses, optimizer and checkpoints, data-parallel training and
 * trajectory collection over c10d ({@link dev.cllm.train.Collectives}, {@link dev.cllm.train.Rendezvous}), and
 * {@link dev.cllm.train.HfExport}, which writes a model as a Hugging Face checkpoint. The training data (trajectory
 * datasets) lives in {@code dev.cllm.data}, which needs no tensors.
 */
package dev.cllm.train;
