/**
 * JMH benchmarks: the cost of one forward pass against the number of new tokens (the economics of Jacobi decoding),
 * and end-to-end generation with autoregressive against Jacobi decoding, measured in the same run.
 * {@link dev.cllm.bench.BenchReport} runs them and prints Markdown tables with the machine and settings.
 */
package dev.cllm.bench;
