package dev.cllm.torch;

import org.bytedeco.pytorch.Tensor;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a {@link LlamaModel} in the layout fixed at load time ({@link LlamaLoader}): q, k and v projections
 * fused into {@code wqkv}, gate and up into {@code w13}, each projection with the kernel that runs it. Owns every
 * tensor it holds; {@link #close()} frees them.
 */
final class LlamaWeights implements AutoCloseable {
    final Tensor embed;         // [V, D]
    final Layer[] layers;       // one per transformer block
    final Tensor norm;          // [D], the final RMSNorm
    final Projection lmHead;    // [V, D]; its weight is embed when the embeddings are tied
    /** The kernel every projection runs in: FBGEMM_FP16 when each carries a packed copy, else BLAS. */
    final CpuGemm gemm;

    LlamaWeights(Tensor embed, Layer[] layers, Tensor norm, Projection lmHead, CpuGemm gemm) {
        this.embed = embed;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
        this.gemm = gemm;
    }

    /** One transformer block. */
    record Layer(Tensor attnNorm, Projection wqkv, Projection wo, Tensor mlpNorm, Projection w13, Projection w2) {
    }

    /**
     * {@code x · wᵀ + b}: the weight {@code [out, in]}, its bias {@code [out]} (null when the architecture has none),
     * and the weight's FBGEMM fp16 packing (null when OpenBLAS runs it). The packing is a snapshot of {@code w} taken
     * at load: it does not follow later changes to {@code w}.
     */
    record Projection(Tensor w, Tensor b, Tensor packed) {
        Projection packedAs(Tensor fp16) {
            return new Projection(w, b, fp16);
        }
    }

    /** Named as {@link LlamaModel#weights()} documents. Borrowed: these weights own the tensors. */
    Map<String, Tensor> named() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("embed", embed);
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            String p = "layers." + l + ".";
            out.put(p + "attn_norm", w.attnNorm);
            putProjection(out, p, "qkv", w.wqkv);
            putProjection(out, p, "o", w.wo);
            out.put(p + "mlp_norm", w.mlpNorm);
            putProjection(out, p, "13", w.w13);
            putProjection(out, p, "2", w.w2);
        }
        out.put("norm", norm);
        if (lmHead.w != embed) {
            out.put("lm_head", lmHead.w);
        }
        return out;
    }

    /** {@code w<suffix>} and, when present, {@code b<suffix>}. */
    private static void putProjection(Map<String, Tensor> out, String prefix, String suffix, Projection p) {
        out.put(prefix + "w" + suffix, p.w());
        if (p.b() != null) {
            out.put(prefix + "b" + suffix, p.b());
        }
    }

    /** Frees every tensor once (a tied matrix is one tensor), packed copies included. */
    @Override
    public void close() {
        Set<Tensor> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.addAll(named().values());
        for (Layer l : layers) {
            for (Projection p : new Projection[]{l.wqkv, l.wo, l.w13, l.w2}) {
                distinct.add(p.packed());
            }
        }
        distinct.add(lmHead.packed());
        distinct.remove(null);
        distinct.forEach(Tensors::release);
    }
}
