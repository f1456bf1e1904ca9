package dev.cllm.torch;

import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
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
    /**
     * The kernel every projection runs in: FBGEMM_FP16 when each carries a packed fp16 copy (besides its fp32 matrix),
     * FBGEMM_FP16_ONLY when each is held only as packed fp16, FBGEMM_INT8 when each is held only as packed int8 (no
     * fp32 matrix), else BLAS.
     */
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
     * its number of weights {@code numel} (out times in), and at most one packed form of the weight: FBGEMM's fp16
     * packing ({@code packed}) or int8 ({@code int8}). A packed projection runs in its packed form, a snapshot taken at
     * load. With int8 and fp16-only the loader frees the fp32 weight, so {@code w} is null (except for an lm_head tied
     * to the embeddings, whose {@code w} is the embedding matrix).
     */
    record Projection(Tensor w, Tensor b, Tensor packed, Int8Linear int8, long numel) {
        Projection(Tensor w, Tensor b, Tensor packed) {
            this(w, b, packed, null, w.numel());
        }
    }

    /**
     * Named as {@link LlamaModel#weights()} documents. Borrowed: these weights own the tensors.
     *
     * @throws IllegalStateException if the projections are held only as packed int8
     */
    Map<String, Tensor> named() {
        if (gemm == CpuGemm.FBGEMM_INT8 || gemm == CpuGemm.FBGEMM_FP16_ONLY) {
            throw new IllegalStateException("the weight matrices of a model loaded with CpuGemm." + gemm + " are held "
                    + "only in packed form; load it with CpuGemm.BLAS to read, export or train its weights");
        }
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

    /** See {@link LlamaModel#weightBytes()}. */
    long bytes() {
        long packed = 0;
        for (Projection p : projections()) {
            if (p.packed() != null) {
                packed += 2 * p.numel();   // the packed tensor is a handle; its matrix holds fp16 values
            }
            if (p.int8() != null) {
                packed += p.int8().bytes();
            }
        }
        return packed + tensors().stream().mapToLong(Tensor::nbytes).sum();
    }

    /** Frees every tensor once (a tied matrix is one tensor), packed copies included. */
    @Override
    public void close() {
        Set<Tensor> distinct = tensors();
        for (Projection p : projections()) {
            if (p.packed() != null) {
                distinct.add(p.packed());
            }
            if (p.int8() != null) {
                p.int8().close();
            }
        }
        distinct.forEach(Tensors::release);
    }

    /** Every projection: each layer's four, then the LM head (which may share its matrix with the embedding). */
    private List<Projection> projections() {
        List<Projection> projections = new ArrayList<>();
        for (Layer l : layers) {
            projections.addAll(List.of(l.wqkv, l.wo, l.w13, l.w2));
        }
        projections.add(lmHead);
        return projections;
    }

    /** The distinct plain tensors (a tied matrix once): embedding, norms, projection matrices and biases. */
    private Set<Tensor> tensors() {
        Set<Tensor> distinct = Collections.newSetFromMap(new IdentityHashMap<>());
        distinct.add(embed);
        distinct.add(norm);
        for (Layer l : layers) {
            distinct.add(l.attnNorm);
            distinct.add(l.mlpNorm);
        }
        for (Projection p : projections()) {
            distinct.add(p.w());
            distinct.add(p.b());
        }
        distinct.remove(null);
        return distinct;
    }
}
