package dev.cllm.bench;

import dev.cllm.train.gguf.GgufType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The results of one benchmark run, as plain records: forward cost against n, generation (AR against Jacobi
 * decoding), trajectory collection, the peer benchmark against llama.cpp, and the models that were skipped. A number
 * is {@code null} where the benchmark produced none (then {@code error} says why). Ratios and speedups are computed
 * within the run.
 *
 * @param forwardCost one row per model, dtype, threads, context and n
 * @param generation  one row per model, dtype, threads, max new tokens, decoder and block size (1 = AR)
 * @param collection  one row per model, dtype, threads, max new tokens and block size
 * @param peers       the peer benchmark ({@link PeerBenchmark}): one run per model and threads setting
 * @param serving     the serving benchmark ({@link ServingBenchmark}): one row per model, decoder, client count and
 *                    mode
 * @param skipped     models left out of a benchmark, with the reason
 * @param jmh         the JMH settings in words (forks, warm-up and measurement iterations)
 */
public record BenchResults(List<ForwardRow> forwardCost, List<GenerationRow> generation,
                           List<CollectionRow> collection, List<PeerRun> peers, List<ServingBenchmark.Row> serving,
                           List<Skipped> skipped, String jmh) {

    public BenchResults {
        forwardCost = List.copyOf(forwardCost);
        generation = List.copyOf(generation);
        collection = List.copyOf(collection);
        peers = List.copyOf(peers);
        serving = List.copyOf(serving);
        skipped = List.copyOf(skipped);
    }

    /** Results without serving rows. */
    public BenchResults(List<ForwardRow> forwardCost, List<GenerationRow> generation, List<CollectionRow> collection,
                        List<PeerRun> peers, List<Skipped> skipped, String jmh) {
        this(forwardCost, generation, collection, peers, List.of(), skipped, jmh);
    }

    /** Results without peer runs. */
    public BenchResults(List<ForwardRow> forwardCost, List<GenerationRow> generation, List<CollectionRow> collection,
                        List<Skipped> skipped, String jmh) {
        this(forwardCost, generation, collection, List.of(), List.of(), skipped, jmh);
    }

    /**
     * One forward-pass measurement.
     *
     * @param ms       milliseconds per pass over n new tokens after {@code context} cached ones
     * @param msError  JMH's 99.9% confidence half-width of {@code ms}
     * @param ratioTo1 {@code ms} over the n = 1 pass of the same model, dtype, threads and context
     */
    public record ForwardRow(String model, String dtype, String threads, int context, int n, Double ms,
                             Double msError, Double ratioTo1, String error) {
        /** Milliseconds per new token, or null. */
        public Double msPerToken() {
            return ms == null ? null : ms / n;
        }

        ForwardRow withRatio(Double ratio) {
            return new ForwardRow(model, dtype, threads, context, n, ms, msError, ratio, error);
        }

        String group() {
            return model + "|" + dtype + "|" + threads + "|" + context;
        }
    }

    /**
     * One generation measurement.
     *
     * @param decoder         {@code ar}, {@code jacobi} or {@code lookahead}
     * @param blockSize       the Jacobi block size (lookahead: its window); 1 is autoregressive decoding
     * @param prompts         where the prompts came from (see {@code Prompts})
     * @param tokensPerS      new tokens per second
     * @param tokensPerSError JMH's 99.9% confidence half-width of {@code tokensPerS}
     * @param tokensPerPass   new tokens per forward pass
     * @param speedup         {@code tokensPerS} over the AR row's of the same model, dtype, threads and length
     */
    public record GenerationRow(String model, String dtype, String threads, String decoder, int blockSize,
                                int maxNewTokens, String prompts, Double tokensPerS, Double tokensPerSError,
                                Double tokensPerPass, Double speedup, String error) {
        /** The decoder name of a row: {@code ar} for block size 1, else {@code benchmarkDecoder}. */
        static String decoderName(String benchmarkDecoder, int blockSize) {
            return blockSize == 1 ? "ar" : benchmarkDecoder;
        }

        /** The decoder and its size in words: {@code ar}, {@code jacobi n=16}, {@code lookahead n=8}. */
        public String label() {
            return decoder.equals("ar") ? "ar" : decoder + " n=" + blockSize;
        }

        GenerationRow withDecoder(String value) {
            return new GenerationRow(model, dtype, threads, value, blockSize, maxNewTokens, prompts, tokensPerS,
                    tokensPerSError, tokensPerPass, speedup, error);
        }

        GenerationRow withSpeedup(Double value) {
            return new GenerationRow(model, dtype, threads, decoder, blockSize, maxNewTokens, prompts, tokensPerS,
                    tokensPerSError, tokensPerPass, value, error);
        }

        String group() {
            return model + "|" + dtype + "|" + threads + "|" + maxNewTokens;
        }
    }

    /**
     * One trajectory-collection measurement.
     *
     * @param blocksPerS    recorded trajectories (converged full blocks) per second
     * @param tokensPerS    new tokens per second
     * @param tokensPerPass new tokens per forward pass
     */
    public record CollectionRow(String model, String dtype, String threads, int blockSize, int maxNewTokens,
                                String prompts, Double blocksPerS, Double tokensPerS, Double tokensPerPass,
                                String error) {
    }

    /**
     * One peer-benchmark run: every engine and weight format on one model with one thread setting, interleaved in
     * rounds ({@link PeerBenchmark}).
     *
     * @param model        the benchmark model's name
     * @param threads      our thread setting as given ({@code TORCH/BLAS} or {@code default})
     * @param ourThreads   the libtorch/OpenBLAS threads our engine ran with, {@code TORCH/BLAS}
     * @param llamaThreads llama.cpp's threads (generation and batch)
     * @param rounds       measured rounds (after one warm-up round)
     * @param context      cached tokens before the AR run and the timed passes
     * @param arTokens     greedy single-token steps timed per round and engine
     * @param jacobiTokens new tokens per Jacobi generation
     * @param loadBefore   the load average (1, 5, 15 minutes) before the run, or {@code unknown}
     * @param loadAfter    the load average after it
     * @param rows         one row per engine and weight format
     * @param error        why the run produced no numbers, or null
     */
    public record PeerRun(String model, String threads, String ourThreads, int llamaThreads, int rounds, int context,
                          int arTokens, int jacobiTokens, String loadBefore, String loadAfter, List<PeerRow> rows,
                          String error) {
        public PeerRun {
            rows = List.copyOf(rows);
        }
    }

    /**
     * One engine and weight format of a peer run: medians over rounds, and ratios to llama.cpp Q8_0 as medians of the
     * per-round ratios.
     *
     * @param engine       {@code cllm-java} or {@code llama.cpp}
     * @param weights      {@code f32}, {@code f16}, {@code int8} (ours) or {@code F16}, {@code Q8_0} (GGUF)
     * @param arMsPerToken ms per greedy single-token step
     * @param passMs       ms of one pass over n new tokens after the cached context, by n
     * @param arRatio      {@code arMsPerToken} over llama.cpp Q8_0's, median of per-round ratios
     * @param passRatio    {@code passMs} over llama.cpp Q8_0's, by n
     * @param jacobi       our Jacobi decoding on the same prompt, one per block size (empty for llama.cpp)
     */
    public record PeerRow(String engine, String weights, Double arMsPerToken, Map<Integer, Double> passMs,
                          Double arRatio, Map<Integer, Double> passRatio, List<JacobiRate> jacobi) {
        public PeerRow {
            passMs = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(passMs));
            passRatio = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(passRatio));
            jacobi = List.copyOf(jacobi);
        }

        /** Whether this is llama.cpp's Q8_0 row, the baseline of every ratio of its run. */
        public boolean isQ8Baseline() {
            return engine.equals(PeerBenchmark.LLAMA_CPP) && weights.equals(GgufType.Q8_0.toString());
        }

        /** AR tokens per second, {@code 1000 / arMsPerToken}, or null. */
        public Double arTokensPerS() {
            return arMsPerToken == null || arMsPerToken <= 0 ? null : 1000 / arMsPerToken;
        }
    }

    /**
     * Greedy Jacobi decoding in a peer run: medians over rounds.
     *
     * @param blockSize     the Jacobi block size
     * @param tokensPerS    new tokens per second of decoding (after the prompt's prefill)
     * @param tokensPerPass new tokens per forward pass
     */
    public record JacobiRate(int blockSize, double tokensPerS, double tokensPerPass) {
    }

    /** A model left out of benchmarks ({@code forward}, {@code generation}, {@code collection}), and why. */
    public record Skipped(List<String> benchmarks, String model, String reason) {
        public Skipped {
            benchmarks = List.copyOf(benchmarks);
        }
    }

    /** The rows with {@code ratioTo1} filled in from the n = 1 row of their group (null where there is none). */
    public static List<ForwardRow> withRatios(List<ForwardRow> rows) {
        Map<String, Double> base = new HashMap<>();
        for (ForwardRow r : rows) {
            if (r.n() == 1 && r.ms() != null) {
                base.put(r.group(), r.ms());
            }
        }
        List<ForwardRow> out = new ArrayList<>(rows.size());
        for (ForwardRow r : rows) {
            Double one = base.get(r.group());
            out.add(r.withRatio(one == null || r.ms() == null ? null : r.ms() / one));
        }
        return out;
    }

    /** The rows with {@code speedup} filled in from the AR row of their group (null where there is none). */
    public static List<GenerationRow> withSpeedups(List<GenerationRow> rows) {
        Map<String, Double> ar = new HashMap<>();
        for (GenerationRow r : rows) {
            if (r.decoder().equals("ar") && r.tokensPerS() != null) {
                ar.put(r.group(), r.tokensPerS());
            }
        }
        List<GenerationRow> out = new ArrayList<>(rows.size());
        for (GenerationRow r : rows) {
            Double base = ar.get(r.group());
            out.add(r.withSpeedup(base == null || r.tokensPerS() == null ? null : r.tokensPerS() / base));
        }
        return out;
    }
}
