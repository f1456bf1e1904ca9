package dev.cllm.bench;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import dev.cllm.train.HfExport;
import dev.cllm.train.gguf.GgufExporter;
import dev.cllm.train.gguf.GgufType;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * Our engine against llama.cpp on the same weights: {@code ./cllm bench --benchmarks peers}. For one model, every
 * weight format we run ({@code f32}: OpenBLAS, {@code f16}: FBGEMM fp16, {@code int8}: FBGEMM int8; see
 * {@link CpuGemm#forWeights}) and llama.cpp ({@link LlamaCppPeer}) on GGUF files our {@link GgufExporter} writes from
 * the same checkpoint ({@code F16}, {@code Q8_0}). A random benchmark model ({@code random50M},
 * {@code random-d...}) is first written as a bf16 checkpoint; checkpoint and GGUF files go to a temporary folder that
 * is deleted afterwards.
 *
 * <p>Method: every round measures every engine once, in an order that rotates from round to round, so drift on a shared
 * machine hits all engines alike; one warm-up round is not counted; each engine loads its model for the round and
 * frees it after. Per round and engine: AR ms per token ({@code arTokens} greedy single-token steps after a
 * {@code context}-token prompt) and t(n), the ms of one pass over n = 1, 8, 16 new tokens after {@code context} cached
 * ones (ours: the median of {@value #PASS_REPEATS} passes; llama.cpp's: see {@link LlamaCppPeer}). For our formats also
 * greedy Jacobi decoding of {@code jacobiTokens} new tokens (EOS ignored) from the same prompt at each block size:
 * tokens per second of decoding after the prefill, and tokens per pass (about 1 on random weights, whose greedy
 * continuations Jacobi iteration cannot guess); a task model with its own benchmark prompts (the SQL pair) decodes
 * those instead, stopping at EOS as it is used, and the rate is over all of them. Results are medians over rounds; ratios to llama.cpp Q8_0 are medians
 * of per-round ratios.
 *
 * <p>Not JMH, for the reason {@link WeightFormats} gives, and in this process: llama.cpp runs through JNI here anyway.
 * CPU only.
 */
public final class PeerBenchmark {
    /** The numbers of new tokens of the timed passes. */
    public static final List<Integer> NS = List.of(1, 8, 16);
    /** Our weight formats. */
    public static final List<String> OUR_WEIGHTS = List.of("f32", "f16", "int8");
    /** llama.cpp's GGUF types; the last is the reference of the ratios. */
    public static final List<GgufType> LLAMA_WEIGHTS = List.of(GgufType.F16, GgufType.Q8_0);
    /** Our engine's name in the rows. */
    public static final String OURS = "cllm-java";
    /** llama.cpp's name in the rows. */
    public static final String LLAMA_CPP = "llama.cpp";
    /** Timed passes per round, engine and n for our engine; the median counts. */
    static final int PASS_REPEATS = 5;
    /** llama.cpp's repetitions per round for each number; the median counts. */
    static final int LLAMA_REPEATS = 3;
    /** Untimed single-token passes before our AR timing. */
    private static final int AR_WARM_UP = 4;

    private PeerBenchmark() {
    }

    /**
     * What a peer run measures.
     *
     * @param rounds       measured rounds after one warm-up round
     * @param arTokens     greedy single-token steps timed per round and engine
     * @param context      cached tokens before the AR steps and the timed passes
     * @param jacobiTokens new tokens per Jacobi generation
     * @param blockSizes   Jacobi block sizes (each at least 2)
     * @param threads      our thread setting, {@code TORCH/BLAS} or {@code default}
     * @param llamaThreads llama.cpp's threads, or null for the larger of our two counts
     */
    public record Settings(int rounds, int arTokens, int context, int jacobiTokens, List<Integer> blockSizes,
                           String threads, Integer llamaThreads) {
        public Settings {
            blockSizes = List.copyOf(blockSizes);
            if (rounds < 1 || arTokens < 1 || context < 1 || jacobiTokens < 1) {
                throw new IllegalArgumentException("peers: rounds, AR tokens, context and Jacobi tokens must be >= 1");
            }
            if (blockSizes.isEmpty() || blockSizes.stream().anyMatch(b -> b == null || b < 2)) {
                throw new IllegalArgumentException("peers: Jacobi block sizes must be >= 2, got " + blockSizes);
            }
            if (llamaThreads != null && llamaThreads < 1) {
                throw new IllegalArgumentException("peers: llama.cpp threads must be >= 1, got " + llamaThreads);
            }
        }
    }

    /**
     * Why {@code model} cannot be a peer-benchmark model, or empty: it must be a benchmark model without a
     * {@code +kernel} suffix (the benchmark runs every weight format itself) that exists here.
     */
    static Optional<String> unsuitable(String model) {
        if (!BenchModels.base(model).equals(model)) {
            return Optional.of("peers: '" + model + "' names a kernel; the peer benchmark runs every weight format "
                    + "itself, give the model without the +suffix");
        }
        return BenchModels.missing(model);
    }

    /**
     * Loads llama.cpp's natives, or fails naming the platform, before any model is prepared.
     *
     * @throws IllegalStateException if they cannot be loaded here
     */
    public static void checkLlamaCpp() {
        LlamaCppPeer.ensureNatives();
    }

    /**
     * Runs the peer benchmark on {@code model}; progress goes to {@code log}. A failure after the checks (an
     * unsupported checkpoint, an engine that fails) is the run's {@code error}, with no rows.
     *
     * @throws IllegalArgumentException for a model that cannot run ({@link #unsuitable})
     * @throws IllegalStateException    if llama.cpp's natives cannot be loaded here
     */
    public static BenchResults.PeerRun run(String model, Settings settings, PrintStream log) {
        unsuitable(model).ifPresent(reason -> {
            throw new IllegalArgumentException(reason);
        });
        Path work;
        try {
            work = Files.createTempDirectory("cllm-peers-");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        LlamaCppPeer.ensureNatives();
        log.println("peers: " + model + ": temporary folder " + work + " (deleted afterwards)");
        String loadBefore = loadAverage();
        int llamaThreads = 0;
        String ours = "";
        try {
            applyThreads(settings.threads());
            ours = Threads.describe();
            llamaThreads = settings.llamaThreads() != null ? settings.llamaThreads()
                    : Math.max(TorchRuntime.torchThreads(), TorchRuntime.blasThreads());
            Path dir = checkpoint(model, work, log);
            Map<GgufType, Path> gguf = new LinkedHashMap<>();
            for (GgufType type : LLAMA_WEIGHTS) {
                Path file = work.resolve(type + ".gguf");
                GgufExporter.export(dir, file, type);
                gguf.put(type, file);
            }
            log.printf(Locale.ROOT, "peers: %s: exported GGUF %s; ours on libtorch/OpenBLAS threads %s, llama.cpp on "
                    + "%d; load average %s%n", model, gguf.keySet(), ours, llamaThreads, loadBefore);
            List<BenchResults.PeerRow> rows = measure(model, dir, gguf, settings, llamaThreads, log);
            return new BenchResults.PeerRun(model, settings.threads(), ours, llamaThreads, settings.rounds(),
                    settings.context(), settings.arTokens(), settings.jacobiTokens(), loadBefore, loadAverage(), rows,
                    null);
        } catch (IOException | RuntimeException e) {
            log.println("peers: " + model + " failed: " + e);
            return new BenchResults.PeerRun(model, settings.threads(), ours, llamaThreads, settings.rounds(),
                    settings.context(), settings.arTokens(), settings.jacobiTokens(), loadBefore, loadAverage(),
                    List.of(), String.valueOf(e.getMessage() == null ? e : e.getMessage()));
        } finally {
            deleteTree(work);
        }
    }

    private record Engine(String engine, String weights, GgufType type) {
    }

    private static List<BenchResults.PeerRow> measure(String model, Path dir, Map<GgufType, Path> gguf,
                                                      Settings s, int llamaThreads, PrintStream log) {
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        int[] ns = NS.stream().mapToInt(Integer::intValue).toArray();
        int maxN = ns[ns.length - 1];
        int maxBlock = s.blockSizes().stream().max(Comparator.naturalOrder()).orElseThrow();
        int positions = s.context() + Math.max(Math.max(s.arTokens() + AR_WARM_UP + 1, maxN + 1),
                s.jacobiTokens() + maxBlock + 1);
        if (positions > config.maxPositions()) {
            throw new IllegalArgumentException(model + ": context " + s.context() + " + " + Math.max(s.arTokens(),
                    s.jacobiTokens()) + " new tokens do not fit its " + config.maxPositions() + " positions");
        }
        List<Engine> engines = new ArrayList<>();
        OUR_WEIGHTS.forEach(w -> engines.add(new Engine(OURS, w, null)));
        LLAMA_WEIGHTS.forEach(t -> engines.add(new Engine(LLAMA_CPP, t.toString(), t)));
        int e = engines.size();
        int b = s.blockSizes().size();
        int rounds = s.rounds();
        double[][][] ms = new double[e][1 + ns.length][rounds];    // [engine][ar, t(n)...][round]
        double[][][] jacobiRate = new double[e][b][rounds];
        double[][][] jacobiPerPass = new double[e][b][rounds];
        int[] prompt = BenchModels.tokens(s.context(), config.vocabSize(), 1);
        for (int round = -1; round < rounds; round++) {            // round -1 warms up
            for (int k = 0; k < e; k++) {
                int i = Math.floorMod(k + round, e);
                Engine engine = engines.get(i);
                double[] t;
                double[][] jacobi = null;
                if (engine.type() != null) {
                    try (LlamaCppPeer llama = LlamaCppPeer.load(gguf.get(engine.type()), llamaThreads,
                            Math.min(config.maxPositions(), positions + 8))) {
                        LlamaCppPeer.Timings timings = llama.measure(config.vocabSize(), s.context(), s.arTokens(),
                                ns, LLAMA_REPEATS);
                        t = new double[1 + ns.length];
                        t[0] = timings.arMsPerToken();
                        System.arraycopy(timings.passMs(), 0, t, 1, ns.length);
                    }
                } else {
                    jacobi = new double[2][b];
                    t = ours(model, dir, engine.weights(), prompt, ns, s, positions, jacobi);
                }
                if (round >= 0) {
                    for (int j = 0; j < t.length; j++) {
                        ms[i][j][round] = t[j];
                    }
                    if (jacobi != null) {
                        for (int j = 0; j < b; j++) {
                            jacobiRate[i][j][round] = jacobi[0][j];
                            jacobiPerPass[i][j][round] = jacobi[1][j];
                        }
                    }
                }
            }
            if (round >= 0) {
                StringBuilder ar = new StringBuilder();
                for (int i = 0; i < e; i++) {
                    ar.append(i == 0 ? "" : ", ").append(engines.get(i).engine()).append(' ')
                            .append(engines.get(i).weights()).append(String.format(Locale.ROOT, " %.3f",
                                    ms[i][0][round]));
                }
                log.printf(Locale.ROOT, "peers: %s: round %d of %d: AR ms/token %s%n", model, round + 1, rounds, ar);
            } else {
                log.printf(Locale.ROOT, "peers: %s: warm-up round done%n", model);
            }
        }
        int q8 = e - 1;
        List<BenchResults.PeerRow> rows = new ArrayList<>();
        for (int i = 0; i < e; i++) {
            Map<Integer, Double> passMs = new LinkedHashMap<>();
            Map<Integer, Double> passRatio = new LinkedHashMap<>();
            for (int j = 0; j < ns.length; j++) {
                passMs.put(ns[j], WeightFormats.median(ms[i][1 + j]));
                passRatio.put(ns[j], medianRatio(ms[i][1 + j], ms[q8][1 + j]));
            }
            List<BenchResults.JacobiRate> jacobi = new ArrayList<>();
            if (engines.get(i).type() == null) {
                for (int j = 0; j < b; j++) {
                    jacobi.add(new BenchResults.JacobiRate(s.blockSizes().get(j),
                            WeightFormats.median(jacobiRate[i][j]), WeightFormats.median(jacobiPerPass[i][j])));
                }
            }
            rows.add(new BenchResults.PeerRow(engines.get(i).engine(), engines.get(i).weights(),
                    WeightFormats.median(ms[i][0]), passMs, medianRatio(ms[i][0], ms[q8][0]), passRatio, jacobi));
        }
        return rows;
    }

    /**
     * One round of our engine with {@code weights}: AR ms/token, then t(n) for each n; {@code jacobi[0][j]} and
     * {@code jacobi[1][j]} receive tokens/s and tokens per pass at block size j. Loads the model for the round.
     */
    private static double[] ours(String name, Path dir, String weights, int[] prompt, int[] ns, Settings s,
                                 int positions, double[][] jacobi) {
        double[] out = new double[1 + ns.length];
        int context = prompt.length;
        try (TorchConsistencyModel model = TorchConsistencyModel.load(dir,
                TorchOptions.defaults().withDevice("cpu").withGemm(CpuGemm.forWeights(weights)));
             DecodingSession session = model.newSession(positions)) {
            int vocab = model.config().vocabSize();
            int next = session.prefill(prompt);
            for (int warm = 0; warm < AR_WARM_UP; warm++) {
                session.forward(new int[]{next});
                session.commit(0);
            }
            long start = System.nanoTime();
            for (int t = 0; t < s.arTokens(); t++) {
                next = session.forward(new int[]{next})[0];
                session.commit(1);
            }
            out[0] = (System.nanoTime() - start) / 1e6 / s.arTokens();
            session.rewind(context);
            for (int j = 0; j < ns.length; j++) {
                int[] block = BenchModels.tokens(ns[j], vocab, 2);
                double[] reps = new double[PASS_REPEATS];
                for (int r = 0; r < reps.length; r++) {
                    long t0 = System.nanoTime();
                    session.forward(block);
                    reps[r] = (System.nanoTime() - t0) / 1e6;
                    session.commit(0);
                }
                out[1 + j] = WeightFormats.median(reps);
            }
            String base = BenchModels.base(name);
            if (Prompts.ownTask(base)) {
                // a task model (the SQL pair): its own held-out prompts, stopping at EOS as it is used, so the CLLM's
                // multi-token passes show; the rate is over all of them
                TokenIds[] prompts = Prompts.forModel(base, model);
                GenerationConfig config = model.generationConfig().toBuilder().greedy()
                        .maxNewTokens(s.jacobiTokens()).build();
                for (int j = 0; j < s.blockSizes().size(); j++) {
                    JacobiDecoder decoder = JacobiDecoder.builder().blockSize(s.blockSizes().get(j)).build();
                    long tokens = 0;
                    long nanos = 0;
                    long passes = 0;
                    for (TokenIds p : prompts) {                 // a session of its own each, sized for it
                        DecodingStats stats = decoder.generate(model, p, config, GenerationListener.NONE).stats();
                        tokens += stats.newTokens();
                        nanos += stats.decodeNanos();
                        passes += stats.forwardPasses();           // as DecodingStats.tokensPerPass counts
                    }
                    jacobi[0][j] = tokens * 1e9 / Math.max(1, nanos);
                    jacobi[1][j] = (double) tokens / Math.max(1, passes);
                }
            } else {
                GenerationConfig greedy = GenerationConfig.builder().maxNewTokens(s.jacobiTokens()).noStop().build();
                for (int j = 0; j < s.blockSizes().size(); j++) {
                    JacobiDecoder decoder = JacobiDecoder.builder().blockSize(s.blockSizes().get(j)).build();
                    DecodingStats stats = decoder.generate(session, TokenIds.of(prompt), greedy,
                            GenerationListener.NONE).stats();
                    jacobi[0][j] = stats.newTokens() * 1e9 / Math.max(1, stats.decodeNanos());
                    jacobi[1][j] = stats.tokensPerPass();
                }
            }
        }
        return out;
    }

    /** libtorch/OpenBLAS threads of this process before any peer run set them: what {@code default} restores. */
    private static int[] defaultThreads;

    private static synchronized void applyThreads(String setting) {
        if (defaultThreads == null) {
            defaultThreads = new int[]{TorchRuntime.torchThreads(), TorchRuntime.blasThreads()};
        }
        if (setting.equals("default")) {
            if (TorchRuntime.torchThreads() != defaultThreads[0] || TorchRuntime.blasThreads() != defaultThreads[1]) {
                TorchRuntime.setThreads(defaultThreads[0], defaultThreads[1]);
            }
        } else {
            Threads.apply(setting);
        }
    }

    /** The checkpoint directory of {@code model}: its own, or a random model written under {@code work} as bf16. */
    static Path checkpoint(String model, Path work, PrintStream log) throws IOException {
        Optional<Path> dir = BenchModels.directory(model);
        if (dir.isPresent()) {
            return dir.get();
        }
        LlamaConfig config = model.equals(BenchModels.RANDOM_50M) ? BenchModels.random50M() : BenchModels.parse(model);
        Path out = work.resolve(model);
        try (LlamaModel random = LlamaModel.random(config, 1,
                TorchOptions.defaults().withDevice("cpu").withGemm(CpuGemm.BLAS))) {
            HfExport.save(random, out, ComputeDtype.BF16, HfExport.DEFAULT_MAX_SHARD_BYTES);
        }
        log.println("peers: " + model + ": written as a bf16 checkpoint (seed 1) in a temporary folder");
        return out;
    }

    private static Double medianRatio(double[] values, double[] reference) {
        double[] ratios = new double[values.length];
        for (int r = 0; r < values.length; r++) {
            ratios[r] = values[r] / reference[r];
        }
        return WeightFormats.median(ratios);
    }

    /** The first three fields of {@code /proc/loadavg}, or {@code unknown} where it cannot be read. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            paths.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort: a temporary folder
                }
            });
        } catch (IOException e) {
            // best effort
        }
    }
}
