package dev.cllm.torch;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Hand-built safetensors bytes and raw tensor bytes for the safetensors tests. */
final class SafetensorsTestFiles {
    private SafetensorsTestFiles() {
    }

    /** A file: the 8-byte little-endian length of {@code json}, {@code json} as UTF-8, then {@code data}. */
    static byte[] fileBytes(String json, byte[] data) {
        return fileBytes(json.getBytes(StandardCharsets.UTF_8), data);
    }

    static byte[] fileBytes(byte[] json, byte[] data) {
        return ByteBuffer.allocate(8 + json.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(json.length).put(json).put(data).array();
    }

    /** A file whose length prefix is {@code headerLength}, whatever follows. */
    static byte[] withLengthPrefix(long headerLength, byte[] rest) {
        return ByteBuffer.allocate(8 + rest.length).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(headerLength).put(rest).array();
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The raw bytes of a tensor in row-major order. */
    static byte[] rawBytes(Tensor tensor) {
        Tensor contiguous = tensor.contiguous();
        byte[] bytes = new byte[Math.toIntExact(contiguous.nbytes())];
        if (bytes.length > 0) {
            new BytePointer(contiguous.data_ptr()).get(bytes);
        }
        return bytes;
    }

    /** Little-endian bytes of floats. */
    static byte[] floatBytes(float... values) {
        ByteBuffer buffer = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : values) {
            buffer.putFloat(value);
        }
        return buffer.array();
    }

    /** Little-endian bytes of longs. */
    static byte[] longBytes(long... values) {
        ByteBuffer buffer = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long value : values) {
            buffer.putLong(value);
        }
        return buffer.array();
    }

    /** Concatenation. */
    static byte[] concat(byte[]... parts) {
        int length = 0;
        for (byte[] part : parts) {
            length += part.length;
        }
        ByteBuffer buffer = ByteBuffer.allocate(length);
        for (byte[] part : parts) {
            buffer.put(part);
        }
        return buffer.array();
    }
}
