/**
 * The {@code ./cllm} command line ({@link dev.cllm.examples.Cli}) and numbered examples, one idea each, each
 * runnable with its own {@code main}.
 */
package dev.cllm.examples;
