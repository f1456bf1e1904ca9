package dev.cllm.train.gguf;

import java.nio.ByteBuffer;

/**
 * ggml's Q8_0 quantization, bit for bit as its reference {@code quantize_row_q8_0_ref} and gguf-py compute it.
 *
 * <p>Each block of 32 values x stores {@code d = max|x| / 127} as fp16 and {@code q = roundf(x / d)} (float
 * arithmetic, {@code x * (1/d)}, halves away from zero) as 32 int8; a value reads back as {@code fp16(d) * q}.
 */
final class Q8_0 {
    static final int BLOCK = 32;
    private static final float QMAX = 127f; // (1 << 7) - 1, ggml-quants.c

    private Q8_0() {
    }

    /** Quantizes {@code n} values of {@code x} from {@code offset} into {@code out}; {@code n % 32 == 0}. */
    static void quantize(float[] x, int offset, int n, ByteBuffer out) {
        if (n % BLOCK != 0) {
            throw new IllegalArgumentException("Q8_0 needs a multiple of " + BLOCK + " values, got " + n);
        }
        for (int b = offset; b < offset + n; b += BLOCK) {
            float amax = 0;
            for (int j = 0; j < BLOCK; j++) {
                amax = Math.max(amax, Math.abs(x[b + j]));
            }
            float d = amax / QMAX;
            float id = d != 0 ? 1f / d : 0f;
            out.putShort(Float16.fromFloat(d));
            for (int j = 0; j < BLOCK; j++) {
                out.put((byte) roundf(x[b + j] * id));
            }
        }
    }

    /** C's {@code roundf}: halves away from zero. */
    static float roundf(float v) {
        return (float) Math.copySign(Math.floor(Math.abs((double) v) + 0.5), v);
    }
}
