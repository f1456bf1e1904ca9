package dev.cllm.torch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Writes tensors as a safetensors file that Python's {@code safetensors} reads.
 *
 * <p>Layout: the header JSON is padded with spaces to a multiple of 8 bytes, so the data section starts 8-aligned;
 * tensors follow in map order with no gaps. The file is written next to its destination and moved over it
 * atomically, so readers see the old file or the complete new one, never a partial write.
 */
public final class SafetensorsWriter {
    /** Bytes per write call: a direct buffer holds at most 2 GiB, and 256 MiB stays well below that. */
    private static final int MAX_CHUNK_BYTES = 1 << 28;

    private SafetensorsWriter() {
    }

    /**
     * Writes {@code tensors} (in map order) and {@code metadata} to {@code file}, replacing any existing file.
     *
     * <p>Tensors on another device are copied to the CPU and non-contiguous ones made contiguous; the arguments are
     * not modified and stay owned by the caller. Costs one temporary copy of each tensor that is not already a
     * contiguous CPU tensor.
     *
     * @param metadata written as {@code __metadata__} when not empty (Hugging Face writes {@code "format": "pt"})
     * @throws IllegalArgumentException if a name is empty or {@code "__metadata__"}, a tensor is
     *                                  undefined, its dtype has no safetensors equivalent, or metadata holds a null
     * @throws UncheckedIOException     if the file cannot be written
     */
    @SuppressWarnings("try") // the scope is only closed, never referenced
    public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
        checkArguments(tensors, metadata);
        TorchRuntime.ensureLoaded();
        try (PointerScope scope = new PointerScope()) { // frees the CPU/contiguous copies made here
            List<TensorSpec> specs = new ArrayList<>(tensors.size());
            List<Tensor> data = new ArrayList<>(tensors.size());
            for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                Tensor tensor = hostContiguous(entry.getValue());
                specs.add(new TensorSpec(entry.getKey(), dtypeOf(entry.getKey(), tensor), tensor.shape()));
                data.add(tensor);
            }
            writeStreamed(file, specs, metadata, out -> {
                for (Tensor tensor : data) {
                    writeTensor(out, tensor);
                }
            });
        }
    }

    /** A tensor's entry in a header: its name, dtype and shape (its bytes follow from them). */
    record TensorSpec(String name, SafetensorsDtype dtype, long[] shape) {
        /** Bytes of data: the product of the shape times the dtype's size. */
        long bytes() {
            long n = dtype.byteSize();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    /**
     * Writes a safetensors file whose data {@code data} produces, tensor after tensor in {@code specs} order and
     * exactly as many bytes as the specs add up to, without holding the tensors: the header is planned from the
     * specs alone. Atomic like {@link #write}.
     *
     * @throws UncheckedIOException if the file cannot be written, or {@code data} wrote another number of bytes
     */
    static void writeStreamed(Path file, List<TensorSpec> specs, Map<String, String> metadata, ChannelWriter data) {
        byte[] json = paddedJson(header(specs, metadata));
        long total = specs.stream().mapToLong(TensorSpec::bytes).sum();
        replaceAtomically(file, out -> {
            writeFully(out, ByteBuffer.allocate(SafetensorsHeader.LENGTH_PREFIX_BYTES)
                    .order(ByteOrder.LITTLE_ENDIAN).putLong(0, json.length));
            writeFully(out, ByteBuffer.wrap(json));
            long start = out.position();
            data.writeTo(out);
            if (out.position() - start != total) {
                throw new IOException("wrote " + (out.position() - start) + " bytes of tensor data, the header "
                        + "promises " + total);
            }
        });
    }

    private static ObjectNode header(List<TensorSpec> specs, Map<String, String> metadata) {
        ObjectNode header = SafetensorsHeader.JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode meta = header.putObject(SafetensorsHeader.METADATA_KEY);
            metadata.forEach((key, value) -> meta.put(key, value));
        }
        long offset = 0;
        for (TensorSpec spec : specs) {
            ObjectNode info = header.putObject(spec.name());
            info.put("dtype", spec.dtype().name());
            ArrayNode shape = info.putArray("shape");
            Arrays.stream(spec.shape()).forEach(shape::add);
            info.putArray("data_offsets").add(offset).add(offset + spec.bytes());
            offset += spec.bytes();
        }
        return header;
    }

    /** Writes a file's whole content. */
    interface ChannelWriter {
        void writeTo(FileChannel out) throws IOException;
    }

    /**
     * Writes a temporary file next to {@code file} with {@code body}, syncs it, and moves it over {@code file}.
     *
     * @throws UncheckedIOException if writing or moving fails; the temporary file is then deleted
     */
    static void replaceAtomically(Path file, ChannelWriter body) {
        Path target = file.toAbsolutePath();
        Path temp = target.resolveSibling("." + target.getFileName() + "." + UUID.randomUUID() + ".tmp");
        boolean moved = false;
        try {
            try (FileChannel out = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                body.writeTo(out);
                out.force(true);
            }
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e, e);
        } finally {
            if (!moved) {
                deleteQuietly(temp);
            }
        }
    }

    static void writeFully(FileChannel out, ByteBuffer bytes) throws IOException {
        while (bytes.hasRemaining()) {
            out.write(bytes);
        }
    }

    private static void checkArguments(Map<String, Tensor> tensors, Map<String, String> metadata) {
        metadata.forEach((key, value) -> {
            if (key == null || value == null) {
                throw new IllegalArgumentException("metadata entry " + key + "=" + value + ": null key or value");
            }
        });
        for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
            String name = entry.getKey();
            if (name == null || name.isEmpty() || name.equals(SafetensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException("invalid tensor name '" + name + "': must be non-empty and not "
                        + SafetensorsHeader.METADATA_KEY);
            }
            if (entry.getValue() == null || !entry.getValue().defined()) {
                throw new IllegalArgumentException("tensor '" + name + "' is null or undefined");
            }
        }
    }

    private static Tensor hostContiguous(Tensor tensor) {
        Tensor host = tensor.is_cpu() ? tensor : tensor.cpu();
        return host.contiguous();
    }

    private static SafetensorsDtype dtypeOf(String name, Tensor tensor) {
        try {
            return SafetensorsDtype.of(tensor.scalar_type());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    private static byte[] paddedJson(ObjectNode header) {
        byte[] json;
        try {
            json = SafetensorsHeader.JSON.writeValueAsBytes(header);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a JSON tree", e);
        }
        int padded = (json.length + 7) / 8 * 8;
        byte[] result = Arrays.copyOf(json, padded);
        Arrays.fill(result, json.length, padded, (byte) ' ');
        return result;
    }

    private static void writeTensor(FileChannel out, Tensor tensor) throws IOException {
        long byteSize = tensor.nbytes();
        if (byteSize == 0) {
            return;
        }
        Pointer base = tensor.data_ptr();
        for (long done = 0; done < byteSize; ) {
            int chunk = (int) Math.min(byteSize - done, MAX_CHUNK_BYTES);
            writeFully(out, SafetensorsFile.window(base, done, chunk));
            done += chunk;
        }
    }

    private static void deleteQuietly(Path file) {
        try {
            Files.deleteIfExists(file);
        } catch (IOException e) {
            // best effort: the temporary file is hidden and harmless
        }
    }
}
