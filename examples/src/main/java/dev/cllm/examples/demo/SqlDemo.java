package dev.cllm.examples.demo;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.sql.SqlEvaluator;
import dev.cllm.examples.sql.SqlExample;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTaskConfig;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.jacobi.NgramPool;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The text-to-SQL demo: the shipped base model and its CLLM on the held-out questions of the task, each question
 * decoded three ways: {@code ar} (the base model, block size 1: one token per forward pass), {@code jacobi-base}
 * (Jacobi decoding with block size n on the base model: lossless, so its output must equal ar's) and
 * {@code jacobi-cllm} (Jacobi decoding with block size n on the CLLM). Greedy, stop at EOS.
 *
 * <p>The held-out questions are regenerated in memory ({@link SqlTask#generate}) from the config the base model was
 * trained against, read from {@code sql-task.json} in its directory ({@link TaskConfigFile}). Each decoder is warmed
 * up on a few questions, then the timed sweeps run the three decoders on one question before going to the next.
 *
 * <p>Per decoder: <b>exec accuracy</b> (share of questions whose predicted SQL returns the gold SQL's result on
 * SQLite, {@link SqlEvaluator}), <b>exact match</b>, <b>tokens per pass</b> = tokens the decoding passes produced /
 * decoding passes, where decoding passes are the forward passes after the prompt's prefill (the prefill is the same
 * for all three) and the stop token counts as produced (so ar is exactly 1.0; see {@link DecodeSample}),
 * <b>tokens per second</b> = those tokens / decode time (prefill excluded), summed over the questions (the median
 * over the sweeps), and <b>speedup</b> = tokens per second / ar's. The report also holds the end-to-end
 * <b>latency speedup</b> (ar's summed time including the prefill over the decoder's), each decoder's agreement with
 * ar's output, and the Jacobi trajectories of one question ({@link TrajectoryView}); {@link DemoReport} prints it
 * for a terminal or as JSON, {@link HtmlReport} as a page. {@code ./cllm demo} runs it.
 */
public final class SqlDemo {
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
    /** The default trajectory is the best of the first this many questions. */
    public static final int SHOW_CANDIDATES = 20;

    private static final Logger LOG = LoggerFactory.getLogger(SqlDemo.class);

    private SqlDemo() {
    }

    /**
     * What to run. Options are named after the command line's flags, which error messages quote.
     *
     * @param base         the base model's checkpoint directory
     * @param cllm         the CLLM's checkpoint directory
     * @param questions    decode the first N held-out questions; null: all
     * @param blockSize    Jacobi block size n (at least 2)
     * @param maxNewTokens most tokens to generate per question
     * @param repeats      timed sweeps; tokens/s is the median
     * @param warmup       questions each decoder decodes untimed first
     * @param show         the question whose trajectories to show (1-based); null: the best of the first
     *                     {@value #SHOW_CANDIDATES}
     * @param device       {@code auto}, {@code cpu}, {@code cuda} or {@code cuda:N}
     */
    public record Options(Path base, Path cllm, Integer questions, int blockSize, int maxNewTokens, int repeats,
                          int warmup, Integer show, String device) {
        public Options {
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
        Path baseDir = options.base();
        Path cllmDir = options.cllm();
        Integer questions = options.questions();
        Integer show = options.show();
        int blockSize = options.blockSize();
        int maxNewTokens = options.maxNewTokens();
        int warmup = options.warmup();
        int repeats = options.repeats();
        SqlTaskConfig taskConfig = TaskConfigFile.read(baseDir);
        if (!TaskConfigFile.present(baseDir)) {
            LOG.warn("{} has no {}: using the default task {}; the held-out split may not be the one the model was "
                    + "trained against", baseDir, TaskConfigFile.FILE_NAME, taskConfig);
        }
        long start = System.nanoTime();
        SqlTask task = SqlTask.generate(taskConfig);
        List<SqlExample> heldOut = task.examples(Split.HELD_OUT);
        LOG.info("generated {} in {} ms", task, (System.nanoTime() - start) / 1_000_000);
        int n = questions != null ? questions : heldOut.size();
        if (n > heldOut.size()) {
            throw new IllegalArgumentException("--questions " + n + ": the task has only " + heldOut.size()
                    + " held-out questions");
        }
        if (show != null && show > n) {
            throw new IllegalArgumentException("--show " + show + ": only " + n + " questions are decoded");
        }
        List<SqlExample> golds = heldOut.subList(0, n);

        TorchOptions torchOptions = TorchOptions.defaults().withDevice(options.device());
        try (TorchConsistencyModel baseModel = TorchConsistencyModel.load(baseDir, torchOptions);
             TorchConsistencyModel cllmModel = TorchConsistencyModel.load(cllmDir, torchOptions)) {
            Tokenizer tokenizer = baseModel.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                    baseDir.resolve("tokenizer.json") + ": missing (the demo encodes the questions with the base "
                            + "model's tokenizer)"));
            if (baseModel.config().vocabSize() != cllmModel.config().vocabSize()) {
                throw new IllegalArgumentException("the CLLM " + cllmDir + " has a vocabulary of "
                        + cllmModel.config().vocabSize() + " ids, the base model " + baseDir + " one of "
                        + baseModel.config().vocabSize() + ": the CLLM must be fine-tuned from the base model");
            }
            List<TokenIds> prompts = golds.stream().map(e -> TokenIds.of(tokenizer.encode(task.prompt(e)))).toList();

            JacobiDecoder ar = JacobiDecoder.builder().blockSize(1).maxNewTokens(maxNewTokens).build();
            JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(blockSize).maxNewTokens(maxNewTokens).build();
            // the n-gram pool starts with the task's training answers (the base model's training data), and stays
            // as it is: both models' rows see the same pool
            NgramPool answers = trainingAnswers(task, tokenizer, baseModel.config().eosTokenIds());
            LookaheadDecoder lookahead = LookaheadDecoder.builder().window(blockSize).maxNewTokens(maxNewTokens)
                    .pool(answers).learnIntoPool(false).build();
            List<DemoRun.Contender> contenders = List.of(
                    new DemoRun.Contender(AR, baseModel, ar, false),
                    new DemoRun.Contender(JACOBI_BASE, baseModel, jacobi, true),
                    new DemoRun.Contender(JACOBI_CLLM, cllmModel, jacobi, true),
                    new DemoRun.Contender(LOOKAHEAD_BASE, baseModel, lookahead, false),
                    new DemoRun.Contender(LOOKAHEAD_CLLM, cllmModel, lookahead, false));
            Set<Integer> recorded = new TreeSet<>();
            for (int q = 0; q < Math.min(SHOW_CANDIDATES, n); q++) {
                recorded.add(q);
            }
            if (show != null) {
                recorded.clear();
                recorded.add(show - 1);
            }
            LOG.info("decoding {} questions with {}, {}, {}, {} and {} (block size {}), {} timed sweep(s)", n, AR,
                    JACOBI_BASE, JACOBI_CLLM, LOOKAHEAD_BASE, LOOKAHEAD_CLLM, blockSize, repeats);
            DemoRun.Result result = new DemoRun(contenders, prompts, warmup, repeats, recorded).run();

            DemoReport report = report(result, task, golds, tokenizer, TokenLabels.fromCheckpoint(baseDir),
                    setting(options, baseModel, cllmModel, taskConfig, heldOut.size(), n),
                    show == null ? null : show - 1);
            for (DemoReport.Check c : report.checks()) {
                if (c.mismatches() > 0) {
                    LOG.warn(DemoReport.mismatchWarning(c, n));
                }
            }
            return report;
        }
    }

    /** The task's training answers (SQL then the stop token), for the n-gram pool. */
    static NgramPool trainingAnswers(SqlTask task, Tokenizer tokenizer, Set<Integer> eos) {
        NgramPool pool = NgramPool.create();
        int stop = eos.isEmpty() ? -1 : eos.iterator().next();
        for (SqlExample e : task.examples(Split.TRAIN)) {
            int[] sql = tokenizer.encodeWithoutSpecialTokens(e.sql());
            int[] ids = stop < 0 ? sql : java.util.Arrays.copyOf(sql, sql.length + 1);
            if (stop >= 0) {
                ids[sql.length] = stop;
            }
            pool.add(TokenIds.of(ids));
        }
        return pool;
    }

    private static DemoReport.Setting setting(Options o, TorchConsistencyModel baseModel,
                                              TorchConsistencyModel cllmModel, SqlTaskConfig c, int heldOut, int n) {
        Path baseDir = o.base();
        Path cllmDir = o.cllm();
        String task = String.format(Locale.ROOT, "seed %d, %d train, %d held out, %d per database%s", c.seed(),
                c.trainExamples(), c.heldOutExamples(), c.examplesPerDatabase(),
                TaskConfigFile.present(baseDir) ? "" : ", defaults: no " + TaskConfigFile.FILE_NAME);
        String platform = System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", Java "
                + System.getProperty("java.version");
        return new DemoReport.Setting(baseDir.toString(), cllmDir.toString(), baseModel.config().parameterCount(),
                cllmModel.config().parameterCount(), task, heldOut, n, o.blockSize(), o.maxNewTokens(), o.warmup(), o.repeats(),
                Runtime.getRuntime().availableProcessors(), TorchRuntime.torchThreads(), TorchRuntime.blasThreads(),
                baseModel.llama().deviceName() + " " + baseModel.llama().dtypeName(), platform);
    }

    /**
     * Scores the first sweep's outputs, computes the rows and builds the trajectories of question
     * {@code requested} (0-based), or of the best recorded one when it is null.
     */
    public static DemoReport report(DemoRun.Result result, SqlTask task, List<SqlExample> golds, Tokenizer tokenizer,
                             TokenLabels labels, DemoReport.Setting setting, Integer requested) {
        int ar = result.indexOf(AR);
        int jacobiBase = result.indexOf(JACOBI_BASE);
        int jacobiCllm = result.indexOf(JACOBI_CLLM);
        int n = golds.size();
        List<List<String>> texts = new ArrayList<>();
        for (List<DecodeSample> samples : result.samples()) {
            texts.add(samples.stream().map(s -> tokenizer.decode(s.generation().ids().toArray())).toList());
        }
        double arTokensPerS = result.medianTokensPerSecond(ar);
        double arElapsed = result.medianElapsedNanos(ar);
        List<DemoReport.Row> rows = new ArrayList<>();
        try (SqlEvaluator evaluator = SqlEvaluator.open(task.databases())) {
            for (int c = 0; c < result.contenders().size(); c++) {
                var score = evaluator.score(golds, texts.get(c));
                DemoRun.Sweep first = result.sweeps().get(c).get(0);
                double tokensPerS = result.medianTokensPerSecond(c);
                double elapsed = result.medianElapsedNanos(c);
                rows.add(new DemoReport.Row(result.contenders().get(c).name(), score.executionAccuracy(),
                        score.exactMatchAccuracy(),
                        first.decodingPasses() == 0 ? 0.0 : (double) first.decodedTokens() / first.decodingPasses(),
                        tokensPerS, arTokensPerS == 0 ? 0.0 : tokensPerS / arTokensPerS,
                        elapsed == 0 ? 0.0 : arElapsed / elapsed,
                        (double) agreeing(result.samples().get(ar), result.samples().get(c)) / n,
                        bySource(result.samples().get(c)), meanTree(result.samples().get(c))));
            }
        }
        int mismatches = n - agreeing(result.samples().get(ar), result.samples().get(jacobiBase));
        // every decoder must give its model's greedy output: the base model's ar output, or plain Jacobi on the CLLM
        List<DemoReport.Check> checks = new ArrayList<>();
        checks.add(new DemoReport.Check(JACOBI_BASE, AR, mismatches));
        if (result.contenders().stream().anyMatch(x -> x.name().equals(LOOKAHEAD_BASE))) {
            checks.add(new DemoReport.Check(LOOKAHEAD_BASE, AR,
                    n - agreeing(result.samples().get(ar), result.samples().get(result.indexOf(LOOKAHEAD_BASE)))));
        }
        if (result.contenders().stream().anyMatch(x -> x.name().equals(LOOKAHEAD_CLLM))) {
            checks.add(new DemoReport.Check(LOOKAHEAD_CLLM, JACOBI_CLLM, n - agreeing(result.samples().get(jacobiCllm),
                    result.samples().get(result.indexOf(LOOKAHEAD_CLLM)))));
        }

        Integer shownIndex = shownQuestion(result, jacobiCllm, requested);
        DemoReport.Shown shown = null;
        if (shownIndex != null) {
            int q = shownIndex;
            List<TrajectoryView> views = new ArrayList<>();
            for (int c : new int[]{jacobiBase, jacobiCllm}) {
                String title = result.contenders().get(c).name() + (c == jacobiBase ? " (base model" : " (CLLM")
                        + ", block size " + ((JacobiDecoder) result.contenders().get(c).decoder()).blockSize() + ")";
                views.add(TrajectoryView.of(title, result.samples().get(c).get(q).generation(),
                        result.recordings().get(c).get(q), labels, texts.get(c).get(q)));
            }
            SqlExample gold = golds.get(q);
            shown = new DemoReport.Shown(q + 1, gold.db(), gold.question(), gold.sql(), views);
        }
        return new DemoReport(setting, rows, mismatches, checks, shown);
    }

    /** Tokens accepted beyond one per pass, by candidate source, over the samples (empty for plain decoders). */
    private static java.util.Map<String, Long> bySource(List<DecodeSample> samples) {
        java.util.Map<String, Long> out = new java.util.LinkedHashMap<>();
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

    /** The question to show: {@code requested} (0-based) if given, else the recorded one where the CLLM accepts the
     *  most tokens per pass (the first such); null when nothing was recorded. */
    public static Integer shownQuestion(DemoRun.Result result, int jacobiCllm, Integer requested) {
        var recorded = result.recordings().get(jacobiCllm);
        if (requested != null) {
            return recorded.containsKey(requested) ? requested : null;
        }
        List<DecodeSample> samples = result.samples().get(jacobiCllm);
        Integer best = null;
        for (int q : new TreeSet<>(recorded.keySet())) {
            if (best == null || samples.get(q).tokensPerPass() > samples.get(best).tokensPerPass()) {
                best = q;
            }
        }
        return best;
    }

    private static int agreeing(List<DecodeSample> a, List<DecodeSample> b) {
        int count = 0;
        for (int q = 0; q < a.size(); q++) {
            count += a.get(q).generation().ids().equals(b.get(q).generation().ids()) ? 1 : 0;
        }
        return count;
    }
}
