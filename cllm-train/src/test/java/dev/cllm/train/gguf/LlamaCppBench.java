package dev.cllm.train.gguf;

import de.kherud.llama.args.CacheType;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Times a GGUF file in llama.cpp through java-llama.cpp, for comparison with our own decoder: (a) AR milliseconds per
 * token over a greedy generation and (b) t(n), milliseconds to evaluate n new tokens after a cached context, as
 * {@code docs/performance.md} measures ours. Run: {@code main(gguf, threads)}; it prints one line per number.
 *
 * <p>What the binding allows: it returns no llama.cpp timings (only text), so both are Java wall-clock times around
 * its calls and include its per-call overhead (JSON parameters, the server's task queue, one JNI round trip). (a) is
 * the wall time of a request generating {@code 1 + arTokens} tokens minus that of one generating 1 token, from the
 * same (then cached) prompt, over {@code arTokens} (EOS banned); streamed tokens cannot be timed one by one because
 * the binding queues them. (b) is a whole completion request whose prompt is the cached prefix plus n fresh ids:
 * llama.cpp's server reuses the KV cache of the common prefix, evaluates the n ids in one batch and samples one token;
 * fresh ids per repetition keep it from reusing them. KV cache F16 (llama.cpp's default), prompts of random normal
 * ids from the file's vocabulary, seed 0; medians over {@code reps} after one untimed warm-up per n.
 */
final class LlamaCppBench {
    /** Results: AR ms per token, and t(n) in ms per n. */
    record Timings(double arMsPerToken, Map<Integer, Double> evalMs) {
    }

    private LlamaCppBench() {
    }

    static Timings measure(Path gguf, int threads, int arTokens, int cached, List<Integer> newTokens, int reps)
            throws IOException {
        GgufReader r = new GgufReader(gguf);
        String arch = r.get("general.architecture");
        int context = r.<Long>get(arch + ".context_length").intValue();
        List<Object> types = r.get("tokenizer.ggml.token_type");
        int[] normal = IntStream.range(0, types.size()).filter(i -> (Integer) types.get(i) == GgufVocabulary.NORMAL)
                .toArray();
        Random random = new Random(0);
        int maxNew = newTokens.stream().mapToInt(Integer::intValue).max().orElse(1);
        if (cached + maxNew + 1 > context || 8 + arTokens > context) {
            throw new IllegalArgumentException("context of " + context + " is too short");
        }
        try (LlamaCpp llama = LlamaCpp.load(gguf, threads, context, CacheType.F16)) {
            // (a) the same fresh prompt generating 1 + arTokens and 1 token: the difference is arTokens AR steps
            double[] ar = new double[reps];
            for (int k = -1; k < reps; k++) { // k = -1: warm-up, not kept
                int[] prompt = ids(random, normal, 8);
                long one = llama.timeRequest(prompt, 1);
                long many = llama.timeRequest(prompt, 1 + arTokens); // the prompt itself is cached by now...
                long oneAgain = llama.timeRequest(prompt, 1);        // ...so compare with a cached one-token request
                if (k >= 0) {
                    ar[k] = (many - Math.min(one, oneAgain)) / 1e6 / arTokens;
                }
            }
            // (b) cached prefix + n fresh ids: n ids evaluated in one batch, one token sampled
            int[] prefix = ids(random, normal, cached);
            llama.timeRequest(prefix, 1);
            Map<Integer, Double> eval = new LinkedHashMap<>();
            for (int n : newTokens) {
                double[] ms = new double[reps];
                for (int k = -1; k < reps; k++) {
                    int[] prompt = Arrays.copyOf(prefix, cached + n);
                    System.arraycopy(ids(random, normal, n), 0, prompt, cached, n);
                    long nanos = llama.timeRequest(prompt, 1);
                    if (k >= 0) {
                        ms[k] = nanos / 1e6;
                    }
                }
                eval.put(n, median(ms));
            }
            return new Timings(median(ar), eval);
        }
    }

    private static int[] ids(Random random, int[] pool, int n) {
        return random.ints(n, 0, pool.length).map(i -> pool[i]).toArray();
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** {@code main(gguf, threads)}: AR over 32 tokens, t(1), t(8), t(16) after 128 cached tokens, 10 repetitions. */
    public static void main(String[] args) throws IOException {
        Path gguf = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        Timings t = measure(gguf, threads, 32, 128, List.of(1, 8, 16), 10);
        System.out.printf("%s, %d threads: AR %.3f ms/token%n", gguf.getFileName(), threads, t.arMsPerToken());
        t.evalMs().forEach((n, ms) -> System.out.printf("t(%d) after 128 cached: %.3f ms%n", n, ms));
    }
}
