package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.SafetensorsWriter;
import org.bytedeco.javacpp.PointerScope;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The trainer's output directory: a Hugging Face checkpoint ({@code config.json}, {@code model.safetensors}, the
 * base model's tokenizer files) with the training state under {@code trainer/} (optimizer moments, fp32 master
 * weights when the checkpoint is stored in lower precision, {@code state.json}).
 *
 * <p>A save writes a complete new directory next to the old one ({@code OUT.tmp}) and swaps it in with renames
 * ({@code OUT -> OUT.prev}, {@code OUT.tmp -> OUT}, then {@code OUT.prev} is deleted), so {@code OUT} always holds the
 * last complete checkpoint; {@link #recover} finishes or undoes a swap a crash interrupted.
 */
final class CheckpointDirectory {
    static final String STATE_DIR = "trainer";
    static final String STATE_FILE = "state.json";
    static final String OPTIMIZER_FILE = "optimizer.safetensors";
    static final String MASTER_FILE = "master.safetensors";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path out;

    CheckpointDirectory(Path out) {
        this.out = out;
    }

    Path path() {
        return out;
    }

    private Path tmp() {
        return out.resolveSibling(out.getFileName() + ".tmp");
    }

    private Path prev() {
        return out.resolveSibling(out.getFileName() + ".prev");
    }

    /** Restores {@code OUT} from {@code OUT.prev} if a swap was interrupted, and removes a half-written temp dir. */
    void recover() throws IOException {
        if (!Files.exists(out) && Files.isDirectory(prev())) {
            Files.move(prev(), out, StandardCopyOption.ATOMIC_MOVE);
        }
        deleteRecursively(tmp());
        deleteRecursively(prev());
    }

    /** Whether {@code OUT} holds a checkpoint with training state to resume from. */
    boolean hasState() {
        return Files.isRegularFile(out.resolve(STATE_DIR).resolve(STATE_FILE));
    }

    JsonNode readState() throws IOException {
        return JSON.readTree(out.resolve(STATE_DIR).resolve(STATE_FILE).toFile());
    }

    Path optimizerFile() {
        return out.resolve(STATE_DIR).resolve(OPTIMIZER_FILE);
    }

    Path masterFile() {
        return out.resolve(STATE_DIR).resolve(MASTER_FILE);
    }

    /** Writes a complete checkpoint and swaps it in. */
    void save(LlamaModel model, ComputeDtype storage, AdamW optimizer, ObjectNode state, Path carryFrom)
            throws IOException {
        Path tmp = tmp();
        deleteRecursively(tmp);
        Files.createDirectories(tmp.resolve(STATE_DIR));
        HfExport.save(model, tmp, storage, HfExport.DEFAULT_MAX_SHARD_BYTES);
        if (carryFrom != null) {
            HfExport.copyCompanionFiles(carryFrom, tmp);
        }
        if (optimizer != null) {
            optimizer.save(tmp.resolve(STATE_DIR).resolve(OPTIMIZER_FILE));
        }
        if (storage != ComputeDtype.F32) {
            try (PointerScope scope = new PointerScope()) {
                SafetensorsWriter.write(tmp.resolve(STATE_DIR).resolve(MASTER_FILE), model.weights(),
                        java.util.Map.of("format", "cllm-master-weights"));
            }
        }
        Files.writeString(tmp.resolve(STATE_DIR).resolve(STATE_FILE),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(state) + "\n");
        if (Files.exists(out)) {
            Files.move(out, prev(), StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
        deleteRecursively(prev());
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            walk.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
