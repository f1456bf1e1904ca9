package dev.cllm.torch;

import java.util.LinkedHashMap;
import java.util.Map;

/** The Hugging Face tensor names of a LLaMA-family checkpoint and the shapes a config implies: the one mapping table. */
public final class HfNames {
    public static final String EMBED = "model.embed_tokens.weight";
    public static final String FINAL_NORM = "model.norm.weight";
    public static final String LM_HEAD = "lm_head.weight";
    public static final String ATTN_NORM = "input_layernorm.weight";
    public static final String MLP_NORM = "post_attention_layernorm.weight";
    public static final String Q = "self_attn.q_proj";
    public static final String K = "self_attn.k_proj";
    public static final String V = "self_attn.v_proj";
    public static final String O = "self_attn.o_proj";
    public static final String GATE = "mlp.gate_proj";
    public static final String UP = "mlp.up_proj";
    public static final String DOWN = "mlp.down_proj";
    public static final String WEIGHT = ".weight";
    public static final String BIAS = ".bias";

    private HfNames() {
    }

    public static String layer(int l, String name) {
        return "model.layers." + l + "." + name;
    }

    /** Every tensor the config requires, with its shape, in checkpoint order. */
    public static Map<String, long[]> expectedShapes(LlamaConfig c) {
        long d = c.hiddenSize();
        long q = (long) c.numHeads() * c.headDim();
        long kv = (long) c.numKvHeads() * c.headDim();
        long f = c.intermediateSize();
        Map<String, long[]> out = new LinkedHashMap<>();
        out.put(EMBED, new long[]{c.vocabSize(), d});
        for (int l = 0; l < c.numLayers(); l++) {
            out.put(layer(l, ATTN_NORM), new long[]{d});
            out.put(layer(l, Q + WEIGHT), new long[]{q, d});
            out.put(layer(l, K + WEIGHT), new long[]{kv, d});
            out.put(layer(l, V + WEIGHT), new long[]{kv, d});
            if (c.qkvBias()) {
                out.put(layer(l, Q + BIAS), new long[]{q});
                out.put(layer(l, K + BIAS), new long[]{kv});
                out.put(layer(l, V + BIAS), new long[]{kv});
            }
            out.put(layer(l, O + WEIGHT), new long[]{d, q});
            if (c.outputBias()) {
                out.put(layer(l, O + BIAS), new long[]{d});
            }
            out.put(layer(l, MLP_NORM), new long[]{d});
            out.put(layer(l, GATE + WEIGHT), new long[]{f, d});
            out.put(layer(l, UP + WEIGHT), new long[]{f, d});
            out.put(layer(l, DOWN + WEIGHT), new long[]{d, f});
            if (c.mlpBias()) {
                out.put(layer(l, GATE + BIAS), new long[]{f});
                out.put(layer(l, UP + BIAS), new long[]{f});
                out.put(layer(l, DOWN + BIAS), new long[]{d});
            }
        }
        out.put(FINAL_NORM, new long[]{d});
        if (!c.tieWordEmbeddings()) {
            out.put(LM_HEAD, new long[]{c.vocabSize(), d});
        }
        return out;
    }

    public static boolean isNorm(String name) {
        return name.endsWith("norm.weight");
    }

    public static boolean isBias(String name) {
        return name.endsWith(BIAS);
    }

    /** Tensors some checkpoints carry that the model recomputes or shares (no warning). */
    public static boolean isIgnorable(String name) {
        return name.endsWith("rotary_emb.inv_freq") || name.equals(LM_HEAD);
    }
}
