/**
 * A generation service over one model for many concurrent callers: {@link dev.cllm.serve.GenerationService} runs each
 * request's decoder (Jacobi, autoregressive, lookahead: any {@link dev.cllm.api.Decoder}) on a worker thread against
 * a session whose passes a scheduler gathers into one batched forward per step (continuous batching), with a bounded
 * queue, timeouts, cancellation, a KV memory cap and orderly shutdown.
 */
package dev.cllm.serve;
