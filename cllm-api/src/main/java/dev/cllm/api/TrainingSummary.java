package dev.cllm.api;

/**
 * What a training run did.
 *
 * @param steps            optimizer steps taken in all (resumed runs included)
 * @param finalLoss        the total loss of the last step
 * @param consistencyLoss  the consistency term of the last step (0 for language-model training)
 * @param arLoss           the AR term of the last step (unweighted)
 * @param examples         examples seen in this run
 * @param skipped          examples skipped as longer than the maximum sequence length
 * @param resumedFromStep  the step the run resumed from (0 for a fresh run)
 * @param elapsedMillis    wall time of this run
 * @param output           the checkpoint directory
 */
public record TrainingSummary(long steps, double finalLoss, double consistencyLoss, double arLoss, long examples,
                              long skipped, long resumedFromStep, long elapsedMillis, String output) {
}
