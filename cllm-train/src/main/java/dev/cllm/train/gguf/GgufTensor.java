package dev.cllm.train.gguf;

import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.RopeScaling;

import java.util.ArrayList;
import java.util.List;

/**
 * One tensor of the export: its llama.cpp name, its source (a checkpoint tensor, or computed values), its shape and
 * how it is stored. {@link #plan} holds the one mapping table from Hugging Face names to llama.cpp's.
 *
 * @param name     llama.cpp's name, e.g. {@code blk.0.attn_q.weight}
 * @param hfName   the checkpoint tensor, or null for {@code values}
 * @param rows     rows (1 for a vector)
 * @param cols     values per row, stored contiguously: GGUF's {@code ne[0]}
 * @param type     how it is stored
 * @param headDim  q/k row permutation in heads of this many rows ({@link QkPermutation}), or 0 for none
 * @param values   the values of a computed tensor, or null
 */
record GgufTensor(String name, String hfName, long rows, long cols, GgmlType type, int headDim, float[] values) {

    /** GGUF dimensions, innermost first. */
    long[] ne() {
        return isMatrix() ? new long[]{cols, rows} : new long[]{cols};
    }

    boolean isMatrix() {
        return name.endsWith(".weight") && !name.endsWith("norm.weight") && !name.equals("rope_freqs.weight");
    }

    /** The Hugging Face shape: {@code [rows, cols]} or {@code [cols]}. */
    List<Long> hfShape() {
        return isMatrix() ? List.of(rows, cols) : List.of(cols);
    }

    /** llama.cpp's {@code general.architecture} for a config: LLaMA and Mistral are {@code llama}. */
    static String architecture(LlamaConfig c) {
        return c.architecture().equals("Qwen2ForCausalLM") ? "qwen2" : "llama";
    }

    /**
     * The tensors of the export, in file order. As llama.cpp's converter: vectors (norms, biases, RoPE factors) are
     * F32; matrices take {@code type}, except Q8_0 matrices whose rows are not a multiple of 32 long, which are F16;
     * q and k (weights and biases) are permuted for {@code llama} but not {@code qwen2}; the output matrix is left
     * out when the embeddings are tied (llama.cpp then uses {@code token_embd}).
     */
    static List<GgufTensor> plan(LlamaConfig c, GgufType type) {
        boolean permute = architecture(c).equals("llama");
        long d = c.hiddenSize();
        long hd = c.headDim();
        long q = c.numHeads() * hd;
        long kv = c.numKvHeads() * hd;
        long f = c.intermediateSize();
        List<GgufTensor> out = new ArrayList<>();
        out.add(matrix("token_embd.weight", "model.embed_tokens.weight", c.vocabSize(), d, type, 0));
        float[] ropeFactors = llama3RopeFactors(c);
        if (ropeFactors != null) {
            out.add(new GgufTensor("rope_freqs.weight", null, 1, ropeFactors.length, GgmlType.F32, 0, ropeFactors));
        }
        for (int l = 0; l < c.numLayers(); l++) {
            String blk = "blk." + l + ".";
            String hf = "model.layers." + l + ".";
            int qPerm = permute ? (int) hd : 0;
            out.add(vector(blk + "attn_norm.weight", hf + "input_layernorm.weight", d));
            out.add(matrix(blk + "attn_q.weight", hf + "self_attn.q_proj.weight", q, d, type, qPerm));
            out.add(matrix(blk + "attn_k.weight", hf + "self_attn.k_proj.weight", kv, d, type, qPerm));
            out.add(matrix(blk + "attn_v.weight", hf + "self_attn.v_proj.weight", kv, d, type, 0));
            if (c.qkvBias()) {
                out.add(bias(blk + "attn_q.bias", hf + "self_attn.q_proj.bias", q, qPerm));
                out.add(bias(blk + "attn_k.bias", hf + "self_attn.k_proj.bias", kv, qPerm));
                out.add(bias(blk + "attn_v.bias", hf + "self_attn.v_proj.bias", kv, 0));
            }
            out.add(matrix(blk + "attn_output.weight", hf + "self_attn.o_proj.weight", d, q, type, 0));
            if (c.outputBias()) {
                out.add(bias(blk + "attn_output.bias", hf + "self_attn.o_proj.bias", d, 0));
            }
            out.add(vector(blk + "ffn_norm.weight", hf + "post_attention_layernorm.weight", d));
            out.add(matrix(blk + "ffn_gate.weight", hf + "mlp.gate_proj.weight", f, d, type, 0));
            out.add(matrix(blk + "ffn_up.weight", hf + "mlp.up_proj.weight", f, d, type, 0));
            out.add(matrix(blk + "ffn_down.weight", hf + "mlp.down_proj.weight", d, f, type, 0));
            if (c.mlpBias()) {
                out.add(bias(blk + "ffn_gate.bias", hf + "mlp.gate_proj.bias", f, 0));
                out.add(bias(blk + "ffn_up.bias", hf + "mlp.up_proj.bias", f, 0));
                out.add(bias(blk + "ffn_down.bias", hf + "mlp.down_proj.bias", d, 0));
            }
        }
        out.add(vector("output_norm.weight", "model.norm.weight", d));
        if (!c.tieWordEmbeddings()) {
            out.add(matrix("output.weight", "lm_head.weight", c.vocabSize(), d, type, 0));
        }
        return out;
    }

    private static GgufTensor matrix(String name, String hf, long rows, long cols, GgufType type, int headDim) {
        GgmlType t = switch (type) {
            case F32 -> GgmlType.F32;
            case F16 -> GgmlType.F16;
            case Q8_0 -> cols % Q8_0.BLOCK == 0 ? GgmlType.Q8_0 : GgmlType.F16;
        };
        return new GgufTensor(name, hf, rows, cols, t, headDim, null);
    }

    private static GgufTensor vector(String name, String hf, long n) {
        return new GgufTensor(name, hf, 1, n, GgmlType.F32, 0, null);
    }

    /** A bias: a vector, permuted like its weight's rows (one value per row). */
    private static GgufTensor bias(String name, String hf, long n, int headDim) {
        return new GgufTensor(name, hf, 1, n, GgmlType.F32, headDim, null);
    }

    /**
     * LLaMA 3.1 RoPE scaling as llama.cpp takes it: a {@code rope_freqs} vector of headDim/2 divisors of the
     * rotary frequencies (1 for high frequencies, {@code factor} for low ones, smoothly in between); null for other
     * configs. Linear scaling goes into metadata instead.
     */
    static float[] llama3RopeFactors(LlamaConfig c) {
        RopeScaling s = c.ropeScaling();
        if (s == null || !s.type().equals("llama3")) {
            return null;
        }
        int dim = c.headDim();
        float lowWavelen = (float) (s.originalMaxPositions() / s.lowFreqFactor());
        float highWavelen = (float) (s.originalMaxPositions() / s.highFreqFactor());
        float[] factors = new float[dim / 2];
        for (int i = 0; i < factors.length; i++) {
            float freq = 1f / (float) Math.pow(c.ropeTheta(), (float) (2 * i) / dim);
            float wavelen = (float) (2 * Math.PI) / freq;
            if (wavelen < highWavelen) {
                factors[i] = 1f;
            } else if (wavelen > lowWavelen) {
                factors[i] = (float) s.factor();
            } else {
                float smooth = (float) ((s.originalMaxPositions() / wavelen - s.lowFreqFactor())
                        / (s.highFreqFactor() - s.lowFreqFactor()));
                factors[i] = (float) (1 / ((1 - smooth) / s.factor() + smooth));
            }
        }
        return factors;
    }
}
