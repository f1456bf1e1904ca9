package dev.cllm.torch;

import java.util.Locale;

/**
 * Which kernel runs the weight projections of an fp32 model on CPU, fixed when the model is loaded.
 *
 * <p>OpenBLAS's single-precision GEMM packs the whole weight matrix on every call, so a pass over a few tokens (the
 * Jacobi case: 2 to 32 rows) costs several times a single-token pass. FBGEMM's fp16 GEMM (part of libtorch's CPU
 * build) packs each weight matrix once, at load time, into fp16 and multiplies with fp32 activations and fp32
 * accumulation: a pass over 8 tokens then costs little more than one. Storing a weight in fp16 is exact for weights
 * that are bf16 or fp16 in the checkpoint, except magnitudes below 6.1e-5 (fp16's smallest normal number), which
 * are rounded to within 3e-8; fp32 weights are rounded to 11 significant bits.
 *
 * <p>The packed weights are a snapshot taken at load: the model computes with them whatever happens to
 * {@link LlamaModel#weights()} afterwards, and FBGEMM's fp16 GEMM has no gradient. A model whose weights will change
 * (training, or anything that edits the weights in place) must therefore be loaded with {@link #BLAS}, which computes
 * with the weights themselves; the trainer does. Nothing is decided per call: {@link LlamaModel#gemm()} says which
 * kernel a model runs. On CUDA, and for bf16/fp16 compute, this setting has no effect.
 */
public enum CpuGemm {
    /**
     * {@link #FBGEMM_FP16} when every projection weight of the checkpoint is stored as bf16 or fp16 (so the fp16
     * copy loses nothing that matters), else {@link #BLAS}. Models built in memory (random weights) use BLAS.
     */
    AUTO,
    /** libtorch's {@code linear} (OpenBLAS GEMM), with a GEMV fast path for one row. */
    BLAS,
    /** FBGEMM's fp16-weight GEMM with weights packed at load time (about 1.5x the fp32 weights' memory in total). */
    FBGEMM_FP16;

    /** Parses {@code auto}, {@code blas}, {@code fbgemm-fp16} (case-insensitive; {@code _} or {@code -}). */
    public static CpuGemm parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "auto" -> AUTO;
            case "blas" -> BLAS;
            case "fbgemm-fp16", "fbgemm", "fp16" -> FBGEMM_FP16;
            default -> throw new IllegalArgumentException("unknown CPU GEMM '" + s + "' (auto, blas, fbgemm-fp16)");
        };
    }
}
