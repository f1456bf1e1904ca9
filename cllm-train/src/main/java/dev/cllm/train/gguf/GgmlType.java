package dev.cllm.train.gguf;

/** The ggml element types this package writes, with their ids in a GGUF tensor info (ggml.h's {@code ggml_type}). */
enum GgmlType {
    F32(0, 1, 4),
    F16(1, 1, 2),
    /** Blocks of 32 values: an fp16 scale d, then 32 int8 quants q; a value is {@code d * q}. */
    Q8_0(8, 32, 34);

    /** The id stored in the file. */
    final int id;
    /** Values per block; a row's length must be a multiple of it. */
    final int blockSize;
    /** Bytes per block. */
    final int blockBytes;

    GgmlType(int id, int blockSize, int blockBytes) {
        this.id = id;
        this.blockSize = blockSize;
        this.blockBytes = blockBytes;
    }

    /** Bytes that {@code count} values take; {@code count} must be a multiple of {@link #blockSize}. */
    long bytes(long count) {
        if (count % blockSize != 0) {
            throw new IllegalArgumentException(this + " stores blocks of " + blockSize + " values, got " + count);
        }
        return count / blockSize * blockBytes;
    }

    static GgmlType ofId(int id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return t;
            }
        }
        throw new IllegalArgumentException("no ggml type " + id + " in this package");
    }
}
