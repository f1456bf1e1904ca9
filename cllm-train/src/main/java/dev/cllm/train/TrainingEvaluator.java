package dev.cllm.train;

import dev.cllm.api.ConsistencyModel;

import java.util.Map;

/**
 * A hook the trainer calls at the start, every {@code evalEvery} steps and at the end, with the weights being trained
 * (a borrowed model: decode with it, do not close it). The returned metrics go into the metrics file and the log.
 */
@FunctionalInterface
public interface TrainingEvaluator {

    /** Metrics of the model after {@code step} optimizer steps. */
    Map<String, Double> evaluate(ConsistencyModel model, long step);
}
