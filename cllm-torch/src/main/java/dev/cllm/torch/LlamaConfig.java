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
import java.util.Objects;
import java.util.Set;

/**
 * The architecture of a LLaMA-family decoder, read from a Hugging Face {@code config.json}.
 *
 * <p>Supported: {@code LlamaForCausalLM}, {@code Qwen2ForCausalLM} (q/k/v bias) and {@code MistralForCausalLM}
 * without sliding-window attention. RoPE scaling of type {@code linear} and {@code llama3} is applied; other types are
 * refused. Build one in code with {@link #builder()}.
 */
public final class LlamaConfig {
    static final String LLAMA = "LlamaForCausalLM";
    static final String QWEN2 = "Qwen2ForCausalLM";
    static final String MISTRAL = "MistralForCausalLM";
    private static final Set<String> ARCHITECTURES = Set.of(LLAMA, QWEN2, MISTRAL);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String architecture;
    private final int vocabSize;
    private final int hiddenSize;
    private final int intermediateSize;
    private final int numLayers;
    private final int numHeads;
    private final int numKvHeads;
    private final int headDim;
    private final int maxPositions;
    private final double rmsNormEps;
    private final double ropeTheta;
    private final RopeScaling ropeScaling;
    private final boolean tieWordEmbeddings;
    private final boolean qkvBias;
    private final boolean outputBias;
    private final boolean mlpBias;
    private final int bosTokenId;
    private final Set<Integer> eosTokenIds;
    private final String torchDtype;

    private LlamaConfig(Builder b) {
        this.architecture = b.architecture;
        this.vocabSize = b.vocabSize;
        this.hiddenSize = b.hiddenSize;
        this.intermediateSize = b.intermediateSize;
        this.numLayers = b.numLayers;
        this.numHeads = b.numHeads;
        this.numKvHeads = b.numKvHeads == 0 ? b.numHeads : b.numKvHeads;
        this.headDim = b.headDim == 0 && b.numHeads > 0 ? b.hiddenSize / b.numHeads : b.headDim;
        this.maxPositions = b.maxPositions;
        this.rmsNormEps = b.rmsNormEps;
        this.ropeTheta = b.ropeTheta;
        this.ropeScaling = b.ropeScaling;
        this.tieWordEmbeddings = b.tieWordEmbeddings;
        this.qkvBias = b.qkvBias;
        this.outputBias = b.outputBias;
        this.mlpBias = b.mlpBias;
        this.bosTokenId = b.bosTokenId;
        this.eosTokenIds = Set.copyOf(b.eosTokenIds);
        this.torchDtype = b.torchDtype;
        validate();
    }

    private void validate() {
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("unsupported architecture '" + architecture + "' (supported: "
                    + String.join(", ", ARCHITECTURES.stream().sorted().toList()) + ")");
        }
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        positive("num_hidden_layers", numLayers);
        positive("num_attention_heads", numHeads);
        positive("num_key_value_heads", numKvHeads);
        positive("head_dim", headDim);
        if (maxPositions < 2) {
            throw new IllegalArgumentException("max_position_embeddings must be >= 2, got " + maxPositions);
        }
        if (numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads (" + numHeads
                    + ") is not a multiple of num_key_value_heads (" + numKvHeads + ")");
        }
        if (headDim % 2 != 0) {
            throw new IllegalArgumentException("head_dim must be even for rotary embeddings, got " + headDim);
        }
        if (!(rmsNormEps > 0) || !(ropeTheta > 0)) {
            throw new IllegalArgumentException("rms_norm_eps and rope_theta must be positive, got " + rmsNormEps
                    + " and " + ropeTheta);
        }
        if (bosTokenId < -1 || bosTokenId >= vocabSize) {
            throw new IllegalArgumentException("bos_token_id " + bosTokenId + " outside the vocabulary");
        }
        for (int eos : eosTokenIds) {
            if (eos < 0 || eos >= vocabSize) {
                throw new IllegalArgumentException("eos_token_id " + eos + " outside the vocabulary");
            }
        }
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /**
     * Reads and validates {@code config.json}.
     *
     * @throws CheckpointException naming the file and the missing, ill-typed or unsupported field
     */
    public static LlamaConfig read(Path configJson) {
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

    /** Parses a config.json tree. @throws IllegalArgumentException naming the bad field */
    static LlamaConfig fromJson(JsonNode root) {
        Builder b = builder();
        String architecture = architectureOf(root);
        if (!ARCHITECTURES.contains(architecture)) {
            throw new IllegalArgumentException("unsupported architecture '" + architecture + "' (supported: "
                    + String.join(", ", ARCHITECTURES.stream().sorted().toList()) + ")");
        }
        b.architecture(architecture);
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
        boolean qwen = b.architecture.equals(QWEN2);
        boolean attentionBias = optionalBoolean(root, "attention_bias", false);
        b.qkvBias(qwen || attentionBias).outputBias(!qwen && attentionBias)
                .mlpBias(optionalBoolean(root, "mlp_bias", false));
        if (b.architecture.equals(MISTRAL) || qwen) {
            JsonNode window = root.get("sliding_window");
            boolean used = qwen ? optionalBoolean(root, "use_sliding_window", false)
                    : window != null && !window.isNull();
            if (used && window != null && window.isNumber() && window.asInt() < b.maxPositions) {
                throw new IllegalArgumentException("sliding_window " + window.asInt()
                        + " is not supported (full attention only)");
            }
        }
        return b.build();
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

    /** This config as a Hugging Face {@code config.json} tree (what {@link #read} reads back). */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        o.putArray("architectures").add(architecture);
        o.put("model_type", switch (architecture) {
            case QWEN2 -> "qwen2";
            case MISTRAL -> "mistral";
            default -> "llama";
        });
        o.put("vocab_size", vocabSize);
        o.put("hidden_size", hiddenSize);
        o.put("intermediate_size", intermediateSize);
        o.put("num_hidden_layers", numLayers);
        o.put("num_attention_heads", numHeads);
        o.put("num_key_value_heads", numKvHeads);
        o.put("head_dim", headDim);
        o.put("max_position_embeddings", maxPositions);
        o.put("rms_norm_eps", rmsNormEps);
        o.put("rope_theta", ropeTheta);
        if (ropeScaling != null) {
            o.set("rope_scaling", ropeScaling.toJson());
        } else {
            o.putNull("rope_scaling");
        }
        o.put("hidden_act", "silu");
        o.put("tie_word_embeddings", tieWordEmbeddings);
        if (architecture.equals(QWEN2)) {
            if (!qkvBias || outputBias) {
                throw new IllegalStateException("Qwen2 checkpoints have q/k/v bias and no output bias");
            }
        } else {
            if (qkvBias != outputBias) {
                throw new IllegalStateException(architecture + " has bias on all attention projections or none");
            }
            o.put("attention_bias", qkvBias);
        }
        o.put("mlp_bias", mlpBias);
        if (bosTokenId >= 0) {
            o.put("bos_token_id", bosTokenId);
        }
        if (eosTokenIds.size() == 1) {
            o.put("eos_token_id", eosTokenIds.iterator().next());
        } else if (!eosTokenIds.isEmpty()) {
            ArrayNode a = o.putArray("eos_token_id");
            eosTokenIds.stream().sorted().forEach(a::add);
        }
        if (torchDtype != null) {
            o.put("torch_dtype", torchDtype);
        }
        return o;
    }

    /** Writes {@link #toJson()} to {@code file}, pretty-printed. */
    public void write(Path file) throws IOException {
        Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(toJson()) + "\n");
    }

    public String architecture() {
        return architecture;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public int hiddenSize() {
        return hiddenSize;
    }

    public int intermediateSize() {
        return intermediateSize;
    }

    public int numLayers() {
        return numLayers;
    }

    public int numHeads() {
        return numHeads;
    }

    public int numKvHeads() {
        return numKvHeads;
    }

    public int headDim() {
        return headDim;
    }

    public int maxPositions() {
        return maxPositions;
    }

    public double rmsNormEps() {
        return rmsNormEps;
    }

    public double ropeTheta() {
        return ropeTheta;
    }

    /** The RoPE scaling, or null when none is configured. */
    public RopeScaling ropeScaling() {
        return ropeScaling;
    }

    public boolean tieWordEmbeddings() {
        return tieWordEmbeddings;
    }

    /** Whether the q, k and v projections have a bias (LLaMA's attention_bias, always for Qwen2). */
    public boolean qkvBias() {
        return qkvBias;
    }

    /** Whether the attention output projection has a bias (LLaMA's attention_bias; never for Qwen2). */
    public boolean outputBias() {
        return outputBias;
    }

    public boolean mlpBias() {
        return mlpBias;
    }

    /** The BOS id, or -1. */
    public int bosTokenId() {
        return bosTokenId;
    }

    public Set<Integer> eosTokenIds() {
        return eosTokenIds;
    }

    /** The checkpoint's declared storage dtype ({@code torch_dtype}), or null. */
    public String torchDtype() {
        return torchDtype;
    }

    /** Weights in the model (tied matrices counted once). */
    public long parameterCount() {
        long d = hiddenSize;
        long attn = d * (numHeads + 2L * numKvHeads) * headDim + (long) numHeads * headDim * d;
        if (qkvBias) {
            attn += (numHeads + 2L * numKvHeads) * headDim;
        }
        if (outputBias) {
            attn += d;
        }
        long mlp = 3 * d * intermediateSize + (mlpBias ? 2L * intermediateSize + d : 0);
        long perLayer = attn + mlp + 2 * d;
        long embed = (long) vocabSize * d;
        return numLayers * perLayer + d + embed + (tieWordEmbeddings ? 0 : embed);
    }

    public Builder toBuilder() {
        return builder().architecture(architecture).vocabSize(vocabSize).hiddenSize(hiddenSize)
                .intermediateSize(intermediateSize).numLayers(numLayers).numHeads(numHeads).numKvHeads(numKvHeads)
                .headDim(headDim).maxPositions(maxPositions).rmsNormEps(rmsNormEps).ropeTheta(ropeTheta)
                .ropeScaling(ropeScaling).tieWordEmbeddings(tieWordEmbeddings).qkvBias(qkvBias)
                .outputBias(outputBias).mlpBias(mlpBias).bosTokenId(bosTokenId).eosTokenIds(eosTokenIds)
                .torchDtype(torchDtype);
    }

    /**
     * A builder with the defaults {@code transformers} applies to a LLaMA config.json: no bias, untied, theta 10000,
     * eps 1e-6, 2048 positions, no special tokens.
     */
    public static Builder builder() {
        return new Builder();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LlamaConfig c && toJson().equals(c.toJson());
    }

    @Override
    public int hashCode() {
        return toJson().hashCode();
    }

    @Override
    public String toString() {
        return String.format("%s(vocab=%d, d=%d, layers=%d, heads=%d/%d, head_dim=%d, ffn=%d, ctx=%d%s%s)",
                architecture, vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, headDim, intermediateSize,
                maxPositions, tieWordEmbeddings ? ", tied" : "", qkvBias ? ", qkv-bias" : "");
    }

    /** Builds a {@link LlamaConfig}; {@link #build()} validates. */
    public static final class Builder {
        private String architecture = LLAMA;
        private int vocabSize;
        private int hiddenSize;
        private int intermediateSize;
        private int numLayers;
        private int numHeads;
        private int numKvHeads;
        private int headDim;
        private int maxPositions = 2048;
        private double rmsNormEps = 1e-6;
        private double ropeTheta = 10000.0;
        private RopeScaling ropeScaling;
        private boolean tieWordEmbeddings;
        private boolean qkvBias;
        private boolean outputBias;
        private boolean mlpBias;
        private int bosTokenId = -1;
        private Set<Integer> eosTokenIds = Set.of();
        private String torchDtype;

        private Builder() {
        }

        public Builder architecture(String v) {
            architecture = Objects.requireNonNull(v);
            return this;
        }

        public Builder vocabSize(int v) {
            vocabSize = v;
            return this;
        }

        public Builder hiddenSize(int v) {
            hiddenSize = v;
            return this;
        }

        public Builder intermediateSize(int v) {
            intermediateSize = v;
            return this;
        }

        public Builder numLayers(int v) {
            numLayers = v;
            return this;
        }

        public Builder numHeads(int v) {
            numHeads = v;
            return this;
        }

        /** 0 means "same as numHeads". */
        public Builder numKvHeads(int v) {
            numKvHeads = v;
            return this;
        }

        /** 0 means "hiddenSize / numHeads". */
        public Builder headDim(int v) {
            headDim = v;
            return this;
        }

        public Builder maxPositions(int v) {
            maxPositions = v;
            return this;
        }

        public Builder rmsNormEps(double v) {
            rmsNormEps = v;
            return this;
        }

        public Builder ropeTheta(double v) {
            ropeTheta = v;
            return this;
        }

        /** null for none. */
        public Builder ropeScaling(RopeScaling v) {
            ropeScaling = v;
            return this;
        }

        public Builder tieWordEmbeddings(boolean v) {
            tieWordEmbeddings = v;
            return this;
        }

        public Builder qkvBias(boolean v) {
            qkvBias = v;
            return this;
        }

        public Builder outputBias(boolean v) {
            outputBias = v;
            return this;
        }

        /** Sets both attention bias flags, as LLaMA's {@code attention_bias} does. */
        public Builder attentionBias(boolean v) {
            qkvBias = v;
            outputBias = v;
            return this;
        }

        public Builder mlpBias(boolean v) {
            mlpBias = v;
            return this;
        }

        public Builder bosTokenId(int v) {
            bosTokenId = v;
            return this;
        }

        public Builder eosTokenIds(Set<Integer> v) {
            eosTokenIds = Set.copyOf(v);
            return this;
        }

        public Builder torchDtype(String v) {
            torchDtype = v;
            return this;
        }

        /** @throws IllegalArgumentException naming the invalid field */
        public LlamaConfig build() {
            return new LlamaConfig(this);
        }
    }
}
