package dev.cllm.bench;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.CacheType;
import de.kherud.llama.args.LogFormat;
import de.kherud.llama.args.Sampler;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.reflect.Field;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

/**
 * llama.cpp as a peer of our engine: a GGUF file loaded through the de.kherud:llama binding (java-llama.cpp, which
 * bundles llama.cpp's natives) and timed the way {@link PeerBenchmark} times ours. Token-id prompts, CPU, KV cache F16
 * (llama.cpp's default), logging off. Not thread-safe; close it.
 *
 * <p>What the binding allows: it returns no llama.cpp timings (only text), so both numbers are Java wall-clock times
 * around its calls and include its per-call overhead (JSON parameters, the server's task queue, one JNI round trip).
 * <ul>
 * <li>AR ms per token: the wall time of a request generating {@code 1 + arTokens} tokens minus that of one generating 1
 *     token, from the same {@code context}-token prompt (cached by then), over {@code arTokens}, EOS banned; streamed
 *     tokens cannot be timed one by one because the binding queues them.</li>
 * <li>t(n): a whole completion request whose prompt is the cached {@code context}-token prefix plus n fresh ids:
 *     llama.cpp's server reuses the KV cache of the common prefix, evaluates the n ids in one batch and samples one
 *     token (logits for the last position only, where ours computes them for all n). Fresh ids per repetition keep it
 *     from reusing them.</li>
 * </ul>
 * Prompts are pseudo-random ids in [3, vocab) from a fixed seed; medians over {@code reps} after one untimed warm-up.
 */
final class LlamaCppPeer implements AutoCloseable {
    /** The binding's version, for reports. */
    static final String BINDING = "de.kherud:llama 4.2.0";

    /** AR ms per token and t(n) in ms, index j for {@code ns[j]}. */
    record Timings(double arMsPerToken, double[] passMs) {
    }

    private final LlamaModel model;

    private LlamaCppPeer(LlamaModel model) {
        this.model = model;
    }

    /**
     * Loads llama.cpp's natives now, or fails naming this platform. The binding extracts them into
     * {@code de.kherud.llama.tmpdir}, one fixed file name that concurrent processes would overwrite under each other:
     * unless that property is set, each process gets its own temporary folder, deleted when it exits.
     *
     * @throws IllegalStateException if the natives cannot be loaded here
     */
    static synchronized void ensureNatives() {
        if (System.getProperty("de.kherud.llama.tmpdir") == null) {
            try {
                Path dir = Files.createTempDirectory("cllm-llama-natives-");
                Runtime.getRuntime().addShutdownHook(new Thread(() -> PeerBenchmark.deleteTree(dir)));
                System.setProperty("de.kherud.llama.tmpdir", dir.toString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        PrintStream out = System.out;
        System.setOut(System.err);   // the binding reports the extraction of its natives on stdout: keep it clean
        try {
            Class.forName("de.kherud.llama.LlamaModel", true, LlamaCppPeer.class.getClassLoader());
            LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> { });
        } catch (ClassNotFoundException | LinkageError e) {
            Throwable cause = e instanceof ExceptionInInitializerError && e.getCause() != null ? e.getCause() : e;
            throw new IllegalStateException("llama.cpp's natives (" + BINDING + ") cannot be loaded on this platform, "
                    + platform() + ": " + cause, e);
        } finally {
            System.setOut(out);
        }
    }

    /** The platform in words: {@code os.name os.version (os.arch)}. */
    static String platform() {
        return System.getProperty("os.name") + " " + System.getProperty("os.version") + " ("
                + System.getProperty("os.arch") + ")";
    }

    /** Loads {@code gguf} on the CPU with {@code threads} threads and a context of {@code contextLength} tokens. */
    static LlamaCppPeer load(Path gguf, int threads, int contextLength) {
        ensureNatives();
        ModelParameters p = new ModelParameters().setModel(gguf.toString()).setCtxSize(contextLength)
                .setThreads(threads).setThreadsBatch(threads).setParallel(1).setCacheTypeK(CacheType.F16)
                .setCacheTypeV(CacheType.F16).enableSpecial().skipWarmup().disableLog();
        LlamaModel model = new LlamaModel(p);
        LlamaModel.setLogger(LogFormat.TEXT, (level, message) -> { });   // loading re-routes ggml's log: mute again
        return new LlamaCppPeer(model);
    }

    /**
     * Measures AR ms per token over {@code arTokens} tokens after a {@code context}-token prompt, and t(n) for every
     * n of {@code ns} after {@code context} cached tokens; medians over {@code reps} after one warm-up.
     */
    Timings measure(int vocab, int context, int arTokens, int[] ns, int reps) {
        Random random = new Random(0);
        double[] ar = new double[reps];
        for (int k = -1; k < reps; k++) {                          // k = -1: warm-up, not kept
            int[] prompt = ids(random, vocab, context);
            long one = timeRequest(prompt, 1);
            long many = timeRequest(prompt, 1 + arTokens);          // the prompt itself is cached by now...
            long oneAgain = timeRequest(prompt, 1);                 // ...so compare with a cached one-token request
            if (k >= 0) {
                ar[k] = (many - Math.min(one, oneAgain)) / 1e6 / arTokens;
            }
        }
        int[] prefix = ids(random, vocab, context);
        timeRequest(prefix, 1);
        double[] pass = new double[ns.length];
        for (int j = 0; j < ns.length; j++) {
            double[] ms = new double[reps];
            for (int k = -1; k < reps; k++) {
                int[] prompt = Arrays.copyOf(prefix, context + ns[j]);
                System.arraycopy(ids(random, vocab, ns[j]), 0, prompt, context, ns[j]);
                long nanos = timeRequest(prompt, 1);
                if (k >= 0) {
                    ms[k] = nanos / 1e6;
                }
            }
            pass[j] = WeightFormats.median(ms);
        }
        return new Timings(WeightFormats.median(ar), pass);
    }

    /**
     * Wall-clock nanoseconds of one completion request: {@code prompt} evaluated (its prefix cached from the previous
     * request reused), then {@code n} tokens generated greedily with EOS banned.
     */
    long timeRequest(int[] prompt, int n) {
        InferenceParameters params = withPrompt(new InferenceParameters(""), prompt).setNPredict(n)
                .setTemperature(0f).setSamplers(Sampler.TEMPERATURE).setIgnoreEos(true).setCachePrompt(true);
        long start = System.nanoTime();
        model.complete(params);
        return System.nanoTime() - start;
    }

    private static int[] ids(Random random, int vocab, int n) {
        return random.ints(n, 3, vocab).toArray();
    }

    /**
     * {@code parameters} with its prompt replaced by token ids. The binding only offers a text prompt, but passes its
     * parameters as JSON to llama.cpp's server code, which also takes {@code "prompt": [id, ...]} and uses the ids as
     * they are (no BOS added); the binding keeps that JSON map package-private, so it is reached by reflection.
     */
    @SuppressWarnings("unchecked")
    static InferenceParameters withPrompt(InferenceParameters parameters, int[] ids) {
        if (ids.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        try {
            Field field = Class.forName("de.kherud.llama.JsonParameters").getDeclaredField("parameters");
            field.setAccessible(true);
            ((Map<String, String>) field.get(parameters)).put("prompt", Arrays.toString(ids));
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot set a token-id prompt through " + BINDING + ": " + e, e);
        }
        return parameters;
    }

    @Override
    public void close() {
        model.close();
    }
}
