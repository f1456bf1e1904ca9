package dev.cllm.train.gguf;

import java.util.Locale;

/**
 * How {@link GgufExporter} stores the 2-D weight matrices; norms, biases and RoPE factors are always F32.
 */
public enum GgufType {
    /** Single precision, exactly the checkpoint's values (general.file_type 0). */
    F32(0),
    /** IEEE half precision, rounded to nearest even from the checkpoint's values (general.file_type 1). */
    F16(1),
    /**
     * ggml's Q8_0: blocks of 32 values as an fp16 scale and 32 int8 (general.file_type 7). A matrix whose rows are
     * not a multiple of 32 long is written as F16 instead, as llama.cpp's converter does.
     */
    Q8_0(7);

    private final int fileType;

    GgufType(int fileType) {
        this.fileType = fileType;
    }

    /** The {@code general.file_type} value (llama.h's {@code llama_ftype}). */
    int fileType() {
        return fileType;
    }

    /** The type named as on the command line: {@code f32}, {@code f16} or {@code q8_0}, any case. */
    public static GgufType parse(String name) {
        for (GgufType t : values()) {
            if (t.name().equals(name.toUpperCase(Locale.ROOT))) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown GGUF type '" + name + "' (supported: f32, f16, q8_0)");
    }
}
