package dev.cllm.train.gguf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A streaming GGUF v3 writer (ggml's docs/gguf.md): metadata and tensor infos first, then each tensor's bytes.
 *
 * <p>Use: {@code put*} the metadata, {@link #declareTensor} every tensor in data order, {@link #writeHeader()}, then
 * for each declared tensor in that order {@link #beginTensor}, any number of {@link #write} calls with exactly its
 * bytes, {@link #endTensor()}; finally {@link #close()}. Every tensor starts at a multiple of {@link #ALIGNMENT}
 * bytes from the start of the data section (recorded as {@code general.alignment}). All numbers are little-endian.
 * Memory is bounded by the caller's buffers: nothing is held back but the header. Not thread-safe.
 */
final class GgufWriter implements AutoCloseable {
    static final int MAGIC = 0x46554747; // "GGUF" read as a little-endian uint32
    static final int VERSION = 3;
    static final int ALIGNMENT = 32;

    /** GGUF metadata value types (gguf.h's {@code gguf_type}). */
    enum ValueType {
        UINT8(0), INT8(1), UINT16(2), INT16(3), UINT32(4), INT32(5), FLOAT32(6), BOOL(7), STRING(8), ARRAY(9),
        UINT64(10), INT64(11), FLOAT64(12);

        final int id;

        ValueType(int id) {
            this.id = id;
        }
    }

    /** One declared tensor: ggml dimensions, innermost first ({@code ne[0]} is the row length). */
    record TensorInfo(String name, long[] ne, GgmlType type, long offset, long bytes) {
    }

    private record Entry(ValueType type, ValueType elementType, Object value) {
    }

    private final Path file;
    private final FileChannel channel;
    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<TensorInfo> tensors = new ArrayList<>();
    private long dataBytes;
    private boolean headerWritten;
    private int next;              // index of the next tensor to write
    private long remaining = -1;   // bytes left of the tensor being written; -1 when none is open
    private long position;         // bytes written to the file so far
    private long dataStart;        // file offset of the data section

    GgufWriter(Path file) throws IOException {
        this.file = file;
        this.channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING);
        putU32("general.alignment", ALIGNMENT);
    }

    void putString(String key, String value) {
        put(key, ValueType.STRING, null, value);
    }

    void putU32(String key, long value) {
        if (value < 0 || value > 0xffffffffL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit a uint32");
        }
        put(key, ValueType.UINT32, null, value);
    }

    void putF32(String key, double value) {
        put(key, ValueType.FLOAT32, null, (float) value);
    }

    void putBool(String key, boolean value) {
        put(key, ValueType.BOOL, null, value);
    }

    void putStrings(String key, List<String> values) {
        put(key, ValueType.ARRAY, ValueType.STRING, List.copyOf(values));
    }

    void putF32s(String key, float[] values) {
        put(key, ValueType.ARRAY, ValueType.FLOAT32, values.clone());
    }

    void putI32s(String key, int[] values) {
        put(key, ValueType.ARRAY, ValueType.INT32, values.clone());
    }

    private void put(String key, ValueType type, ValueType elementType, Object value) {
        if (headerWritten) {
            throw new IllegalStateException("metadata must come before the header is written: " + key);
        }
        metadata.put(key, new Entry(type, elementType, value));
    }

    /** Declares the next tensor in data order; {@code ne[0]} must be a multiple of the type's block size. */
    TensorInfo declareTensor(String name, long[] ne, GgmlType type) {
        if (headerWritten) {
            throw new IllegalStateException("tensors must be declared before the header is written: " + name);
        }
        long count = 1;
        for (long n : ne) {
            count = Math.multiplyExact(count, n);
        }
        if (ne.length == 0 || ne[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor '" + name + "': rows of " + (ne.length == 0 ? 0 : ne[0])
                    + " values do not fill " + type + " blocks of " + type.blockSize);
        }
        TensorInfo info = new TensorInfo(name, ne.clone(), type, dataBytes, type.bytes(count));
        tensors.add(info);
        dataBytes = align(dataBytes + info.bytes());
        return info;
    }

    /** Writes the header, the metadata and the tensor infos, then pads to the data section. */
    void writeHeader() throws IOException {
        if (headerWritten) {
            throw new IllegalStateException("header already written");
        }
        headerWritten = true;
        Bytes out = new Bytes();
        out.u32(MAGIC).u32(VERSION).u64(tensors.size()).u64(metadata.size());
        for (Map.Entry<String, Entry> kv : metadata.entrySet()) {
            out.string(kv.getKey()).u32(kv.getValue().type().id);
            writeValue(out, kv.getValue());
        }
        for (TensorInfo t : tensors) {
            out.string(t.name()).u32(t.ne().length);
            for (long n : t.ne()) {
                out.u64(n);
            }
            out.u32(t.type().id).u64(t.offset());
        }
        ByteBuffer header = out.buffer();
        writeFully(header);
        pad();
        dataStart = position;
    }

    /** Starts the bytes of the next declared tensor, which must be {@code name}. */
    void beginTensor(String name) {
        if (!headerWritten || remaining >= 0) {
            throw new IllegalStateException("beginTensor(" + name + ") out of order");
        }
        if (next >= tensors.size() || !tensors.get(next).name().equals(name)) {
            throw new IllegalStateException("tensor '" + name + "' is not the next declared one ("
                    + (next < tensors.size() ? tensors.get(next).name() : "none left") + ")");
        }
        remaining = tensors.get(next).bytes();
    }

    /** Appends bytes of the open tensor, from the buffer's position to its limit. */
    void write(ByteBuffer bytes) throws IOException {
        if (remaining < bytes.remaining()) {
            throw new IllegalStateException("more bytes than tensor '" + tensors.get(next).name() + "' holds");
        }
        remaining -= bytes.remaining();
        writeFully(bytes);
    }

    /** Closes the open tensor after checking that all its bytes were written, and pads to the next one. */
    void endTensor() throws IOException {
        if (remaining != 0) {
            throw new IllegalStateException("tensor '" + tensors.get(next).name() + "' is short by " + remaining
                    + " bytes");
        }
        remaining = -1;
        next++;
        pad();
    }

    /** Bytes of the whole file once every tensor is written; known after {@link #writeHeader()}. */
    long fileBytes() {
        if (!headerWritten) {
            throw new IllegalStateException("header not written yet");
        }
        return dataStart + dataBytes;
    }

    List<TensorInfo> tensors() {
        return List.copyOf(tensors);
    }

    /** Closes the file; throws if a declared tensor was not written. */
    @Override
    public void close() throws IOException {
        try {
            if (headerWritten && (next != tensors.size() || remaining >= 0)) {
                throw new IllegalStateException(file + ": closed after " + next + " of " + tensors.size()
                        + " tensors");
            }
        } finally {
            channel.close();
        }
    }

    private void pad() throws IOException {
        long padding = align(position) - position;
        if (padding > 0) {
            writeFully(ByteBuffer.allocate((int) padding));
        }
    }

    static long align(long n) {
        return (n + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    }

    private void writeFully(ByteBuffer buffer) throws IOException {
        while (buffer.hasRemaining()) {
            position += channel.write(buffer);
        }
    }

    private static void writeValue(Bytes out, Entry e) {
        switch (e.type()) {
            case STRING -> out.string((String) e.value());
            case UINT32 -> out.u32((int) (long) (Long) e.value());
            case FLOAT32 -> out.f32((Float) e.value());
            case BOOL -> out.u8((Boolean) e.value() ? 1 : 0);
            case ARRAY -> {
                out.u32(e.elementType().id);
                switch (e.elementType()) {
                    case STRING -> {
                        @SuppressWarnings("unchecked")
                        List<String> values = (List<String>) e.value();
                        out.u64(values.size());
                        values.forEach(out::string);
                    }
                    case FLOAT32 -> {
                        float[] values = (float[]) e.value();
                        out.u64(values.length);
                        for (float v : values) {
                            out.f32(v);
                        }
                    }
                    case INT32 -> {
                        int[] values = (int[]) e.value();
                        out.u64(values.length);
                        for (int v : values) {
                            out.u32(v);
                        }
                    }
                    default -> throw new AssertionError(e.elementType());
                }
            }
            default -> throw new AssertionError(e.type());
        }
    }

    /** A growable little-endian buffer for the header. */
    private static final class Bytes {
        private ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private Bytes room(int n) {
            if (buf.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buf.capacity() * 2, buf.position() + n))
                        .order(ByteOrder.LITTLE_ENDIAN);
                buf.flip();
                bigger.put(buf);
                buf = bigger;
            }
            return this;
        }

        Bytes u8(int v) {
            room(1).buf.put((byte) v);
            return this;
        }

        Bytes u32(int v) {
            room(4).buf.putInt(v);
            return this;
        }

        Bytes u64(long v) {
            room(8).buf.putLong(v);
            return this;
        }

        Bytes f32(float v) {
            room(4).buf.putFloat(v);
            return this;
        }

        Bytes string(String s) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            u64(utf8.length);
            room(utf8.length).buf.put(utf8);
            return this;
        }

        ByteBuffer buffer() {
            return buf.duplicate().flip();
        }
    }
}
