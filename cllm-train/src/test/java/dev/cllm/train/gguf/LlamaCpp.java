package dev.cllm.train.gguf;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.LlamaOutput;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.TokenIdPrompts;
import de.kherud.llama.args.CacheType;
import de.kherud.llama.args.LogFormat;
import de.kherud.llama.args.Sampler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongConsumer;

/**
 * A GGUF file loaded in llama.cpp through java-llama.cpp, driven by token ids: greedy continuations as ids.
 *
 * <p>The binding returns text only, one streamed piece per generated token. This class maps each piece back to its id
 * with the file's own vocabulary (read by {@link GgufReader}; pieces as llama.cpp renders them with special tokens
 * shown: a normal token's text with ▁ as a space, other tokens' text as is), and fails if a piece is not exactly one
 * token. That holds for the unigram and SentencePiece vocabularies of our exports, whose pieces are unique.
 * Logging is off (the server's and ggml's). Not thread-safe; close it.
 */
final class LlamaCpp implements AutoCloseable {
    static {
        // the binding extracts its natives to one fixed file in the temp directory, which concurrent builds on one
        // machine would overwrite under each other: give each build its own
        if (System.getProperty("de.kherud.llama.tmpdir") == null) {
            Path dir = Path.of("target", "jllama").toAbsolutePath();
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            System.setProperty("de.kherud.llama.tmpdir", dir.toString());
        }
    }

    private final LlamaModel model;
    private final Map<String, Integer> idByPiece = new HashMap<>();
    private final int eos;

    private LlamaCpp(LlamaModel model, GgufReader gguf) {
        this.model = model;
        List<Object> tokens = gguf.get("tokenizer.ggml.tokens");
        List<Object> types = gguf.get("tokenizer.ggml.token_type");
        for (int id = 0; id < tokens.size(); id++) {
            String text = (String) tokens.get(id);
            String piece = (Integer) types.get(id) == GgufVocabulary.NORMAL ? text.replace(GgufVocabulary.SPACE, " ")
                    : text;
            idByPiece.putIfAbsent(piece, id);
        }
        Long eosId = gguf.get("tokenizer.ggml.eos_token_id");
        this.eos = eosId == null ? -1 : eosId.intValue();
    }

    /**
     * Loads {@code gguf} on the CPU with {@code threads} threads, a context of {@code contextLength} tokens and a
     * KV cache of {@code cache} (llama.cpp's default is F16).
     */
    static LlamaCpp load(Path gguf, int threads, int contextLength, CacheType cache) {
        LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> { });
        GgufReader reader;
        try {
            reader = new GgufReader(gguf);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        ModelParameters p = new ModelParameters().setModel(gguf.toString()).setCtxSize(contextLength)
                .setThreads(threads).setThreadsBatch(threads).setParallel(1).setCacheTypeK(cache).setCacheTypeV(cache)
                .enableSpecial()
                .skipWarmup().disableLog();
        LlamaModel model = new LlamaModel(p);
        LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> { }); // loading re-routes ggml's log: mute again
        return new LlamaCpp(model, reader);
    }

    /**
     * llama.cpp's greedy continuation of {@code prompt} (ids used as given, no BOS added): {@code maxNewTokens}
     * ids, or fewer ending with EOS. Argmax over the raw logits: temperature 0 is the only sampler, no penalties.
     */
    int[] greedy(int[] prompt, int maxNewTokens) {
        return greedy(prompt, maxNewTokens, nanos -> { });
    }

    /** As {@link #greedy(int[], int)}, calling {@code onToken} with {@link System#nanoTime()} at each token. */
    int[] greedy(int[] prompt, int maxNewTokens, LongConsumer onToken) {
        InferenceParameters params = TokenIdPrompts.withPrompt(new InferenceParameters(""), prompt)
                .setNPredict(maxNewTokens).setTemperature(0f).setSamplers(Sampler.TEMPERATURE)
                .setRepeatPenalty(1f).setFrequencyPenalty(0f).setPresencePenalty(0f).setCachePrompt(false);
        List<Integer> ids = new ArrayList<>();
        for (LlamaOutput out : model.generate(params)) {
            long now = System.nanoTime();
            if (out.text.isEmpty()) {
                continue; // the final message of a stream carries no text
            }
            Integer id = idByPiece.get(out.text);
            if (id == null) {
                throw new IllegalStateException("llama.cpp streamed '" + out.text + "', which is not one token");
            }
            ids.add(id);
            onToken.accept(now);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * The greedy continuation of {@code maxNewTokens} ids that does not stop at EOS, as our {@code noStop()} decoder
     * produces it: llama.cpp's server always stops at EOS, so after one it is asked again with everything so far as
     * the prompt.
     */
    int[] greedyNoStop(int[] prompt, int maxNewTokens) {
        int[] out = new int[0];
        while (out.length < maxNewTokens) {
            int[] context = concat(prompt, out);
            int[] next = greedy(context, maxNewTokens - out.length);
            if (next.length == 0) {
                break;
            }
            out = concat(out, next);
        }
        return out;
    }

    private static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Token texts as llama.cpp tokenizes {@code text} (no BOS added). */
    int[] encode(String text) {
        return model.encode(text);
    }

    int eos() {
        return eos;
    }

    @Override
    public void close() {
        model.close();
    }
}
