package dev.cllm.train;

/**
 * Linear warm-up from 0 to the peak, then cosine decay to 0: {@code transformers}'
 * {@code get_cosine_schedule_with_warmup}, which the CLLM authors use.
 */
record LearningRateSchedule(double peak, long warmupSteps, long totalSteps) {

    LearningRateSchedule {
        if (totalSteps < 1 || warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("warm-up " + warmupSteps + " of " + totalSteps + " steps");
        }
    }

    static LearningRateSchedule of(double peak, double warmupRatio, long totalSteps) {
        return new LearningRateSchedule(peak, (long) Math.ceil(warmupRatio * totalSteps), totalSteps);
    }

    /** The learning rate of the step that follows {@code completed} steps. */
    double at(long completed) {
        if (completed < warmupSteps) {
            return peak * completed / Math.max(1, warmupSteps);
        }
        double progress = (double) (completed - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
        return peak * Math.max(0.0, 0.5 * (1 + Math.cos(Math.PI * progress)));
    }
}
