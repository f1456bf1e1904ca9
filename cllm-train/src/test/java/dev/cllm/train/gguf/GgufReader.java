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
 * An independent GGUF v3 parser for the tests: reads back what {@link GgufWriter} wrote, checking the format rules
 * (magic, version, alignment of every tensor, no overlap, data inside the file) as it goes.
 */
final class GgufReader {
    /** A tensor info: dimensions innermost first, ggml type id, offset from the data section. */
    record Tensor(String name, long[] ne, int type, long offset) {
        long count() {
            long n = 1;
            for (long d : ne) {
                n *= d;
            }
            return n;
        }
    }

    final int version;
    final Map<String, Object> metadata = new LinkedHashMap<>();
    final Map<String, Tensor> tensors = new LinkedHashMap<>();
    final long alignment;
    final long dataStart;
    final long fileSize;
    private final ByteBuffer file;

    GgufReader(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            fileSize = ch.size();
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, fileSize).order(ByteOrder.LITTLE_ENDIAN);
        }
        ByteBuffer b = file.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[4];
        b.get(magic);
        if (!new String(magic, StandardCharsets.US_ASCII).equals("GGUF")) {
            throw new IllegalStateException("bad magic");
        }
        version = b.getInt();
        long nTensors = b.getLong();
        long nKv = b.getLong();
        for (long i = 0; i < nKv; i++) {
            String key = string(b);
            if (metadata.put(key, value(b, b.getInt())) != null) {
                throw new IllegalStateException("duplicate key " + key);
            }
        }
        for (long i = 0; i < nTensors; i++) {
            String name = string(b);
            long[] ne = new long[b.getInt()];
            for (int d = 0; d < ne.length; d++) {
                ne[d] = b.getLong();
            }
            tensors.put(name, new Tensor(name, ne, b.getInt(), b.getLong()));
        }
        alignment = metadata.containsKey("general.alignment") ? (Long) metadata.get("general.alignment") : 32;
        dataStart = (b.position() + alignment - 1) / alignment * alignment;
        for (int i = b.position(); i < dataStart; i++) {
            if (file.get(i) != 0) {
                throw new IllegalStateException("padding byte " + i + " is not zero");
            }
        }
        long end = 0;
        for (Tensor t : tensors.values()) {
            if (t.offset() % alignment != 0 || t.offset() < end) {
                throw new IllegalStateException(t.name() + ": offset " + t.offset() + " misaligned or overlapping");
            }
            end = t.offset() + bytes(t);
            if (dataStart + end > fileSize) {
                throw new IllegalStateException(t.name() + ": data runs past the end of the file");
            }
        }
    }

    static long bytes(Tensor t) {
        return switch (t.type()) {
            case 0 -> t.count() * 4;
            case 1 -> t.count() * 2;
            case 8 -> t.count() / 32 * 34;
            default -> throw new IllegalStateException("type " + t.type());
        };
    }

    /** The tensor's values as floats (F32 exact, F16 widened, Q8_0 dequantized). */
    float[] floats(String name) {
        Tensor t = tensors.get(name);
        float[] out = new float[Math.toIntExact(t.count())];
        ByteBuffer b = file.duplicate().order(ByteOrder.LITTLE_ENDIAN).position((int) (dataStart + t.offset()));
        switch (t.type()) {
            case 0 -> b.asFloatBuffer().get(out);
            case 1 -> {
                for (int i = 0; i < out.length; i++) {
                    out[i] = Float16.toFloat(b.getShort());
                }
            }
            case 8 -> {
                for (int i = 0; i < out.length; i += 32) {
                    float d = Float16.toFloat(b.getShort());
                    for (int j = 0; j < 32; j++) {
                        out[i + j] = d * b.get();
                    }
                }
            }
            default -> throw new IllegalStateException("type " + t.type());
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    <T> T get(String key) {
        return (T) metadata.get(key);
    }

    private static String string(ByteBuffer b) {
        byte[] bytes = new byte[Math.toIntExact(b.getLong())];
        b.get(bytes);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer b, int type) {
        return switch (type) {
            case 0 -> (long) (b.get() & 0xff);
            case 1 -> (int) b.get();
            case 2 -> (long) (b.getShort() & 0xffff);
            case 3 -> (int) b.getShort();
            case 4 -> b.getInt() & 0xffffffffL;
            case 5 -> b.getInt();
            case 6 -> b.getFloat();
            case 7 -> {
                byte v = b.get();
                if (v != 0 && v != 1) {
                    throw new IllegalStateException("bool " + v);
                }
                yield v == 1;
            }
            case 8 -> string(b);
            case 9 -> {
                int elementType = b.getInt();
                long n = b.getLong();
                List<Object> list = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(b, elementType));
                }
                yield list;
            }
            case 10 -> b.getLong();
            case 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new IllegalStateException("value type " + type);
        };
    }
}
