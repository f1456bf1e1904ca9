/**
 * Greedy Jacobi decoding (Santilli et al. 2023; Kou et al. 2024) over {@link dev.cllm.api.DecodingSession}: guess a
 * block of n future tokens, refine all of them in one forward pass per iteration, accept the verified prefix, and
 * repeat until the block is a fixed point, which is exactly the greedy autoregressive output.
 *
 * <p>Entry point: {@link dev.cllm.jacobi.JacobiDecoder}. Block size 1 is the autoregressive baseline. Statistics,
 * streaming and trajectory recording are {@link dev.cllm.jacobi.JacobiListener}s on the one decoding loop.
 */
package dev.cllm.jacobi;
