package dev.cllm.examples.demo;

import dev.cllm.api.GenerationConfig;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.jacobi.CandidateSource;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.jacobi.NgramPool;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * The demo: a task's base model and its CLLM on the task's held-out questions, each question decoded five ways:
 * {@code ar} (the base model, block size 1: one token per forward pass), {@code jacobi-base} (Jacobi decoding with
 * block size n on the base model: lossless, so its output must equal ar's), {@code jacobi-cllm} (Jacobi decoding on the
 * CLLM), and {@code lookahead-base} and {@code lookahead-cllm} ({@link LookaheadDecoder}: the Jacobi window plus
 * n-gram candidates verified in the same pass, with a pool of the task's training answers; lossless too, so their
 * outputs must equal ar's and jacobi-cllm's). Greedy, stop at EOS. On request ({@link Options#running}) a sixth row,
 * {@code running-cllm}: Jacobi iteration on the CLLM over a running window of n tokens per pass, without block
 * boundaries (the same pass size as a block's first pass; lossless, so it must equal jacobi-cllm).
 *
 * <p>The held-out questions are regenerated in memory from the config the base model was trained against
 * ({@link DemoTask}). Each decoder is warmed up on a few questions, then the timed sweeps run the decoders on one
 * question before going to the next ({@link DemoRun}).
 *
 * <p>Per decoder: <b>accuracy</b> (the task's: execution on SQLite, or the final answer), <b>exact match</b>,
 * <b>tokens per pass</b> = tokens the decoding passes produced / decoding passes, where decoding passes are the
 * forward passes after the prompt's prefill (the prefill is the same for all) and the stop token counts as produced
 * (so ar is exactly 1.0; see {@link DecodeSample}), <b>tokens per second</b> = those tokens / decode time (prefill
 * excluded), summed over the questions (the median over the sweeps), and <b>speedup</b> = tokens per second / ar's.
 * The report also holds the end-to-end <b>latency speedup</b>, each decoder's agreement with ar's output, the
 * candidate decoders' accepted tokens by source, and the Jacobi trajectories of the shown questions, each output
 * marked right or wrong against the gold answer ({@link TrajectoryView}); {@link DemoReport} prints it for a
 * terminal or as JSON, {@link HtmlReport} as a page. {@code ./cllm demo} runs it.
 */
public final class Demo {
    /** The autoregressive baseline on the base model. */
    public static final String AR = "ar";
    /** Jacobi decoding on the base model. */
    public static final String JACOBI_BASE = "jacobi-base";
    /** Jacobi decoding on the CLLM. */
    public static final String JACOBI_CLLM = "jacobi-cllm";
    /** Jacobi decoding with candidates ({@link LookaheadDecoder}) on the base model. */
    public static final String LOOKAHEAD_BASE = "lookahead-base";
    /** Jacobi decoding with candidates on the CLLM. */
    public static final String LOOKAHEAD_CLLM = "lookahead-cllm";
    /**
     * Jacobi iteration on the CLLM over a running window of n tokens per pass ({@link LookaheadDecoder} with the
     * window as its only source and a fixed tree of n): a block's converged prefix is accepted and the window moves on
     * with the rest of its guesses, instead of the block refining its last unconverged positions alone.
     */
    public static final String RUNNING_CLLM = "running-cllm";
    /** The suffix of the sampled rows ({@code --sample}): {@code ar-sampled}, {@code jacobi-base-sampled}, ... */
    public static final String SAMPLED = "-sampled";

    private static final Logger LOG = LoggerFactory.getLogger(Demo.class);

    private Demo() {
    }

    /**
     * What to run. Options are named after the command line's flags, which error messages quote.
     *
     * @param task         {@code sql} or {@code math}
     * @param base         the base model's checkpoint directory
     * @param cllm         the CLLM's checkpoint directory
     * @param questions    decode the first N held-out questions; null: all
     * @param blockSize    Jacobi block size n (at least 2)
     * @param maxNewTokens most tokens to generate per question
     * @param repeats      timed sweeps; tokens/s is the median
     * @param warmup       questions each decoder decodes untimed first
     * @param show         the question whose trajectories to show (1-based); null: among all the decoded questions,
     *                     the one the CLLM answers right with the most tokens per pass and the one it answers wrong
     *                     with the most, where one exists
     * @param device       {@code auto}, {@code cpu}, {@code cuda} or {@code cuda:N}
     * @param temperature  null: greedy rows only; else also sampled rows at this temperature (top-k 50, Hugging
     *                     Face's default), every decoder with the same seed, so each must equal {@code ar-sampled}
     * @param seed         the sampling seed of the sampled rows (every question uses it)
     * @param weights      the projections' weight format on the CPU: {@code auto}, {@code f32}, {@code f16} or
     *                     {@code int8} ({@link CpuGemm#forWeights})
     * @param running      whether to add the {@value #RUNNING_CLLM} row (greedy)
     * @param validation   null: the held-out questions; else this many validation questions in their place
     *                     ({@link DemoTask#validation}), for a larger sample that nothing was chosen on
     */
    public record Options(String task, Path base, Path cllm, Integer questions, int blockSize, int maxNewTokens,
                          int repeats, int warmup, Integer show, String device, Double temperature, long seed,
                          String weights, boolean running, Integer validation) {
        /** Greedy rows only, the weights as {@link CpuGemm#AUTO} chooses, on the held-out questions. */
        public Options(String task, Path base, Path cllm, Integer questions, int blockSize, int maxNewTokens,
                       int repeats, int warmup, Integer show, String device) {
            this(task, base, cllm, questions, blockSize, maxNewTokens, repeats, warmup, show, device, null, 0, "auto",
                    false, null);
        }

        public Options {
            try {
                CpuGemm.forWeights(weights);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--weights: " + e.getMessage(), e);
            }
            if (temperature != null && !(temperature > 0 && Double.isFinite(temperature))) {
                throw new IllegalArgumentException("--sample must be a temperature > 0, got " + temperature);
            }
            if (!DemoTask.NAMES.contains(task)) {
                throw new IllegalArgumentException("--task " + task + ": unknown task (sql or math)");
            }
            if (questions != null && questions < 1) {
                throw new IllegalArgumentException("--questions must be >= 1, got " + questions);
            }
            if (blockSize < 2) {
                throw new IllegalArgumentException("--block-size must be >= 2 (block size 1 is the ar baseline), got "
                        + blockSize);
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
            }
            if (repeats < 1) {
                throw new IllegalArgumentException("--repeats must be >= 1, got " + repeats);
            }
            if (warmup < 0) {
                throw new IllegalArgumentException("--warmup must be >= 0, got " + warmup);
            }
            if (validation != null && validation < 1) {
                throw new IllegalArgumentException("--validation must be >= 1, got " + validation);
            }
            if (show != null && show < 1) {
                throw new IllegalArgumentException("--show must be >= 1 (questions are numbered from 1), got " + show);
            }
        }
    }

    /**
     * Loads both models, decodes the questions and builds the report.
     *
     * @throws IllegalArgumentException naming the option or file when the input is unusable
     */
    public static DemoReport run(Options options) {
        try (DemoTask task = options.validation() == null ? DemoTask.of(options.task(), options.base())
                : DemoTask.validation(options.task(), options.base(), options.validation())) {
            int n = options.questions() != null ? options.questions() : task.heldOut();
            if (n > task.heldOut()) {
                String kind = options.validation() == null ? " held-out questions" : " validation questions";
                throw new IllegalArgumentException("--questions " + n + ": the task has only " + task.heldOut() + kind);
            }
            if (options.show() != null && options.show() > n) {
                throw new IllegalArgumentException("--show " + options.show() + ": only " + n
                        + " questions are decoded");
            }
            TorchOptions torchOptions = TorchOptions.defaults().withDevice(options.device())
                    .withGemm(CpuGemm.forWeights(options.weights()));
            try (TorchConsistencyModel baseModel = TorchConsistencyModel.load(options.base(), torchOptions);
                 TorchConsistencyModel cllmModel = TorchConsistencyModel.load(options.cllm(), torchOptions)) {
                Tokenizer tokenizer = baseModel.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                        options.base().resolve("tokenizer.json") + ": missing (the demo encodes the questions with "
                                + "the base model's tokenizer)"));
                if (baseModel.config().vocabSize() != cllmModel.config().vocabSize()) {
                    throw new IllegalArgumentException("the CLLM " + options.cllm() + " has a vocabulary of "
                            + cllmModel.config().vocabSize() + " ids, the base model " + options.base() + " one of "
                            + baseModel.config().vocabSize() + ": the CLLM must be fine-tuned from the base model");
                }
                List<TokenIds> prompts = new ArrayList<>();
                for (int q = 0; q < n; q++) {
                    prompts.add(TokenIds.of(tokenizer.encode(task.prompt(q))));
                }
                List<DemoRun.Contender> contenders = contenders(options, task, tokenizer, baseModel, cllmModel);
                // the first sweep records every question's trajectories (a few objects per pass), so that the shown
                // ones can be chosen among all of them once they are scored
                Set<Integer> recorded = new TreeSet<>();
                if (options.show() != null) {
                    recorded.add(options.show() - 1);
                } else {
                    for (int q = 0; q < n; q++) {
                        recorded.add(q);
                    }
                }
                LOG.info("decoding {} questions with {} (block size {}), {} timed sweep(s)", n,
                        contenders.stream().map(DemoRun.Contender::name).toList(), options.blockSize(),
                        options.repeats());
                DemoRun.Result result = new DemoRun(contenders, prompts, options.warmup(), options.repeats(),
                        recorded).run();
                DemoReport report = report(result, task, tokenizer, TokenLabels.fromCheckpoint(options.base()),
                        setting(options, task, baseModel, cllmModel, n),
                        options.show() == null ? null : options.show() - 1);
                for (DemoReport.Check c : report.checks()) {
                    if (c.mismatches() > 0) {
                        LOG.warn(DemoReport.mismatchWarning(c, n));
                    }
                }
                return report;
            }
        }
    }

    private static List<DemoRun.Contender> contenders(Options o, DemoTask task, Tokenizer tokenizer,
                                                      TorchConsistencyModel baseModel,
                                                      TorchConsistencyModel cllmModel) {
        JacobiDecoder ar = JacobiDecoder.builder().blockSize(1).maxNewTokens(o.maxNewTokens()).build();
        JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(o.blockSize()).maxNewTokens(o.maxNewTokens()).build();
        // the n-gram pool starts with the task's training answers (the base model's training data) and stays as it
        // is: both models' rows see the same pool
        Set<Integer> eos = baseModel.config().eosTokenIds();
        NgramPool answers = NgramPool.of(task.trainingAnswers(tokenizer, eos.isEmpty() ? -1 : eos.iterator().next()));
        LookaheadDecoder lookahead = LookaheadDecoder.builder().window(o.blockSize()).maxNewTokens(o.maxNewTokens())
                .pool(answers).learnIntoPool(false).build();
        List<DemoRun.Contender> out = new ArrayList<>(List.of(
                new DemoRun.Contender(AR, baseModel, ar, false),
                new DemoRun.Contender(JACOBI_BASE, baseModel, jacobi, true),
                new DemoRun.Contender(JACOBI_CLLM, cllmModel, jacobi, true),
                new DemoRun.Contender(LOOKAHEAD_BASE, baseModel, lookahead, false),
                new DemoRun.Contender(LOOKAHEAD_CLLM, cllmModel, lookahead, false)));
        if (o.running()) {
            LookaheadDecoder running = LookaheadDecoder.builder().window(o.blockSize())
                    .sources(EnumSet.of(CandidateSource.JACOBI)).fixedTreeSize(o.blockSize())
                    .maxNewTokens(o.maxNewTokens()).build();
            out.add(new DemoRun.Contender(RUNNING_CLLM, cllmModel, running, false));
        }
        if (o.temperature() != null) {
            // the same decoders sampling with one seed: on the base model each must give ar-sampled's tokens
            GenerationConfig sampled = GenerationConfig.builder().maxNewTokens(o.maxNewTokens())
                    .sampling(o.temperature()).seed(o.seed()).build();
            JacobiDecoder arSampled = ar.toBuilder().generation(sampled).build();
            JacobiDecoder jacobiSampled = jacobi.toBuilder().generation(sampled).build();
            LookaheadDecoder lookaheadSampled = lookahead.toBuilder().generation(sampled).build();
            out.add(new DemoRun.Contender(AR + SAMPLED, baseModel, arSampled, false));
            out.add(new DemoRun.Contender(JACOBI_BASE + SAMPLED, baseModel, jacobiSampled, false));
            out.add(new DemoRun.Contender(JACOBI_CLLM + SAMPLED, cllmModel, jacobiSampled, false));
            out.add(new DemoRun.Contender(LOOKAHEAD_BASE + SAMPLED, baseModel, lookaheadSampled, false));
            out.add(new DemoRun.Contender(LOOKAHEAD_CLLM + SAMPLED, cllmModel, lookaheadSampled, false));
        }
        return out;
    }

    /** {@code ", int8 weights"} and the like on the CPU, where the kernel is a choice; nothing elsewhere. */
    private static String weightsLabel(TorchConsistencyModel model) {
        if (!model.llama().deviceName().equals("cpu")) {
            return "";
        }
        return switch (model.llama().gemm()) {
            case FBGEMM_INT8 -> ", int8 weights";
            case FBGEMM_FP16, FBGEMM_FP16_ONLY -> ", fp16 weights";
            default -> ", " + model.llama().dtypeName() + " weights";
        };
    }

    private static DemoReport.Setting setting(Options o, DemoTask task, TorchConsistencyModel baseModel,
                                              TorchConsistencyModel cllmModel, int n) {
        String platform = System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", Java "
                + System.getProperty("java.version");
        return new DemoReport.Setting(o.base().toString(), o.cllm().toString(), baseModel.config().parameterCount(),
                cllmModel.config().parameterCount(), task.description(), task.heldOut(), n, o.blockSize(),
                o.maxNewTokens(), o.warmup(), o.repeats(), Runtime.getRuntime().availableProcessors(),
                TorchRuntime.torchThreads(), TorchRuntime.blasThreads(),
                baseModel.llama().deviceName() + " " + baseModel.llama().dtypeName() + weightsLabel(baseModel),
                platform, task.title(),
                task.accuracyKey(), task.accuracyHeader(), task.accuracyDefinition(),
                o.temperature() == null ? null : String.format(java.util.Locale.ROOT,
                        "temperature %s, top-k 50, seed %d", o.temperature(), o.seed()));
    }

    /**
     * Scores the first sweep's outputs, computes the rows, checks every decoder against the output it must equal, and
     * builds the trajectories of question {@code requested} (0-based), or of the default ones when it is null.
     */
    public static DemoReport report(DemoRun.Result result, DemoTask task, Tokenizer tokenizer, TokenLabels labels,
                                    DemoReport.Setting setting, Integer requested) {
        int ar = result.indexOf(AR);
        int jacobiBase = result.indexOf(JACOBI_BASE);
        int jacobiCllm = result.indexOf(JACOBI_CLLM);
        int n = result.samples().get(ar).size();
        List<List<String>> texts = new ArrayList<>();
        List<boolean[]> right = new ArrayList<>();
        for (List<DecodeSample> samples : result.samples()) {
            List<String> t = samples.stream().map(s -> tokenizer.decode(s.generation().ids().toArray())).toList();
            texts.add(t);
            boolean[] r = new boolean[n];
            for (int q = 0; q < n; q++) {
                r[q] = task.correct(q, t.get(q));
            }
            right.add(r);
        }
        List<DemoReport.Row> rows = new ArrayList<>();
        for (int c = 0; c < result.contenders().size(); c++) {
            // a sampled row is compared with ar-sampled (same seed), a greedy one with ar
            int base = result.contenders().get(c).name().endsWith(SAMPLED) && has(result, AR + SAMPLED)
                    ? result.indexOf(AR + SAMPLED) : ar;
            double arTokensPerS = result.medianTokensPerSecond(base);
            double arElapsed = result.medianElapsedNanos(base);
            int correct = 0;
            int exact = 0;
            for (int q = 0; q < n; q++) {
                correct += right.get(c)[q] ? 1 : 0;
                exact += task.exact(q, texts.get(c).get(q)) ? 1 : 0;
            }
            DemoRun.Sweep first = result.sweeps().get(c).get(0);
            double tokensPerS = result.medianTokensPerSecond(c);
            double elapsed = result.medianElapsedNanos(c);
            rows.add(new DemoReport.Row(result.contenders().get(c).name(), (double) correct / n, (double) exact / n,
                    first.decodingPasses() == 0 ? 0.0 : (double) first.decodedTokens() / first.decodingPasses(),
                    tokensPerS, arTokensPerS == 0 ? 0.0 : tokensPerS / arTokensPerS,
                    elapsed == 0 ? 0.0 : arElapsed / elapsed,
                    (double) agreeing(result.samples().get(base), result.samples().get(c)) / n,
                    bySource(result.samples().get(c)), meanTree(result.samples().get(c))));
        }
        int mismatches = n - agreeing(result.samples().get(ar), result.samples().get(jacobiBase));
        // every decoder must give its model's greedy output: the base model's ar output, or plain Jacobi on the CLLM;
        // sampled, the same pairs with one seed (on the base model every decoder gives ar-sampled's tokens)
        String[][] lossless = {{JACOBI_BASE, AR}, {LOOKAHEAD_BASE, AR}, {LOOKAHEAD_CLLM, JACOBI_CLLM},
                {RUNNING_CLLM, JACOBI_CLLM}};
        List<DemoReport.Check> checks = new ArrayList<>();
        for (String suffix : new String[]{"", SAMPLED}) {
            for (String[] pair : lossless) {
                String row = pair[0] + suffix;
                String reference = pair[1] + suffix;
                if (has(result, row) && has(result, reference)) {
                    int mismatching = n - agreeing(result.samples().get(result.indexOf(reference)),
                            result.samples().get(result.indexOf(row)));
                    checks.add(new DemoReport.Check(row, reference, mismatching));
                }
            }
        }

        List<DemoReport.Shown> shown = new ArrayList<>();
        List<DecodeSample> cllmSamples = result.samples().get(jacobiCllm);
        double[] cllmTokensPerPass = new double[n];
        for (int q = 0; q < n; q++) {
            cllmTokensPerPass[q] = cllmSamples.get(q).tokensPerPass();
        }
        Map<Integer, TrajectoryRecorder> recorded = result.recordings().get(jacobiCllm);
        for (int q : shownQuestions(cllmTokensPerPass, right.get(jacobiCllm), requested)) {
            if (!recorded.containsKey(q)) {
                throw new IllegalStateException("question " + (q + 1) + " is to be shown but its trajectory was not "
                        + "recorded (" + recorded.size() + " questions were)");
            }
            List<TrajectoryView> views = new ArrayList<>();
            for (int c : new int[]{jacobiBase, jacobiCllm}) {
                String title = result.contenders().get(c).name() + (c == jacobiBase ? " (base model" : " (CLLM")
                        + ", block size " + ((JacobiDecoder) result.contenders().get(c).decoder()).blockSize() + ")";
                views.add(TrajectoryView.of(title, result.samples().get(c).get(q).generation(),
                        result.recordings().get(c).get(q), labels, texts.get(c).get(q), right.get(c)[q]));
            }
            shown.add(new DemoReport.Shown(q + 1, task.source(q), task.question(q), task.gold(q), views));
        }
        List<String> templates = task.templates(n);
        List<DemoReport.TemplateScore> byTemplate = new ArrayList<>();
        if (templates != null) {
            Map<String, int[]> counts = new java.util.TreeMap<>();
            for (int q = 0; q < n; q++) {
                int[] c = counts.computeIfAbsent(templates.get(q), t -> new int[3]);
                c[0]++;
                c[1] += right.get(ar)[q] ? 1 : 0;
                c[2] += right.get(jacobiCllm)[q] ? 1 : 0;
            }
            counts.forEach((t, c) -> byTemplate.add(new DemoReport.TemplateScore(t, c[0], c[1], c[2])));
        }
        return new DemoReport(setting, rows, mismatches, checks, shown, DemoReport.AccuracyGap.of(
                right.get(jacobiCllm), right.get(ar), templates), byTemplate);
    }

    private static boolean has(DemoRun.Result result, String name) {
        return result.contenders().stream().anyMatch(x -> x.name().equals(name));
    }

    /**
     * The questions to show (0-based): {@code requested} if given; else the one the CLLM answers right with the most
     * tokens per pass, then the one it answers wrong with the most tokens per pass, each where one exists (the first
     * of equals). Right answers are the point of the demo, and a wrong one shows what it costs.
     *
     * @param tokensPerPass the CLLM's tokens per pass on each question
     * @param right         whether the CLLM answers each question right
     * @param requested     the question asked for ({@code --show}), or null
     */
    public static List<Integer> shownQuestions(double[] tokensPerPass, boolean[] right, Integer requested) {
        if (tokensPerPass.length != right.length) {
            throw new IllegalArgumentException(tokensPerPass.length + " tokens-per-pass values for " + right.length
                    + " questions");
        }
        if (requested != null) {
            if (requested < 0 || requested >= right.length) {
                throw new IllegalArgumentException("question " + (requested + 1) + " requested, " + right.length
                        + " decoded");
            }
            return List.of(requested);
        }
        int bestRight = -1;
        int bestWrong = -1;
        for (int q = 0; q < right.length; q++) {
            if (right[q]) {
                if (bestRight < 0 || tokensPerPass[q] > tokensPerPass[bestRight]) {
                    bestRight = q;
                }
            } else if (bestWrong < 0 || tokensPerPass[q] > tokensPerPass[bestWrong]) {
                bestWrong = q;
            }
        }
        List<Integer> out = new ArrayList<>();
        if (bestRight >= 0) {
            out.add(bestRight);
        }
        if (bestWrong >= 0) {
            out.add(bestWrong);
        }
        return out;
    }

    /** Tokens accepted beyond one per pass, by candidate source, over the samples (empty for plain decoders). */
    private static Map<String, Long> bySource(List<DecodeSample> samples) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (DecodeSample s : samples) {
            s.generation().stats().acceptedBySource().forEach((k, v) -> out.merge(k, v, Long::sum));
        }
        return out;
    }

    /** Tokens run per decoding pass (block or tree size), the work the speedup is paid with. */
    private static double meanTree(List<DecodeSample> samples) {
        long tokens = 0;
        long passes = 0;
        for (DecodeSample s : samples) {
            tokens += s.generation().stats().tokensVerified();
            passes += s.decodingPasses();
        }
        return passes == 0 ? 0.0 : (double) tokens / passes;
    }

    private static int agreeing(List<DecodeSample> a, List<DecodeSample> b) {
        int count = 0;
        for (int q = 0; q < a.size(); q++) {
            count += a.get(q).generation().ids().equals(b.get(q).generation().ids()) ? 1 : 0;
        }
        return count;
    }
}
