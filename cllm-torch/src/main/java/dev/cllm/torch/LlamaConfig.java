package dev.cllm.torch;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Set;

/**
 * The architecture of a LLaMA-family decoder: an immutable value, equal to another with the same components.
 *
 * <p>Supported: {@code LlamaForCausalLM}, {@code Qwen2ForCausalLM} (q/k/v bias) and {@code MistralForCausalLM}
 * without sliding-window attention. RoPE scaling of type {@code linear} and {@code llama3} is applied; other types are
 * refused. Read one from a Hugging Face {@code config.json} with {@link #read}, or build one with {@link #builder()};
 * {@link LlamaConfigJson} holds the mapping to and from {@code config.json}.
 *
 * @param architecture      the Hugging Face class name, e.g. {@code LlamaForCausalLM}
 * @param vocabSize         {@code vocab_size}
 * @param hiddenSize        {@code hidden_size}, d
 * @param intermediateSize  {@code intermediate_size}, the MLP width
 * @param numLayers         {@code num_hidden_layers}
 * @param numHeads          {@code num_attention_heads}
 * @param numKvHeads        {@code num_key_value_heads}; 0 means {@code numHeads}
 * @param headDim           {@code head_dim}; 0 means {@code hiddenSize / numHeads}
 * @param maxPositions      {@code max_position_embeddings}: the context length
 * @param rmsNormEps        {@code rms_norm_eps}
 * @param ropeTheta         {@code rope_theta}
 * @param ropeScaling       {@code rope_scaling}, or null for none
 * @param tieWordEmbeddings whether the output projection is the embedding matrix
 * @param qkvBias           whether the q, k and v projections have a bias (LLaMA's attention_bias, always for Qwen2)
 * @param outputBias        whether the attention output projection has a bias (LLaMA's attention_bias; never for
 *                          Qwen2)
 * @param mlpBias           {@code mlp_bias}
 * @param bosTokenId        the BOS id, or -1
 * @param eosTokenIds       the EOS ids (may be empty)
 * @param torchDtype        the checkpoint's declared storage dtype ({@code torch_dtype}), or null
 */
public record LlamaConfig(String architecture, int vocabSize, int hiddenSize, int intermediateSize, int numLayers,
                          int numHeads, int numKvHeads, int headDim, int maxPositions, double rmsNormEps,
                          double ropeTheta, RopeScaling ropeScaling, boolean tieWordEmbeddings, boolean qkvBias,
                          boolean outputBias, boolean mlpBias, int bosTokenId, Set<Integer> eosTokenIds,
                          String torchDtype) {
    static final String LLAMA = "LlamaForCausalLM";
    static final String QWEN2 = "Qwen2ForCausalLM";
    static final String MISTRAL = "MistralForCausalLM";
    static final Set<String> ARCHITECTURES = Set.of(LLAMA, QWEN2, MISTRAL);

    /**
     * Fills in the defaults ({@code numKvHeads} and {@code headDim} of 0) and validates.
     *
     * @throws IllegalArgumentException naming the invalid field by its {@code config.json} name
     */
    public LlamaConfig {
        Objects.requireNonNull(architecture, "architecture");
        numKvHeads = numKvHeads == 0 ? numHeads : numKvHeads;
        headDim = headDim == 0 && numHeads > 0 ? hiddenSize / numHeads : headDim;
        eosTokenIds = Set.copyOf(eosTokenIds);
        if (!ARCHITECTURES.contains(architecture)) {
            throw unsupportedArchitecture(architecture);
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

    static IllegalArgumentException unsupportedArchitecture(String architecture) {
        return new IllegalArgumentException("unsupported architecture '" + architecture + "' (supported: "
                + String.join(", ", ARCHITECTURES.stream().sorted().toList()) + ")");
    }

    private static void positive(String field, int value) {
        if (value <= 0) {
            throw new IllegalArgumentException(field + " must be positive, got " + value);
        }
    }

    /**
     * Reads and validates {@code config.json} ({@link LlamaConfigJson#read}).
     *
     * @throws dev.cllm.api.CheckpointException naming the file and the missing, ill-typed or unsupported field
     */
    public static LlamaConfig read(Path configJson) {
        return LlamaConfigJson.read(configJson);
    }

    /**
     * Writes this config as a Hugging Face {@code config.json} (what {@link #read} reads back), pretty-printed.
     *
     * @throws IllegalStateException if {@code config.json} cannot express it: a Qwen2 config without q/k/v bias or with
     *                               an output bias, or another architecture with bias on some attention projections only
     */
    public void write(Path file) throws IOException {
        LlamaConfigJson.write(this, file);
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

    /** A builder holding this config's values. */
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
            return new LlamaConfig(architecture, vocabSize, hiddenSize, intermediateSize, numLayers, numHeads,
                    numKvHeads, headDim, maxPositions, rmsNormEps, ropeTheta, ropeScaling, tieWordEmbeddings, qkvBias,
                    outputBias, mlpBias, bosTokenId, eosTokenIds, torchDtype);
        }
    }
}
