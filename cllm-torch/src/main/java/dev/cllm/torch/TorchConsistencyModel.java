package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.BatchPass;
import dev.cllm.api.BatchedForward;
import dev.cllm.api.CheckpointException;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.PassResult;
import dev.cllm.api.Tokenizer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.InferenceMode;
import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
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
 *
 * <p>{@link #forwardBatch} runs the passes of several of its sessions as one packed forward
 * ({@link LlamaModel#forwardPacked}): for a service that decodes many requests at once.
 */
public final class TorchConsistencyModel implements ConsistencyModel, BatchedForward {
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

    /**
     * Runs the passes of several of this model's sessions as one packed forward pass: their tokens share every weight
     * projection and the MLP, attention runs per session against its own cache with its own mask (see
     * {@link BatchedForward} for what is equal to running them alone). Holds the model open and every session's
     * monitor for the pass, as the sessions' own calls do. Passes that cannot be packed run alone first, in order:
     * those on another model's sessions and prefills longer than {@value TorchSession#PREFILL_CHUNK} tokens. A pass
     * that is invalid fails alone; if the packed pass itself fails (out of memory, say), each pass is run alone.
     * A closed model fails every pass with an {@link IllegalStateException}.
     */
    @Override
    public List<PassResult> forwardBatch(List<BatchPass> passes) {
        BatchedForward.checkDistinct(passes);
        PassResult[] out = new PassResult[passes.size()];
        List<Integer> packable = new ArrayList<>();
        for (int i = 0; i < passes.size(); i++) {
            BatchPass p = passes.get(i);
            if (p.session() instanceof TorchSession s && s.model() == this
                    && !(p.prefill() && p.size() > TorchSession.PREFILL_CHUNK)) {
                packable.add(i);
            } else {
                out[i] = BatchedForward.runAlone(p);
            }
        }
        if (!packable.isEmpty()) {
            try {
                enter();
            } catch (IllegalStateException closedModel) {
                packable.forEach(i -> out[i] = PassResult.failed(closedModel));
                return Arrays.asList(out);
            }
            try {
                packable.sort(Comparator.comparingLong(i -> ((TorchSession) passes.get(i).session()).id()));
                List<TorchSession> sessions = packable.stream().map(i -> (TorchSession) passes.get(i).session())
                        .toList();
                lockAll(sessions, 0, () -> runPacked(passes, packable, out));
            } finally {
                exit();
            }
        }
        return Arrays.asList(out);
    }

    /** Takes the monitors of {@code sessions[i..]} (in id order), then runs {@code body}. */
    private static void lockAll(List<TorchSession> sessions, int i, Runnable body) {
        if (i == sessions.size()) {
            body.run();
            return;
        }
        synchronized (sessions.get(i)) {
            lockAll(sessions, i + 1, body);
        }
    }

    /** The packed pass over {@code indices} of {@code passes}; the model is held open and the sessions locked. */
    private void runPacked(List<BatchPass> passes, List<Integer> indices, PassResult[] out) {
        List<TorchSession.Prepared> prepared = new ArrayList<>();
        List<Integer> at = new ArrayList<>();
        for (int i : indices) {
            BatchPass p = passes.get(i);
            try {
                prepared.add(((TorchSession) p.session()).prepare(p));
                at.add(i);
            } catch (RuntimeException e) {
                out[i] = PassResult.failed(e);
            }
        }
        if (prepared.isEmpty()) {
            return;
        }
        int total = prepared.stream().mapToInt(p -> p.segment().length()).sum();
        int[] tokens = new int[total];
        int offset = 0;
        for (TorchSession.Prepared p : prepared) {
            int[] t = p.pass().tree().tokens();
            System.arraycopy(t, 0, tokens, offset, t.length);
            offset += t.length;
        }
        boolean packedFailed = false;
        llama.acquire();
        try (PointerScope scope = new PointerScope(); InferenceMode guard = new InferenceMode()) {
            Tensor logits = llama.forwardPacked(Tensors.ids(tokens, total, llama.device()),
                    prepared.stream().map(TorchSession.Prepared::segment).toList());          // [1, R, V]
            long row = 0;
            for (int k = 0; k < prepared.size(); k++) {
                TorchSession.Prepared p = prepared.get(k);
                int rows = p.segment().rows();
                try {
                    out[at.get(k)] = PassResult.of(p.session().finish(p, logits.narrow(1, row, rows)));
                } catch (RuntimeException e) {
                    out[at.get(k)] = PassResult.failed(e);
                }
                row += rows;
            }
        } catch (RuntimeException e) {
            LOG.warn("packed pass over {} sessions failed ({}); running each alone", prepared.size(), e.toString());
            packedFailed = true;
        } finally {
            llama.release();
        }
        if (packedFailed) {
            for (int k = 0; k < prepared.size(); k++) {
                if (out[at.get(k)] == null) {
                    TorchSession.Prepared p = prepared.get(k);
                    try {
                        out[at.get(k)] = PassResult.of(p.session().runLocked(p.pass()));
                    } catch (RuntimeException e) {
                        out[at.get(k)] = PassResult.failed(e);
                    }
                }
            }
        }
    }

    /** {@code layers x 2 (keys, values) x kv heads x capacity x head dim} elements of the compute dtype. */
    @Override
    public long cacheBytes(int capacity) {
        LlamaConfig c = llama.config();
        int element = llama.dtypeName().equals("f32") ? Float.BYTES : 2;
        return (long) c.numLayers() * 2 * c.numKvHeads() * capacity * c.headDim() * element;
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
