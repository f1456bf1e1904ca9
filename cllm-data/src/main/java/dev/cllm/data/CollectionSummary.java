package dev.cllm.data;

/**
 * What a {@link CollectionJob} has collected: counts over the whole data file of the shard (prompts done in earlier,
 * interrupted runs included), time for this run only.
 *
 * @param prompts              prompts done, skipped ones included
 * @param promptsTotal         prompts in the shard (after the limit)
 * @param records              records written (augmented ones included)
 * @param skipped              prompts skipped because prompt + one block does not fit the model's context
 * @param droppedTokenRun      trajectories dropped by {@link RepetitionFilter.Verdict#TOKEN_RUN}
 * @param droppedRepeatedNgram trajectories dropped by {@link RepetitionFilter.Verdict#REPEATED_NGRAM}
 * @param augmented            augmented records written (see {@link Augmenter})
 * @param tokens               tokens generated
 * @param passes               forward passes the generations took
 * @param resumedPrompts       prompts that earlier runs had done when this run started
 * @param truncatedBytes       bytes of an interrupted prompt cut off the data file when this run started
 * @param elapsedMillis        wall time of this run
 * @param complete             whether every prompt of the shard is done (false after an interrupt)
 */
public record CollectionSummary(long prompts, long promptsTotal, long records, long skipped, long droppedTokenRun,
                                long droppedRepeatedNgram, long augmented, long tokens, long passes,
                                long resumedPrompts, long truncatedBytes, long elapsedMillis, boolean complete) {

    public CollectionSummary {
        if (prompts < 0 || prompts > promptsTotal || records < 0 || skipped < 0 || skipped > prompts
                || droppedTokenRun < 0 || droppedRepeatedNgram < 0 || augmented < 0 || tokens < 0 || passes < 0
                || resumedPrompts < 0 || resumedPrompts > prompts || truncatedBytes < 0 || elapsedMillis < 0) {
            throw new IllegalArgumentException("inconsistent counts: " + this);
        }
    }

    /** Trajectories dropped as repetitive, for either reason. */
    public long droppedRepetitive() {
        return droppedTokenRun + droppedRepeatedNgram;
    }

    /** Generated tokens per forward pass over the whole dataset: how much Jacobi decoding gained while collecting. */
    public double tokensPerPass() {
        return passes == 0 ? 0.0 : (double) tokens / passes;
    }
}
