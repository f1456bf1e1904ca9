package dev.cllm.train;

/**
 * Losses, counts and timings of one optimizer step: the losses are means over its micro-batches, and after the step's
 * first all-reduce, the losses and the token count are the whole job's.
 */
final class StepResult {
    double loss;
    double consistency;
    double ar;
    /** The anchor term (unweighted), when the objective has one ({@link #anchored}). */
    double anchor;
    boolean anchored;
    double gradNorm;
    /** Examples of the global micro-batches. */
    long examples;
    /** Input tokens of the forward passes (all ranks'). */
    long tokens;
    /** Time in the step's first collective, where the faster ranks wait for the slowest. */
    long waitNanos;
    /** Time in the gradient all-reduce. */
    long syncNanos;
    /** A stop was requested on some rank: save and stop after this step. */
    boolean interrupted;
    /** Why this rank's loss was not finite, or null. */
    String nonFinite;
}
