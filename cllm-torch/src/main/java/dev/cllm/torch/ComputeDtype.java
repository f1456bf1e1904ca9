package dev.cllm.torch;

import org.bytedeco.pytorch.global.torch.ScalarType;

/** The floating-point type a model computes in (weights are converted at load time). */
public enum ComputeDtype {
    /** fp32 on CPU (this CPU path has no fast bf16 matmul), bf16 on CUDA. */
    AUTO,
    F32,
    BF16,
    F16;

    public ScalarType scalarType(boolean cuda) {
        return switch (this) {
            case AUTO -> cuda ? ScalarType.BFloat16 : ScalarType.Float;
            case F32 -> ScalarType.Float;
            case BF16 -> ScalarType.BFloat16;
            case F16 -> ScalarType.Half;
        };
    }

    /** Parses {@code auto}, {@code f32}/{@code fp32}/{@code float32}, {@code bf16}/{@code bfloat16}, {@code f16}/{@code fp16}. */
    public static ComputeDtype parse(String s) {
        return switch (s.toLowerCase(java.util.Locale.ROOT)) {
            case "auto" -> AUTO;
            case "f32", "fp32", "float32" -> F32;
            case "bf16", "bfloat16" -> BF16;
            case "f16", "fp16", "float16" -> F16;
            default -> throw new IllegalArgumentException("unknown dtype '" + s + "' (auto, f32, bf16, f16)");
        };
    }
}
