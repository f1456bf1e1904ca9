package dev.cllm.torch;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.ChatTemplate;
import dev.cllm.api.CheckpointException;
import dev.cllm.api.Tokenizer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's binding of the Rust {@code tokenizers} library (the same code
 * Python's fast tokenizers run).
 *
 * <p>Special ids come from {@code tokenizer_config.json}'s {@code bos_token}/{@code eos_token} when present, else
 * from {@code config.json}. The chat template, when the checkpoint has one, is {@code tokenizer_config.json}'s
 * {@code chat_template} ({@link JinjaChatTemplate}).
 *
 * <p>Thread-safe, closing included: {@link #close()} waits for the calls in flight on other threads, then frees the
 * native tokenizer; every call after it throws {@link IllegalStateException}. A tokenizer that came with a
 * {@link TorchConsistencyModel} is closed by the model.
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(HfTokenizer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    private static boolean djlLoaded; // guarded by HfTokenizer.class

    private final HuggingFaceTokenizer tokenizer;
    private final Map<String, Integer> vocab;
    private final int vocabSize;
    private final int bosTokenId;
    private final Set<Integer> eosTokenIds;
    private final ChatTemplate chatTemplate;      // null when the checkpoint has none
    /** Calls into the native tokenizer hold the read lock; {@link #close()} takes the write lock. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    private HfTokenizer(HuggingFaceTokenizer tokenizer, Map<String, Integer> vocab, int bosTokenId,
                        Set<Integer> eosTokenIds, ChatTemplate chatTemplate) {
        this.tokenizer = tokenizer;
        this.vocab = vocab;
        this.vocabSize = vocab.values().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        this.bosTokenId = bosTokenId;
        this.eosTokenIds = Set.copyOf(eosTokenIds);
        this.chatTemplate = chatTemplate;
    }

    /**
     * Opens a {@code tokenizer.json} on its own (special ids from a {@code tokenizer_config.json} beside it, if any).
     * The caller closes it.
     *
     * @throws dev.cllm.api.CheckpointException naming the file if it cannot be read or parsed
     */
    public static HfTokenizer open(Path tokenizerJson) {
        Path dir = tokenizerJson.toAbsolutePath().getParent();
        if (!tokenizerJson.getFileName().toString().equals("tokenizer.json")) {
            throw new IllegalArgumentException(tokenizerJson + ": expected a file named tokenizer.json");
        }
        return load(dir, null);
    }

    /** Loads {@code dir/tokenizer.json} (and {@code tokenizer_config.json} if present). */
    static HfTokenizer load(Path dir, LlamaConfig config) {
        Path file = dir.resolve("tokenizer.json");
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": invalid JSON: " + e.getMessage(), e);
        }
        Map<String, Integer> vocab = vocabulary(file, root);
        int bos = config == null ? -1 : config.bosTokenId();
        Set<Integer> eos = new LinkedHashSet<>(config == null ? Set.of() : config.eosTokenIds());
        Path tokenizerConfig = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(tokenizerConfig)) {
            try {
                JsonNode tc = JSON.readTree(tokenizerConfig.toFile());
                Integer b = specialId(tc.get("bos_token"), vocab);
                Integer e = specialId(tc.get("eos_token"), vocab);
                if (b != null) {
                    bos = b;
                }
                if (e != null) {
                    eos.add(e);
                }
            } catch (IOException ex) {
                throw new CheckpointException(tokenizerConfig + ": invalid JSON: " + ex.getMessage(), ex);
            }
        }
        // the template's end-of-turn tokens are looked for among the tokenizer's added tokens too
        Set<String> addedTokens = new LinkedHashSet<>();
        root.path("added_tokens").forEach(t -> addedTokens.add(t.path("content").asText()));
        ChatTemplate chatTemplate = JinjaChatTemplate.read(dir, addedTokens).orElse(null);
        HuggingFaceTokenizer djl;
        try {
            djl = newDjlTokenizer(file);
        } catch (IOException | RuntimeException e) {
            throw new CheckpointException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        return new HfTokenizer(djl, vocab, bos, eos, chatTemplate);
    }

    /**
     * DJL's tokenizer. The first one in the process loads DJL's native library, whose platform detection asks for the
     * number of CUDA GPUs even though the tokenizer runs on the CPU; where a CUDA runtime is installed without a
     * usable driver, DJL's {@code ai.djl.util.cuda.CudaUtils} logs "Failed to detect GPU count" at WARN (twice). No DJL
     * property turns that off ({@code ai.djl.util.cuda.fork} forks a JVM instead), so CudaUtils' own logging switch
     * (the one its {@code main} uses) is off for that first load, and back on afterwards. Nothing else changes: DJL
     * still detects the platform the same way.
     */
    private static HuggingFaceTokenizer newDjlTokenizer(Path file) throws IOException {
        Map<String, String> options = Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false");
        synchronized (HfTokenizer.class) {
            if (djlLoaded) {
                return HuggingFaceTokenizer.newInstance(file, options);
            }
            Field logging = cudaUtilsLogging();
            try {
                setQuietly(logging, false);
                HuggingFaceTokenizer tokenizer = HuggingFaceTokenizer.newInstance(file, options);
                djlLoaded = true;
                return tokenizer;
            } finally {
                setQuietly(logging, true);
            }
        }
    }

    /** CudaUtils' private static {@code logging} flag, or null where it is not there (another DJL version). */
    private static Field cudaUtilsLogging() {
        try {
            Field f = Class.forName("ai.djl.util.cuda.CudaUtils").getDeclaredField("logging");
            f.setAccessible(true);
            return f.getType() == boolean.class ? f : null;
        } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
            LOG.debug("DJL's CudaUtils logging switch not found ({}): its GPU detection may log", e.toString());
            return null;
        }
    }

    private static void setQuietly(Field flag, boolean value) {
        if (flag != null) {
            try {
                flag.setBoolean(null, value);
            } catch (ReflectiveOperationException | RuntimeException e) {
                LOG.debug("cannot set DJL's CudaUtils logging switch: {}", e.toString());
            }
        }
    }

    private static Map<String, Integer> vocabulary(Path file, JsonNode root) {
        Map<String, Integer> vocab = new HashMap<>();
        JsonNode model = root.path("model");
        JsonNode v = model.get("vocab");
        if (v != null && v.isObject()) {                  // BPE, WordLevel, WordPiece: {"token": id}
            v.fields().forEachRemaining(e -> vocab.put(e.getKey(), e.getValue().asInt()));
        } else if (v != null && v.isArray()) {            // Unigram: [["piece", score], ...]
            for (int i = 0; i < v.size(); i++) {
                vocab.put(v.get(i).path(0).asText(), i);
            }
        } else {
            throw new CheckpointException(file + ": field 'model.vocab' missing or not an object/array");
        }
        for (JsonNode added : root.path("added_tokens")) {
            vocab.put(added.path("content").asText(), added.path("id").asInt());
        }
        return vocab;
    }

    private static Integer specialId(JsonNode token, Map<String, Integer> vocab) {
        if (token == null || token.isNull()) {
            return null;
        }
        String content = token.isObject() ? token.path("content").asText() : token.asText();
        return vocab.get(content);
    }

    @Override
    public int[] encode(String text) {
        enter();
        try {
            return toInts(tokenizer.encode(text, true, false).getIds());
        } finally {
            exit();
        }
    }

    @Override
    public int[] encodeWithoutSpecialTokens(String text) {
        enter();
        try {
            return toInts(tokenizer.encode(text, false, false).getIds());
        } finally {
            exit();
        }
    }

    @Override
    public String decode(int[] ids) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            wide[i] = ids[i];
        }
        enter();
        try {
            return tokenizer.decode(wide, true);
        } finally {
            exit();
        }
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public int vocabSize() {
        checkOpen();
        return vocabSize;
    }

    @Override
    public OptionalInt tokenId(String token) {
        checkOpen();
        Integer id = vocab.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    @Override
    public OptionalInt bosTokenId() {
        checkOpen();
        return bosTokenId < 0 ? OptionalInt.empty() : OptionalInt.of(bosTokenId);
    }

    @Override
    public Set<Integer> eosTokenIds() {
        checkOpen();
        return eosTokenIds;
    }

    @Override
    public Optional<ChatTemplate> chatTemplate() {
        checkOpen();
        return Optional.ofNullable(chatTemplate);
    }

    /** Holds the native tokenizer for one call (the read lock). @throws IllegalStateException if closed */
    private void enter() {
        lifecycle.readLock().lock();
        if (closed) {
            lifecycle.readLock().unlock();
            throw closedException();
        }
    }

    private void exit() {
        lifecycle.readLock().unlock();
    }

    private void checkOpen() {
        if (closed) {
            throw closedException();
        }
    }

    private static IllegalStateException closedException() {
        return new IllegalStateException("tokenizer is closed");
    }

    /** Waits for the calls in flight, then releases the native tokenizer. Idempotent. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                tokenizer.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
