package dev.cllm.torch;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.cllm.api.CheckpointException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The validated header of a safetensors file: each tensor's dtype, shape and byte range, and the string metadata.
 *
 * <p>The format is an 8-byte little-endian unsigned header length N, N bytes of UTF-8 JSON, then the data section;
 * {@code data_offsets} are relative to the start of the data section. Reading a header touches no native code.
 * Every malformed input is reported as a {@link CheckpointException} whose message names the file, the tensor or
 * field, and the bad value; no other exception escapes for bad bytes. Byte ranges may leave gaps but never overlap.
 * Instances are immutable.
 */
public final class SafetensorsHeader {
    /** Largest header accepted: {@code MAX_HEADER_SIZE} of the reference implementation (safetensors, tensor.rs). */
    static final long MAX_HEADER_BYTES = 100_000_000L;
    /** The header key that holds the free-form string metadata instead of a tensor. */
    static final String METADATA_KEY = "__metadata__";
    /** Bytes of the length prefix. */
    static final int LENGTH_PREFIX_BYTES = 8;

    /** Strict JSON: duplicate keys and trailing content are errors. Shared by the package's readers and writers. */
    static final ObjectMapper JSON = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    private static final int MAX_SHOWN_CHARS = 80;

    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final long dataStart;
    private final long dataLength;

    /**
     * One tensor's entry in a header.
     *
     * @param name  the tensor's name
     * @param dtype element type
     * @param shape dimensions, outermost first; empty for a scalar
     * @param begin first byte, relative to the data section
     * @param end   one past the last byte, relative to the data section
     */
    public record TensorInfo(String name, SafetensorsDtype dtype, List<Long> shape, long begin, long end) {
        /** @throws IllegalArgumentException if a dimension or offset is negative or the range does not fit the shape */
        public TensorInfo {
            if (name == null || dtype == null || shape == null) {
                throw new IllegalArgumentException("name, dtype and shape are required, got " + name + ", " + dtype
                        + ", " + shape);
            }
            shape = List.copyOf(shape);
            if (begin < 0 || end < begin) {
                throw new IllegalArgumentException("tensor '" + name + "': bad byte range [" + begin + ", " + end
                        + ")");
            }
            long expected = bytesFor(shape, dtype);
            if (end - begin != expected) {
                throw new IllegalArgumentException("tensor '" + name + "': byte range [" + begin + ", " + end
                        + ") holds " + (end - begin) + " bytes but shape " + shape + " of " + dtype + " needs "
                        + expected);
            }
        }

        /** Number of elements: the product of the shape (1 for a scalar). */
        public long numel() {
            return numel(shape);
        }

        /** Bytes in the data section: {@code numel() * dtype().byteSize()}. */
        public long byteSize() {
            return end - begin;
        }

        long[] shapeArray() {
            return shape.stream().mapToLong(Long::longValue).toArray();
        }

        private static long numel(List<Long> shape) {
            long n = 1;
            for (long dim : shape) {
                if (dim < 0) {
                    throw new IllegalArgumentException("negative dimension in shape " + shape);
                }
                n = Math.multiplyExact(n, dim);
            }
            return n;
        }

        /** {@code numel * dtype.byteSize()}; throws IllegalArgumentException on negative dims and overflow. */
        static long bytesFor(List<Long> shape, SafetensorsDtype dtype) {
            try {
                return Math.multiplyExact(numel(shape), dtype.byteSize());
            } catch (ArithmeticException e) {
                throw new IllegalArgumentException("shape " + shape + " of " + dtype
                        + " overflows a 64-bit byte count");
            }
        }
    }

    private SafetensorsHeader(Map<String, TensorInfo> tensors, Map<String, String> metadata, long dataStart,
            long dataLength) {
        this.tensors = Collections.unmodifiableMap(tensors);
        this.metadata = Collections.unmodifiableMap(metadata);
        this.dataStart = dataStart;
        this.dataLength = dataLength;
    }

    /**
     * Reads and validates the header of a safetensors file.
     *
     * @throws CheckpointException if the file cannot be read or its header is malformed
     */
    public static SafetensorsHeader read(Path file) {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            return read(channel, file.toString());
        } catch (IOException | UncheckedIOException e) {
            throw new CheckpointException(file + ": cannot read: " + e, e);
        }
    }

    /** Reads the header from the start of an open file; {@code fileLabel} names the file in error messages. */
    static SafetensorsHeader read(FileChannel channel, String fileLabel) {
        try {
            long fileSize = channel.size();
            if (fileSize < LENGTH_PREFIX_BYTES) {
                throw error(fileLabel, "file has %d bytes, fewer than the %d-byte header length", fileSize,
                        LENGTH_PREFIX_BYTES);
            }
            long headerLength = readFully(channel, 0, LENGTH_PREFIX_BYTES, fileLabel)
                    .order(ByteOrder.LITTLE_ENDIAN).getLong(0);
            checkHeaderLength(headerLength, fileSize, fileLabel);
            byte[] json = readFully(channel, LENGTH_PREFIX_BYTES, (int) headerLength, fileLabel).array();
            return parse(json, fileSize - LENGTH_PREFIX_BYTES - headerLength, fileLabel);
        } catch (IOException | UncheckedIOException e) {
            throw new CheckpointException(fileLabel + ": cannot read: " + e, e);
        }
    }

    /**
     * Parses and validates a header's JSON bytes.
     *
     * @param headerJson the N bytes after the length prefix
     * @param dataLength bytes in the file after the header: every tensor's range must end within them
     * @param fileLabel  names the file in error messages
     * @throws CheckpointException if the header is malformed
     */
    static SafetensorsHeader parse(byte[] headerJson, long dataLength, String fileLabel) {
        JsonNode root = readJson(headerJson, fileLabel);
        if (!root.isObject()) {
            throw error(fileLabel, "header is a JSON %s, not an object", root.getNodeType());
        }
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = Map.of();
        for (Map.Entry<String, JsonNode> field : root.properties()) {
            if (field.getKey().equals(METADATA_KEY)) {
                metadata = parseMetadata(field.getValue(), fileLabel);
            } else {
                tensors.put(field.getKey(), parseTensor(field.getKey(), field.getValue(), dataLength, fileLabel));
            }
        }
        checkNoOverlap(tensors.values(), fileLabel);
        return new SafetensorsHeader(tensors, metadata, LENGTH_PREFIX_BYTES + (long) headerJson.length, dataLength);
    }

    /** The tensors by name, in header order. */
    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    /** The {@code __metadata__} entries; empty if the header has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Absolute file offset of the data section: 8 plus the header length. */
    public long dataStart() {
        return dataStart;
    }

    /** Bytes after the header when the header was read. */
    public long dataLength() {
        return dataLength;
    }

    @Override
    public String toString() {
        return "SafetensorsHeader[" + tensors.size() + " tensors, dataStart=" + dataStart + ", dataLength="
                + dataLength + ", metadata=" + metadata + "]";
    }

    private static void checkHeaderLength(long headerLength, long fileSize, String fileLabel) {
        if (headerLength < 0) {
            throw error(fileLabel, "header length %s is larger than the limit of %d bytes",
                    Long.toUnsignedString(headerLength), MAX_HEADER_BYTES);
        }
        if (headerLength == 0) {
            throw error(fileLabel, "header length is 0");
        }
        if (headerLength > MAX_HEADER_BYTES) {
            throw error(fileLabel, "header length %d is larger than the limit of %d bytes", headerLength,
                    MAX_HEADER_BYTES);
        }
        if (headerLength > fileSize - LENGTH_PREFIX_BYTES) {
            throw error(fileLabel, "header length %d runs past the end of the file (%d bytes)", headerLength, fileSize);
        }
    }

    private static ByteBuffer readFully(FileChannel channel, long position, int length, String fileLabel)
            throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, position + buffer.position()) < 0) {
                throw error(fileLabel, "file ends at byte %d while reading the header", position + buffer.position());
            }
        }
        return buffer.flip();
    }

    private static JsonNode readJson(byte[] headerJson, String fileLabel) {
        ByteBuffer in = ByteBuffer.wrap(headerJson);
        CharBuffer text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(in);
        } catch (CharacterCodingException e) {
            throw error(fileLabel, "header is not valid UTF-8 (header byte %d)", in.position());
        }
        JsonNode root;
        try {
            root = JSON.readTree(text.toString());
        } catch (IOException | RuntimeException e) { // Jackson's errors, including its size and nesting limits
            throw new CheckpointException(fileLabel + ": header is not valid JSON: " + e.getMessage(), e);
        }
        if (root == null || root.isMissingNode()) {
            throw error(fileLabel, "header is empty: no JSON object");
        }
        return root;
    }

    private static Map<String, String> parseMetadata(JsonNode node, String fileLabel) {
        if (!node.isObject()) {
            throw error(fileLabel, "%s is a JSON %s, not an object of strings", METADATA_KEY, node.getNodeType());
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : node.properties()) {
            if (!entry.getValue().isTextual()) {
                throw error(fileLabel, "%s entry '%s' is %s, not a string", METADATA_KEY, shown(entry.getKey()),
                        shown(entry.getValue()));
            }
            metadata.put(entry.getKey(), entry.getValue().textValue());
        }
        return metadata;
    }

    private static TensorInfo parseTensor(String name, JsonNode node, long dataLength, String fileLabel) {
        String where = "tensor '" + shown(name) + "'";
        if (!node.isObject()) {
            throw error(fileLabel, "%s: entry is %s, not an object", where, shown(node));
        }
        JsonNode dtypeNode = required(node, "dtype", where, fileLabel);
        if (!dtypeNode.isTextual()) {
            throw error(fileLabel, "%s: dtype is %s, not a string", where, shown(dtypeNode));
        }
        SafetensorsDtype dtype = SafetensorsDtype.fromHeaderName(dtypeNode.textValue());
        if (dtype == null) {
            throw error(fileLabel, "%s: unknown dtype %s", where, shown(dtypeNode));
        }
        List<Long> shape = parseShape(required(node, "shape", where, fileLabel), where, fileLabel);
        long[] offsets = parseOffsets(required(node, "data_offsets", where, fileLabel), where, fileLabel);
        if (offsets[1] > dataLength) {
            throw error(fileLabel, "%s: data_offsets end %d is past the end of the data section (%d bytes; truncated?)",
                    where, offsets[1], dataLength);
        }
        long expected;
        try {
            expected = TensorInfo.bytesFor(shape, dtype); // dims are non-negative here, so only overflow fails
        } catch (IllegalArgumentException e) {
            throw error(fileLabel, "%s: shape %s of %s overflows a 64-bit byte count", where, shown(shape), dtype);
        }
        if (offsets[1] - offsets[0] != expected) {
            throw error(fileLabel, "%s: data_offsets [%d, %d] hold %d bytes but shape %s of %s needs %d", where,
                    offsets[0], offsets[1], offsets[1] - offsets[0], shown(shape), dtype, expected);
        }
        return new TensorInfo(name, dtype, shape, offsets[0], offsets[1]);
    }

    private static JsonNode required(JsonNode entry, String field, String where, String fileLabel) {
        JsonNode value = entry.get(field);
        if (value == null) {
            throw error(fileLabel, "%s: missing field '%s'", where, field);
        }
        return value;
    }

    private static List<Long> parseShape(JsonNode node, String where, String fileLabel) {
        if (!node.isArray()) {
            throw error(fileLabel, "%s: shape is %s, not an array", where, shown(node));
        }
        List<Long> shape = new ArrayList<>(node.size());
        for (JsonNode dim : node) {
            if (!isLong(dim) || dim.longValue() < 0) {
                throw error(fileLabel, "%s: shape %s has dimension %s, not a non-negative integer", where,
                        shown(node), shown(dim));
            }
            shape.add(dim.longValue());
        }
        return shape;
    }

    private static long[] parseOffsets(JsonNode node, String where, String fileLabel) {
        if (!node.isArray() || node.size() != 2 || !isLong(node.get(0)) || !isLong(node.get(1))
                || node.get(0).longValue() < 0 || node.get(1).longValue() < 0) {
            throw error(fileLabel, "%s: data_offsets is %s, not two non-negative integers", where, shown(node));
        }
        long begin = node.get(0).longValue();
        long end = node.get(1).longValue();
        if (begin > end) {
            throw error(fileLabel, "%s: data_offsets [%d, %d] begin after end", where, begin, end);
        }
        return new long[] {begin, end};
    }

    private static void checkNoOverlap(Iterable<TensorInfo> tensors, String fileLabel) {
        List<TensorInfo> byBegin = new ArrayList<>();
        for (TensorInfo info : tensors) {
            if (info.byteSize() > 0) { // an empty range occupies no bytes
                byBegin.add(info);
            }
        }
        byBegin.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < byBegin.size(); i++) {
            TensorInfo previous = byBegin.get(i - 1);
            TensorInfo current = byBegin.get(i);
            if (current.begin() < previous.end()) {
                throw error(fileLabel, "tensor '%s': data_offsets [%d, %d] overlap tensor '%s' at [%d, %d]",
                        shown(current.name()), current.begin(), current.end(), shown(previous.name()),
                        previous.begin(), previous.end());
            }
        }
    }

    private static boolean isLong(JsonNode node) {
        return node.isIntegralNumber() && node.canConvertToLong();
    }

    /** A value for an error message, cut short: headers may hold huge strings. */
    private static String shown(Object value) {
        String text = String.valueOf(value);
        return text.length() <= MAX_SHOWN_CHARS ? text : text.substring(0, MAX_SHOWN_CHARS) + "...";
    }

    private static CheckpointException error(String fileLabel, String format, Object... args) {
        return new CheckpointException(fileLabel + ": " + String.format(format, args));
    }
}
