package dev.cllm.serve;

/**
 * A snapshot of a {@link GenerationService}'s state and counters since it started.
 *
 * @param queued        requests waiting for admission now
 * @param active        requests decoding now
 * @param kvBytesInUse  bytes of KV cache reserved by the active requests now
 * @param steps         batched forward passes run
 * @param passes        session passes run in them (a step runs one per request that was ready)
 * @param tokens        tokens those passes ran (prompts, blocks and tree nodes)
 * @param completed     requests that ended with a result (also those their listener cancelled)
 * @param failed        requests that ended with an error other than the three below
 * @param cancelled     requests cancelled through their future
 * @param timedOut      requests that timed out
 * @param rejected      submissions rejected at once ({@link RequestRejectedException})
 */
public record ServiceStats(int queued, int active, long kvBytesInUse, long steps, long passes, long tokens,
                           long completed, long failed, long cancelled, long timedOut, long rejected) {

    /** Mean session passes per step: how many requests a batched pass served. */
    public double meanBatchSize() {
        return steps == 0 ? 0 : (double) passes / steps;
    }
}
