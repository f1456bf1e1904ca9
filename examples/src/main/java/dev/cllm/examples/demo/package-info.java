/**
 * {@code ./cllm demo}: the base model against its CLLM on the held-out questions of the text-to-SQL task, with
 * autoregressive and Jacobi decoding ({@link dev.cllm.examples.demo.SqlDemo}), and a Jacobi trajectory drawn as
 * in the CLLM paper's figure ({@link dev.cllm.examples.demo.TrajectoryView}).
 */
package dev.cllm.examples.demo;
