package dev.cllm.train;

/**
 * One example of a run as a micro-batch holds it: a CLLM pair of passes ({@link Example}) or a Jacobi Forcing packed
 * sequence ({@link PackedSequence}). The counts let a rank divide its share of each loss term by the positions of the
 * whole global micro-batch ({@link GlobalBatches}).
 */
sealed interface TrainingExample permits Example, PackedSequence {

    /** Positions the consistency term scores. */
    long consistencyPositions();

    /** Positions the AR term scores. */
    long arPositions();

    /** Input tokens of its forward passes (what a step's tokens/s counts). */
    long inputTokens();
}
