package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.TrainingConfig;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * A {@link TrainingConfig} as JSON, one member per getter, named after it, at full precision (doubles as the shortest
 * text that reads back to the same double, enums by name): what a checkpoint records and what a resume and the ranks
 * of a job compare, field by field. {@code TrainingConfig.toString()} is a summary for people: it rounds to three
 * digits and leaves fields out.
 */
final class TrainingConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Every getter of {@link TrainingConfig}, in its declaration order (a test checks that none is missing). */
    private static final Map<String, Function<TrainingConfig, Object>> FIELDS = fields();

    private TrainingConfigJson() {
    }

    private static Map<String, Function<TrainingConfig, Object>> fields() {
        Map<String, Function<TrainingConfig, Object>> f = new LinkedHashMap<>();
        f.put("objective", TrainingConfig::objective);
        f.put("consistencyLoss", TrainingConfig::consistencyLoss);
        f.put("distance", TrainingConfig::distance);
        f.put("arWeight", TrainingConfig::arWeight);
        f.put("arTarget", TrainingConfig::arTarget);
        f.put("labelSmoothing", TrainingConfig::labelSmoothing);
        f.put("stateSampling", TrainingConfig::stateSampling);
        f.put("learningRate", TrainingConfig::learningRate);
        f.put("warmupRatio", TrainingConfig::warmupRatio);
        f.put("weightDecay", TrainingConfig::weightDecay);
        f.put("beta1", TrainingConfig::beta1);
        f.put("beta2", TrainingConfig::beta2);
        f.put("adamEpsilon", TrainingConfig::adamEpsilon);
        f.put("maxGradNorm", TrainingConfig::maxGradNorm);
        f.put("batchSize", TrainingConfig::batchSize);
        f.put("gradientAccumulation", TrainingConfig::gradientAccumulation);
        f.put("epochs", TrainingConfig::epochs);
        f.put("maxSteps", TrainingConfig::maxSteps);
        f.put("seed", TrainingConfig::seed);
        f.put("saveEvery", TrainingConfig::saveEvery);
        f.put("evalEvery", TrainingConfig::evalEvery);
        f.put("maxSequenceLength", TrainingConfig::maxSequenceLength);
        f.put("noiseWindow", TrainingConfig::noiseWindow);
        f.put("noiseSchedule", TrainingConfig::noiseSchedule);
        f.put("arOnPrompt", TrainingConfig::arOnPrompt);
        f.put("anchorWeight", TrainingConfig::anchorWeight);
        return Collections.unmodifiableMap(f);
    }

    /** The names of the fields, in order. */
    static List<String> names() {
        return List.copyOf(FIELDS.keySet());
    }

    /** {@code config} as a JSON object with one member per field. */
    static ObjectNode write(TrainingConfig config) {
        ObjectNode node = JSON.createObjectNode();
        FIELDS.forEach((name, getter) -> {
            Object v = getter.apply(config);
            if (v instanceof Double d) {
                node.put(name, d);
            } else if (v instanceof Long l) {
                node.put(name, l);
            } else if (v instanceof Integer i) {
                node.put(name, i);
            } else if (v instanceof Boolean z) {
                node.put(name, z);
            } else {
                node.put(name, ((Enum<?>) v).name());
            }
        });
        return node;
    }

    /**
     * The fields in which two configurations written by {@link #write} differ, each as {@code name A vs B} (a member
     * missing on one side reads {@code none}); empty when they are equal. Numbers compare by value, so a member read
     * back from a file as another JSON number type is still equal.
     */
    static List<String> differences(JsonNode a, JsonNode b) {
        List<String> out = new ArrayList<>();
        for (String name : FIELDS.keySet()) {
            JsonNode x = a.get(name);
            JsonNode y = b.get(name);
            if (!same(x, y)) {
                out.add(name + " " + text(x) + " vs " + text(y));
            }
        }
        return out;
    }

    /**
     * The differences that forbid resuming: every field but how often the run saves and evaluates, which do not
     * change the weights (a resumed run may checkpoint more or less often). A field that {@code saved} lacks was added
     * to the configuration after that checkpoint was written: it had its default value then.
     */
    static List<String> resumeDifferences(JsonNode saved, JsonNode now) {
        ObjectNode complete = write(TrainingConfig.builder().build());
        saved.fields().forEachRemaining(e -> complete.set(e.getKey(), e.getValue()));
        List<String> out = new ArrayList<>();
        for (String d : differences(complete, now)) {
            if (!d.startsWith("saveEvery ") && !d.startsWith("evalEvery ")) {
                out.add(d);
            }
        }
        return out;
    }

    private static boolean same(JsonNode x, JsonNode y) {
        if (x == null || y == null) {
            return x == y;
        }
        if (x.isNumber() && y.isNumber()) {
            return x.isIntegralNumber() && y.isIntegralNumber() ? x.longValue() == y.longValue()
                    : Double.compare(x.doubleValue(), y.doubleValue()) == 0;
        }
        return x.equals(y);
    }

    private static String text(JsonNode n) {
        return n == null ? "none" : n.asText();
    }
}
