package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.TrainingConfig;

import java.util.ArrayList;
import java.util.List;

/**
 * What a run is about to train: the data (a fingerprint), the configuration, the number of optimizer steps and the
 * architecture it starts from. The ranks of a job compare their plans before the first step ({@link RankAgreement});
 * a resume compares the plan with the one its checkpoint recorded ({@link TrainingCheckpoints}).
 *
 * @param data         {@link TrainingData#fingerprint}
 * @param config       the training configuration, compared field by field ({@link TrainingConfigJson})
 * @param totalSteps   optimizer steps of the whole run
 * @param architecture the starting model's configuration, as text
 */
record TrainingPlan(String data, TrainingConfig config, long totalSteps, String architecture) {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** {@code {"data", "config": {...}, "total_steps", "architecture"}}. */
    ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode().put("data", data);
        n.set("config", TrainingConfigJson.write(config));
        return n.put("total_steps", totalSteps).put("architecture", architecture);
    }

    /**
     * Where two plans written by {@link #toJson} differ, each as {@code what A vs B}: the data, each differing field
     * of the configuration, the step count and the architecture; empty when they agree.
     */
    static List<String> differences(JsonNode a, JsonNode b) {
        List<String> out = new ArrayList<>();
        if (!a.path("data").equals(b.path("data"))) {
            out.add("data " + a.path("data") + " vs " + b.path("data"));
        }
        for (String d : TrainingConfigJson.differences(a.path("config"), b.path("config"))) {
            out.add("config: " + d);
        }
        for (String field : List.of("total_steps", "architecture")) {
            if (!a.path(field).equals(b.path(field))) {
                out.add(field + " " + a.path(field) + " vs " + b.path(field));
            }
        }
        return out;
    }
}
