package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * RoPE frequency scaling from {@code config.json}'s {@code rope_scaling}, as Hugging Face transformers applies it.
 *
 * @param type                        {@code linear} or {@code llama3}
 * @param factor                      the scaling factor (both types)
 * @param lowFreqFactor               llama3 only
 * @param highFreqFactor              llama3 only
 * @param originalMaxPositions        llama3 only: the pre-training context length
 */
public record RopeScaling(String type, double factor, double lowFreqFactor, double highFreqFactor,
                          int originalMaxPositions) {

    public RopeScaling {
        if (!type.equals("linear") && !type.equals("llama3")) {
            throw new IllegalArgumentException("unsupported rope_scaling type '" + type
                    + "' (supported: linear, llama3)");
        }
        if (!(factor > 0)) {
            throw new IllegalArgumentException("rope_scaling.factor must be positive, got " + factor);
        }
        if (type.equals("llama3") && (!(lowFreqFactor > 0) || !(highFreqFactor > lowFreqFactor)
                || originalMaxPositions <= 0)) {
            throw new IllegalArgumentException("llama3 rope_scaling needs 0 < low_freq_factor < high_freq_factor and "
                    + "original_max_position_embeddings > 0, got " + lowFreqFactor + ", " + highFreqFactor + ", "
                    + originalMaxPositions);
        }
    }

    /** Linear scaling: positions divided by {@code factor}. */
    public static RopeScaling linear(double factor) {
        return new RopeScaling("linear", factor, 0, 0, 0);
    }

    /** LLaMA 3.1 scaling. */
    public static RopeScaling llama3(double factor, double lowFreqFactor, double highFreqFactor,
                                     int originalMaxPositions) {
        return new RopeScaling("llama3", factor, lowFreqFactor, highFreqFactor, originalMaxPositions);
    }

    /** Parses {@code rope_scaling}; null or {@code {"rope_type":"default"}} mean none. */
    static RopeScaling fromJson(JsonNode node) {
        if (node == null || node.isNull()) {
            return null;
        }
        if (!node.isObject()) {
            throw new IllegalArgumentException("field 'rope_scaling' must be an object or null, got " + node);
        }
        String type = node.has("rope_type") ? node.get("rope_type").asText() : node.path("type").asText("");
        if (type.equals("default")) {
            return null;
        }
        double factor = LlamaConfigJson.optionalDouble(node, "factor", Double.NaN);
        if (type.equals("llama3")) {
            return llama3(factor, LlamaConfigJson.optionalDouble(node, "low_freq_factor", Double.NaN),
                    LlamaConfigJson.optionalDouble(node, "high_freq_factor", Double.NaN),
                    LlamaConfigJson.optionalInt(node, "original_max_position_embeddings", 0));
        }
        return new RopeScaling(type, factor, 0, 0, 0);
    }

    ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("rope_type", type);
        o.put("factor", factor);
        if (type.equals("llama3")) {
            o.put("low_freq_factor", lowFreqFactor);
            o.put("high_freq_factor", highFreqFactor);
            o.put("original_max_position_embeddings", originalMaxPositions);
        }
        return o;
    }

    /** Applies the scaling to the inverse frequencies (fp32, as transformers computes them). */
    float[] apply(float[] invFreq) {
        float[] out = new float[invFreq.length];
        if (type.equals("linear")) {
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) (invFreq[i] / factor);
            }
            return out;
        }
        double lowFreqWavelen = originalMaxPositions / lowFreqFactor;
        double highFreqWavelen = originalMaxPositions / highFreqFactor;
        for (int i = 0; i < out.length; i++) {
            double wavelen = 2 * Math.PI / invFreq[i];
            double scaled = wavelen > lowFreqWavelen ? invFreq[i] / factor : invFreq[i];
            boolean medium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
            if (medium) {
                double smooth = (originalMaxPositions / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            out[i] = (float) scaled;
        }
        return out;
    }
}
