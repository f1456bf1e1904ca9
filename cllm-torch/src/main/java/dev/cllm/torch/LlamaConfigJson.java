package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.CheckpointException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

import static dev.cllm.torch.LlamaConfig.LLAMA;
import static dev.cllm.torch.LlamaConfig.MISTRAL;
import static dev.cllm.torch.LlamaConfig.QWEN2;

/**
 * {@link LlamaConfig} to and from a Hugging Face {@code config.json}, with the defaults {@code transformers} applies
 * to absent fields. The only place the file's field names appear.
 */
final class LlamaConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private LlamaConfigJson() {
    }

    /**
     * Reads and validates {@code config.json}.
     *
     * @throws CheckpointException naming the file and the missing, ill-typed or unsupported field
     */
    static LlamaConfig read(Path configJson) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(configJson));
        } catch (IOException e) {
            throw new CheckpointException(configJson + ": cannot read config: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(configJson + ": not a JSON object");
        }
        try {
            return fromJson(root);
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(configJson + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@link #toJson} to {@code file}, pretty-printed. */
    static void write(LlamaConfig config, Path file) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson(config)) + "\n");
    }

    /** Parses a config.json tree. @throws IllegalArgumentException naming the bad field */
    static LlamaConfig fromJson(JsonNode root) {
        String architecture = architectureOf(root);
        if (!LlamaConfig.ARCHITECTURES.contains(architecture)) {
            throw LlamaConfig.unsupportedArchitecture(architecture);
        }
        LlamaConfig.Builder b = LlamaConfig.builder().architecture(architecture);
        b.vocabSize(requiredInt(root, "vocab_size"))
                .hiddenSize(requiredInt(root, "hidden_size"))
                .intermediateSize(requiredInt(root, "intermediate_size"))
                .numLayers(requiredInt(root, "num_hidden_layers"))
                .numHeads(requiredInt(root, "num_attention_heads"))
                .numKvHeads(optionalInt(root, "num_key_value_heads", 0))
                .headDim(optionalInt(root, "head_dim", 0))
                .maxPositions(requiredInt(root, "max_position_embeddings"))
                .rmsNormEps(optionalDouble(root, "rms_norm_eps", 1e-6))
                .ropeTheta(optionalDouble(root, "rope_theta", 10000.0))
                .ropeScaling(RopeScaling.fromJson(root.get("rope_scaling")))
                .tieWordEmbeddings(optionalBoolean(root, "tie_word_embeddings", false))
                .bosTokenId(optionalInt(root, "bos_token_id", -1))
                .eosTokenIds(eosIds(root.get("eos_token_id")))
                .torchDtype(root.path("torch_dtype").asText(null));
        String act = root.path("hidden_act").asText("silu");
        if (!act.equals("silu")) {
            throw new IllegalArgumentException("unsupported hidden_act '" + act + "' (only silu)");
        }
        boolean qwen = architecture.equals(QWEN2);
        boolean attentionBias = optionalBoolean(root, "attention_bias", false);
        b.qkvBias(qwen || attentionBias).outputBias(!qwen && attentionBias)
                .mlpBias(optionalBoolean(root, "mlp_bias", false));
        if (architecture.equals(MISTRAL) || qwen) {
            JsonNode window = root.get("sliding_window");
            boolean used = qwen ? optionalBoolean(root, "use_sliding_window", false)
                    : window != null && !window.isNull();
            if (used && window != null && window.isNumber()
                    && window.asInt() < requiredInt(root, "max_position_embeddings")) {
                throw new IllegalArgumentException("sliding_window " + window.asInt()
                        + " is not supported (full attention only)");
            }
        }
        return b.build();
    }

    /**
     * {@code config} as a {@code config.json} tree (what {@link #fromJson} reads back).
     *
     * @throws IllegalStateException if config.json cannot express the attention biases (see {@link LlamaConfig#write})
     */
    static ObjectNode toJson(LlamaConfig c) {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(c.architecture());
        o.put("model_type", switch (c.architecture()) {
            case QWEN2 -> "qwen2";
            case MISTRAL -> "mistral";
            default -> "llama";
        });
        o.put("vocab_size", c.vocabSize());
        o.put("hidden_size", c.hiddenSize());
        o.put("intermediate_size", c.intermediateSize());
        o.put("num_hidden_layers", c.numLayers());
        o.put("num_attention_heads", c.numHeads());
        o.put("num_key_value_heads", c.numKvHeads());
        o.put("head_dim", c.headDim());
        o.put("max_position_embeddings", c.maxPositions());
        o.put("rms_norm_eps", c.rmsNormEps());
        o.put("rope_theta", c.ropeTheta());
        if (c.ropeScaling() != null) {
            o.set("rope_scaling", c.ropeScaling().toJson());
        } else {
            o.putNull("rope_scaling");
        }
        o.put("hidden_act", "silu");
        o.put("tie_word_embeddings", c.tieWordEmbeddings());
        if (c.architecture().equals(QWEN2)) {
            if (!c.qkvBias() || c.outputBias()) {
                throw new IllegalStateException("Qwen2 checkpoints have q/k/v bias and no output bias");
            }
        } else {
            if (c.qkvBias() != c.outputBias()) {
                throw new IllegalStateException(c.architecture()
                        + " has bias on all attention projections or none");
            }
            o.put("attention_bias", c.qkvBias());
        }
        o.put("mlp_bias", c.mlpBias());
        if (c.bosTokenId() >= 0) {
            o.put("bos_token_id", c.bosTokenId());
        }
        if (c.eosTokenIds().size() == 1) {
            o.put("eos_token_id", c.eosTokenIds().iterator().next());
        } else if (!c.eosTokenIds().isEmpty()) {
            ArrayNode a = o.putArray("eos_token_id");
            c.eosTokenIds().stream().sorted().forEach(a::add);
        }
        if (c.torchDtype() != null) {
            o.put("torch_dtype", c.torchDtype());
        }
        return o;
    }

    private static String architectureOf(JsonNode root) {
        JsonNode archs = root.get("architectures");
        if (archs == null || !archs.isArray() || archs.isEmpty()) {
            String type = root.path("model_type").asText("");
            return switch (type) {
                case "llama" -> LLAMA;
                case "qwen2" -> QWEN2;
                case "mistral" -> MISTRAL;
                default -> throw new IllegalArgumentException("missing field 'architectures' (and model_type '"
                        + type + "' is not one of llama, qwen2, mistral)");
            };
        }
        return archs.get(0).asText();
    }

    private static Set<Integer> eosIds(JsonNode node) {
        Set<Integer> out = new LinkedHashSet<>();
        if (node == null || node.isNull()) {
            return out;
        }
        if (node.isArray()) {
            for (JsonNode n : node) {
                out.add(asInt("eos_token_id", n));
            }
        } else {
            out.add(asInt("eos_token_id", node));
        }
        return out;
    }

    // ------------------------------------------------------------------------------------------ typed fields

    static int requiredInt(JsonNode root, String field) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            throw new IllegalArgumentException("missing field '" + field + "'");
        }
        return asInt(field, n);
    }

    static int optionalInt(JsonNode root, String field, int fallback) {
        JsonNode n = root.get(field);
        return n == null || n.isNull() ? fallback : asInt(field, n);
    }

    private static int asInt(String field, JsonNode n) {
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new IllegalArgumentException("field '" + field + "' must be an integer, got " + n);
        }
        return n.intValue();
    }

    static double optionalDouble(JsonNode root, String field, double fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isNumber()) {
            throw new IllegalArgumentException("field '" + field + "' must be a number, got " + n);
        }
        return n.doubleValue();
    }

    static boolean optionalBoolean(JsonNode root, String field, boolean fallback) {
        JsonNode n = root.get(field);
        if (n == null || n.isNull()) {
            return fallback;
        }
        if (!n.isBoolean()) {
            throw new IllegalArgumentException("field '" + field + "' must be true or false, got " + n);
        }
        return n.booleanValue();
    }
}
