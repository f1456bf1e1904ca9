package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.CheckpointException;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.Tokenizer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link ConsistencyModel} backed by a libtorch {@link LlamaModel}, loaded from a Hugging Face checkpoint directory.
 *
 * <pre>{@code
 * try (ConsistencyModel model = TorchConsistencyModel.load(Path.of("models/stories260K"))) {
 *     ...
 * }
 * }</pre>
 *
 * <p>Thread-safe: sessions may be opened and used on several threads at once (one session per thread), and the model
 * may be closed from any thread while they decode. {@link #close()} waits for the forward passes in flight, then
 * closes every session (freeing its KV cache) and the tokenizer, and frees the weights; from then on every session
 * call but {@code model()}, {@code capacity()} and {@code close()}, every tokenizer call and {@link #newSession}
 * throw {@link IllegalStateException}. Native memory is never freed under a pass.
 */
public final class TorchConsistencyModel implements ConsistencyModel {
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyModel.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final LlamaModel llama;
    private final HfTokenizer tokenizer;
    private final ModelConfig config;
    private final boolean ownsWeights;
    private final GenerationConfig generation;
    private final Set<TorchSession> sessions = ConcurrentHashMap.newKeySet();
    /**
     * Session passes and {@link #newSession} hold the read lock; {@link #close()} takes the write lock, so it waits
     * for them and nothing they use is freed under them.
     */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    private TorchConsistencyModel(LlamaModel llama, HfTokenizer tokenizer, Set<Integer> extraEos,
                                  GenerationConfig generation, boolean ownsWeights) {
        this.llama = llama;
        this.tokenizer = tokenizer;
        this.generation = generation;
        this.ownsWeights = ownsWeights;
        LlamaConfig c = llama.config();
        Set<Integer> eos = new LinkedHashSet<>(c.eosTokenIds());
        eos.addAll(extraEos);
        int bos = c.bosTokenId();
        if (tokenizer != null) {
            eos.addAll(tokenizer.eosTokenIds());
            bos = bos >= 0 ? bos : tokenizer.bosTokenId().orElse(-1);
        }
        this.config = new ModelConfig(c.architecture(), c.vocabSize(), c.maxPositions(), bos, eos,
                c.parameterCount());
    }

    /** Loads a checkpoint directory on the default device and dtype (CUDA/bf16 when available, else CPU/fp32). */
    public static TorchConsistencyModel load(Path dir) {
        return load(dir, TorchOptions.defaults());
    }

    /**
     * Loads a checkpoint directory: {@code config.json}, {@code model.safetensors} (or a sharded
     * {@code model.safetensors.index.json}), and, when present, {@code tokenizer.json} and
     * {@code generation_config.json} (extra EOS ids).
     *
     * @throws CheckpointException naming the file and the problem
     */
    public static TorchConsistencyModel load(Path dir, TorchOptions options) {
        if (!Files.isDirectory(dir)) {
            throw new CheckpointException(dir + ": not a directory (expected a Hugging Face checkpoint directory)");
        }
        Path configFile = dir.resolve("config.json");
        if (!Files.isRegularFile(configFile)) {
            throw new CheckpointException(configFile + ": missing (every checkpoint directory needs config.json)");
        }
        LlamaConfig config = LlamaConfig.read(configFile);
        long start = System.nanoTime();
        LlamaModel llama = LlamaModel.load(dir, config, options);
        HfTokenizer tokenizer = null;
        try {
            Path tokenizerFile = dir.resolve("tokenizer.json");
            if (Files.isRegularFile(tokenizerFile)) {
                tokenizer = HfTokenizer.load(dir, config);
                if (tokenizer.vocabSize() > config.vocabSize()) {
                    throw new CheckpointException(tokenizerFile + ": tokenizer has " + tokenizer.vocabSize()
                            + " ids but config.json's vocab_size is " + config.vocabSize());
                }
            }
            Set<Integer> extraEos = generationEos(dir.resolve("generation_config.json"), config);
            GenerationConfig generation = GenerationConfigJson.read(dir);
            LOG.info("loaded {} from {} in {} ms on {} ({}){}", config, dir, (System.nanoTime() - start) / 1_000_000,
                    llama.deviceName(), llama.dtypeName(), tokenizer == null ? ", no tokenizer" : "");
            return new TorchConsistencyModel(llama, tokenizer, extraEos, generation, true);
        } catch (RuntimeException e) {
            if (tokenizer != null) {
                tokenizer.close();
            }
            llama.close();
            throw e;
        }
    }

    /** Wraps an existing model (ownership passes: closing this closes it); no tokenizer. */
    public static TorchConsistencyModel of(LlamaModel llama) {
        return new TorchConsistencyModel(llama, null, Set.of(), GenerationConfig.defaults(), true);
    }

    /**
     * A view of a model that stays its owner's: closing the view closes its sessions, not the weights. For decoding
     * with weights that are being trained (the evaluation hook of a trainer). No tokenizer.
     */
    public static TorchConsistencyModel borrowing(LlamaModel llama) {
        return new TorchConsistencyModel(llama, null, Set.of(), GenerationConfig.defaults(), false);
    }

    private static Set<Integer> generationEos(Path file, LlamaConfig config) {
        if (!Files.isRegularFile(file)) {
            return Set.of();
        }
        try {
            JsonNode root = JSON.readTree(file.toFile());
            JsonNode eos = root == null ? null : root.get("eos_token_id");
            Set<Integer> out = new LinkedHashSet<>();
            if (eos != null && eos.isArray()) {
                eos.forEach(n -> out.add(n.asInt()));
            } else if (eos != null && eos.isIntegralNumber()) {
                out.add(eos.asInt());
            }
            for (int id : out) {
                if (id < 0 || id >= config.vocabSize()) {
                    throw new CheckpointException(file + ": eos_token_id " + id + " outside the vocabulary [0, "
                            + config.vocabSize() + ")");
                }
            }
            return out;
        } catch (IOException e) {
            throw new CheckpointException(file + ": invalid JSON: " + e.getMessage(), e);
        }
    }

    /** The underlying libtorch model (borrowed), for training and benchmarks. */
    public LlamaModel llama() {
        return llama;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** The checkpoint's {@code generation_config.json} over Hugging Face's defaults ({@link GenerationConfigJson}). */
    @Override
    public GenerationConfig generationConfig() {
        return generation;
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /**
     * Opens a session (see {@link ConsistencyModel#newSession(int)}).
     *
     * @throws IllegalStateException if the model is closed
     */
    @Override
    public DecodingSession newSession(int capacity) {
        if (closed) {
            throw new IllegalStateException("model is closed");
        }
        if (capacity < 2 || capacity > config.contextLength()) {
            throw new IllegalArgumentException("session capacity " + capacity + " outside [2, "
                    + config.contextLength() + "] (the model's context length)");
        }
        enter();
        try {
            TorchSession session = new TorchSession(this, llama, capacity);
            sessions.add(session);
            return session;
        } finally {
            exit();
        }
    }

    /**
     * Holds the model open (the read lock) for one session call that uses native memory, until {@link #exit()}.
     *
     * @throws IllegalStateException if the model is closed
     */
    void enter() {
        lifecycle.readLock().lock();
        if (closed) {
            lifecycle.readLock().unlock();
            throw new IllegalStateException("model is closed");
        }
    }

    void exit() {
        lifecycle.readLock().unlock();
    }

    void sessionClosed(TorchSession session) {
        sessions.remove(session);
    }

    /** Number of sessions open right now. */
    public int openSessions() {
        return sessions.size();
    }

    /**
     * Waits for the forward passes in flight on other threads, then closes every open session and the tokenizer and
     * (unless this is a {@link #borrowing} view) frees the weights. Idempotent; callable from any thread.
     */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            for (TorchSession s : sessions) {
                s.close();
            }
            if (tokenizer != null) {
                tokenizer.close();
            }
            if (ownsWeights) {
                llama.close();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    @Override
    public String toString() {
        return "TorchConsistencyModel[" + llama.config() + " on " + llama.deviceName() + "/" + llama.dtypeName() + "]";
    }
}
