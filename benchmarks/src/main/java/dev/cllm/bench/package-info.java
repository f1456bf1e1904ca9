/**
 * JMH benchmarks: the cost of one forward pass against the number of new tokens (the economics of Jacobi decoding),
 * end-to-end generation with autoregressive against Jacobi decoding measured in the same run, and trajectory
 * collection throughput; and, not JMH, {@link dev.cllm.bench.PeerBenchmark}: our engine in every weight format
 * against llama.cpp (the de.kherud:llama binding) on the same weights. {@link dev.cllm.bench.BenchSuite} runs a
 * chosen subset programmatically and collects the results into {@link dev.cllm.bench.BenchResults};
 * {@link dev.cllm.bench.BenchJson}, {@link dev.cllm.bench.BenchMarkdown} and {@link dev.cllm.bench.LineChart} write
 * them as JSON, Markdown tables and PNG charts ({@link dev.cllm.bench.ResultsFolder});
 * {@link dev.cllm.bench.BlockSizeOracle} bounds what an adaptive block size could gain. This module is a library:
 * {@code ./cllm bench} and {@code ./cllm bench-oracle} (cllm-cli) parse the command line into a
 * {@link dev.cllm.bench.BenchOptions} and call it.
 */
package dev.cllm.bench;
