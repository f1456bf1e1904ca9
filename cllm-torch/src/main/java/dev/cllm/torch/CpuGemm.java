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
 * <p>The loader packs each weight as soon as it has read it, one tensor at a time. {@link #FBGEMM_FP16} keeps the
 * fp32 matrices too ({@link LlamaModel#weights()} returns them, but the packed copies are a snapshot taken at load
 * that does not follow later changes to them); {@link #FBGEMM_INT8} frees them, so {@link LlamaModel#weights()} is
 * unavailable for an int8 model. FBGEMM's kernels have no gradient: a model whose weights will change (training) must
 * be loaded with {@link #BLAS}, which computes with the weights themselves; the trainer does. Nothing is decided per
 * call: {@link LlamaModel#gemm()} says which kernel a model runs. On CUDA, and for bf16/fp16 compute, this setting
 * has no effect, except that {@link #FBGEMM_INT8} is refused there.
 */
public enum CpuGemm {
    /**
     * {@link #FBGEMM_FP16} when every projection weight of the checkpoint is stored as bf16 or fp16 (so the fp16
     * copy loses nothing that matters), else {@link #BLAS}. Models built in memory (random weights) use BLAS.
     */
    AUTO,
    /** libtorch's {@code linear} (OpenBLAS GEMM), with a GEMV fast path for one row. */
    BLAS,
    /**
     * FBGEMM's fp16-weight GEMM with weights packed at load time (about 1.5x the fp32 weights' memory in total: the
     * fp32 matrices are kept for {@link LlamaModel#weights()}).
     */
    FBGEMM_FP16,
    /**
     * {@link #FBGEMM_FP16} without the fp32 matrices: each projection is held only as its packed fp16 copy, 2 bytes
     * per weight (the embeddings and norms stay fp32), so a bf16 checkpoint takes about its own size in memory
     * instead of three times it. The same arithmetic as {@link #FBGEMM_FP16}; {@link LlamaModel#weights()} is
     * unavailable, as with {@link #FBGEMM_INT8}. Never chosen by {@link #AUTO}.
     */
    FBGEMM_FP16_ONLY,
    /**
     * int8 weights, one fp32 scale per output channel, packed at load for FBGEMM's int8 GEMM: 1 byte per projection
     * weight (the LM head included; the embeddings and norms stay fp32). Each call quantizes each activation row to
     * 7 bits with its own scale and accumulates in int32, so a row's result does not depend on the other rows of the
     * pass (Jacobi decoding stays lossless with respect to AR decoding of the same int8 model). Never chosen by
     * {@link #AUTO}: the int8 model is a different, slightly less accurate model (see {@code docs/performance.md}).
     */
    FBGEMM_INT8;

    /**
     * Parses {@code auto}, {@code blas}, {@code fbgemm-fp16} (also {@code fbgemm}, {@code fp16}, {@code f16}),
     * {@code fbgemm-int8} (also {@code int8}), case-insensitive, {@code _} or {@code -}.
     */
    public static CpuGemm parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT).replace('_', '-')) {
            case "auto" -> AUTO;
            case "blas" -> BLAS;
            case "fbgemm-fp16", "fbgemm", "fp16", "f16" -> FBGEMM_FP16;
            case "fbgemm-fp16-only", "fp16-only", "f16-only" -> FBGEMM_FP16_ONLY;
            case "fbgemm-int8", "int8" -> FBGEMM_INT8;
            default -> throw new IllegalArgumentException("unknown CPU GEMM '" + s
                    + "' (auto, blas, fbgemm-fp16, fbgemm-fp16-only, int8)");
        };
    }

    /**
     * The kernel for a weight format as the command line names it: {@code auto} ({@link #AUTO}), {@code f32}
     * ({@link #BLAS}: the weights as the checkpoint stores them, computed in fp32), {@code f16} ({@link #FBGEMM_FP16}),
     * {@code f16-only} ({@link #FBGEMM_FP16_ONLY}) or {@code int8} ({@link #FBGEMM_INT8}).
     *
     * @throws IllegalArgumentException naming the value otherwise
     */
    public static CpuGemm forWeights(String weights) {
        return switch (weights.toLowerCase(Locale.ROOT)) {
            case "auto" -> AUTO;
            case "f32", "fp32" -> BLAS;
            case "f16", "fp16" -> FBGEMM_FP16;
            case "f16-only", "fp16-only" -> FBGEMM_FP16_ONLY;
            case "int8" -> FBGEMM_INT8;
            default -> throw new IllegalArgumentException("unknown weight format '" + weights
                    + "' (auto, f32, f16, f16-only, int8)");
        };
    }
}
