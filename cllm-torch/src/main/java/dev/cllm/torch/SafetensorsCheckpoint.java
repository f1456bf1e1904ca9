package dev.cllm.torch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.CheckpointException;
import dev.cllm.torch.SafetensorsHeader.TensorInfo;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The weights of a checkpoint directory: a single {@code model.safetensors}, or the shards listed in
 * {@code model.safetensors.index.json} (Hugging Face layout).
 *
 * <p>{@link #open} opens every file and validates every header, so a missing shard or a tensor missing from its
 * shard is reported before any tensor is read; tensor bytes are only read by {@link #read}. The caller closes the
 * checkpoint; {@link #close()} is idempotent and use after it throws {@link IllegalStateException}.
 */
public final class SafetensorsCheckpoint implements AutoCloseable {
    static final String SINGLE_FILE = "model.safetensors";
    static final String INDEX_FILE = "model.safetensors.index.json";
    /** Shard names as Hugging Face writes them: {@code model-00001-of-00002.safetensors}. */
    private static final String SHARD_FORMAT = "model-%05d-of-%05d.safetensors";
    /** The metadata {@code save_pretrained} writes into every file. */
    static final Map<String, String> FORMAT_PT = Map.of("format", "pt");

    private final Path dir;
    private final Map<String, SafetensorsFile> fileByTensor;
    private final List<SafetensorsFile> files;
    private volatile boolean closed;

    private SafetensorsCheckpoint(Path dir, Map<String, SafetensorsFile> fileByTensor, List<SafetensorsFile> files) {
        this.dir = dir;
        this.fileByTensor = Collections.unmodifiableMap(fileByTensor);
        this.files = files;
    }

    /**
     * Opens the weights in {@code dir}: {@code model.safetensors} if present, else the sharded index.
     *
     * @throws CheckpointException if neither file exists, the index or a header is malformed, a shard is missing or
     *                             outside {@code dir}, or a shard lacks a tensor the index assigns to it
     */
    public static SafetensorsCheckpoint open(Path dir) {
        Path single = dir.resolve(SINGLE_FILE);
        Path index = dir.resolve(INDEX_FILE);
        if (Files.isRegularFile(single)) {
            SafetensorsFile file = SafetensorsFile.open(single);
            Map<String, SafetensorsFile> fileByTensor = new LinkedHashMap<>();
            file.header().tensors().keySet().forEach(name -> fileByTensor.put(name, file));
            return new SafetensorsCheckpoint(dir, fileByTensor, List.of(file));
        }
        if (Files.isRegularFile(index)) {
            return openSharded(dir, index);
        }
        throw new CheckpointException(dir + ": no weights: neither " + SINGLE_FILE + " nor " + INDEX_FILE + " exists");
    }

    /** Names of all tensors, in file (or index) order. */
    public Set<String> names() {
        ensureOpen();
        return fileByTensor.keySet();
    }

    /** Whether the checkpoint has a tensor of this name. */
    /** The file that holds tensor {@code name} (a shard, or {@code model.safetensors}), for error messages. */
    public Path fileOf(String name) {
        SafetensorsFile file = fileByTensor.get(name);
        return file == null ? dir : file.path();
    }

    public boolean contains(String name) {
        ensureOpen();
        return fileByTensor.containsKey(name);
    }

    /**
     * The dtype, shape and byte range of one tensor, without reading it.
     *
     * @throws CheckpointException if there is no such tensor
     */
    public TensorInfo info(String name) {
        return file(name).header().tensors().get(name);
    }

    /**
     * Reads one tensor into a new contiguous CPU tensor; ownership as in {@link SafetensorsFile#read}.
     *
     * @throws CheckpointException if there is no such tensor or its file is truncated
     */
    public Tensor read(String name) {
        return file(name).read(name);
    }

    /** Closes every file; idempotent. Tensors already read stay valid. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        closeAll(files, null);
    }

    @Override
    public String toString() {
        return "SafetensorsCheckpoint[" + dir + ", " + fileByTensor.size() + " tensors in " + files.size() + " files]";
    }

    /**
     * Writes {@code tensors} (in map order) into {@code dir}: one {@code model.safetensors} if they fit in
     * {@code maxShardBytes}, otherwise shards of at most {@code maxShardBytes} each (a larger tensor gets a shard of
     * its own) plus {@code model.safetensors.index.json}.
     *
     * <p>Creates {@code dir} if needed and deletes the other layout's entry file (a stale index or single file) so
     * that {@link #open} sees the new weights; shard files of an earlier, differently sharded write are left alone.
     *
     * @throws IllegalArgumentException if {@code maxShardBytes < 1} or the writer rejects a tensor
     * @throws UncheckedIOException     if a file cannot be written
     */
    public static void writeSharded(Path dir, Map<String, Tensor> tensors, long maxShardBytes) {
        if (maxShardBytes < 1) {
            throw new IllegalArgumentException("maxShardBytes must be >= 1, got " + maxShardBytes);
        }
        TorchRuntime.ensureLoaded();
        Map<String, Long> bytes = new LinkedHashMap<>();
        tensors.forEach((name, tensor) -> bytes.put(name, Objects.requireNonNull(tensor, name).nbytes()));
        writeLayout(dir, bytes, maxShardBytes, (file, names) -> {
            Map<String, Tensor> shard = new LinkedHashMap<>();
            names.forEach(name -> shard.put(name, tensors.get(name)));
            SafetensorsWriter.write(file, shard, FORMAT_PT);
        });
    }

    /** Writes one weights file holding the named tensors, in order (atomically, as {@link SafetensorsWriter} does). */
    interface ShardWriter {
        void write(Path file, List<String> names);
    }

    /**
     * The file layout of {@link #writeSharded} for tensors known by name and byte size only: plans the shards (in map
     * order, at most {@code maxShardBytes} each, a larger tensor alone), has {@code writer} write each file, then
     * writes the index (when sharded) and deletes the other layout's entry file.
     *
     * @throws UncheckedIOException if a file cannot be written
     */
    static void writeLayout(Path dir, Map<String, Long> bytes, long maxShardBytes, ShardWriter writer) {
        if (maxShardBytes < 1) {
            throw new IllegalArgumentException("maxShardBytes must be >= 1, got " + maxShardBytes);
        }
        List<List<String>> shards = planShards(bytes, maxShardBytes);
        try {
            Files.createDirectories(dir);
            if (shards.size() == 1) {
                writer.write(dir.resolve(SINGLE_FILE), shards.get(0));
                Files.deleteIfExists(dir.resolve(INDEX_FILE));
                return;
            }
            Map<String, String> weightMap = new LinkedHashMap<>();
            for (int i = 0; i < shards.size(); i++) {
                String shardName = String.format(SHARD_FORMAT, i + 1, shards.size());
                writer.write(dir.resolve(shardName), shards.get(i));
                shards.get(i).forEach(name -> weightMap.put(name, shardName));
            }
            writeIndex(dir.resolve(INDEX_FILE), weightMap, bytes.values().stream().mapToLong(Long::longValue).sum());
            Files.deleteIfExists(dir.resolve(SINGLE_FILE));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint weights to " + dir + ": " + e, e);
        }
    }

    private static SafetensorsCheckpoint openSharded(Path dir, Path index) {
        Map<String, String> weightMap = readWeightMap(index);
        Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
        try {
            Map<String, SafetensorsFile> fileByTensor = new LinkedHashMap<>();
            for (Map.Entry<String, String> entry : weightMap.entrySet()) {
                String tensor = entry.getKey();
                String shardName = entry.getValue();
                SafetensorsFile shard = shards.get(shardName);
                if (shard == null) {
                    shard = SafetensorsFile.open(shardPath(dir, index, tensor, shardName));
                    shards.put(shardName, shard);
                }
                if (!shard.header().tensors().containsKey(tensor)) {
                    throw new CheckpointException(index + ": weight_map puts tensor '" + tensor + "' in shard '"
                            + shardName + "', but " + shard.path() + " has no such tensor");
                }
                fileByTensor.put(tensor, shard);
            }
            return new SafetensorsCheckpoint(dir, fileByTensor, List.copyOf(shards.values()));
        } catch (RuntimeException e) {
            closeAll(shards.values(), e);
            throw e;
        }
    }

    private static Map<String, String> readWeightMap(Path index) {
        JsonNode root;
        try {
            root = SafetensorsHeader.JSON.readTree(index.toFile());
        } catch (JsonProcessingException e) {
            throw new CheckpointException(index + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(index + ": cannot read: " + e, e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(index + ": not a JSON object");
        }
        JsonNode weightMap = root.get("weight_map");
        if (weightMap == null || !weightMap.isObject()) {
            throw new CheckpointException(index + ": weight_map is " + (weightMap == null ? "missing" : weightMap)
                    + ", expected an object from tensor name to shard file");
        }
        Map<String, String> result = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
            if (!entry.getValue().isTextual()) {
                throw new CheckpointException(index + ": weight_map entry '" + entry.getKey() + "' is "
                        + entry.getValue() + ", not a file name");
            }
            result.put(entry.getKey(), entry.getValue().textValue());
        }
        return result;
    }

    /** The shard's path, which must be a file inside {@code dir}. */
    private static Path shardPath(Path dir, Path index, String tensor, String shardName) {
        Path base = dir.toAbsolutePath().normalize();
        Path path;
        try {
            path = base.resolve(shardName).normalize();
        } catch (InvalidPathException e) {
            throw new CheckpointException(index + ": weight_map entry '" + tensor + "' names an invalid path '"
                    + shardName + "'", e);
        }
        if (!path.startsWith(base) || path.equals(base)) {
            throw new CheckpointException(index + ": weight_map entry '" + tensor + "' names shard '" + shardName
                    + "' outside the checkpoint directory " + dir);
        }
        if (!Files.isRegularFile(path)) {
            throw new CheckpointException(index + ": weight_map puts tensor '" + tensor + "' in shard '" + shardName
                    + "', but " + path + " does not exist");
        }
        return path;
    }

    private static List<List<String>> planShards(Map<String, Long> bytes, long maxShardBytes) {
        List<List<String>> shards = new ArrayList<>();
        List<String> current = new ArrayList<>();
        long currentBytes = 0;
        for (Map.Entry<String, Long> entry : bytes.entrySet()) {
            long size = entry.getValue();
            if (!current.isEmpty() && currentBytes + size > maxShardBytes) {
                shards.add(current);
                current = new ArrayList<>();
                currentBytes = 0;
            }
            current.add(entry.getKey());
            currentBytes += size;
        }
        if (!current.isEmpty() || shards.isEmpty()) {
            shards.add(current);
        }
        return shards;
    }

    private static void writeIndex(Path file, Map<String, String> weightMap, long totalBytes) throws IOException {
        ObjectNode index = SafetensorsHeader.JSON.createObjectNode();
        index.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = index.putObject("weight_map");
        weightMap.forEach((tensor, shard) -> map.put(tensor, shard));
        byte[] json = SafetensorsHeader.JSON.writerWithDefaultPrettyPrinter().writeValueAsBytes(index);
        SafetensorsWriter.replaceAtomically(file, out -> SafetensorsWriter.writeFully(out, ByteBuffer.wrap(json)));
    }

    private SafetensorsFile file(String name) {
        ensureOpen();
        SafetensorsFile file = fileByTensor.get(name);
        if (file == null) {
            throw new CheckpointException(dir + ": no tensor '" + name + "' in the checkpoint");
        }
        return file;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("checkpoint " + dir + " is closed");
        }
    }

    /** Closes all files; failures are added to {@code cause} if given, else the first is thrown. */
    private static void closeAll(Iterable<SafetensorsFile> files, RuntimeException cause) {
        RuntimeException failure = cause;
        for (SafetensorsFile file : files) {
            try {
                file.close();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure != null && failure != cause) {
            throw failure;
        }
    }
}
