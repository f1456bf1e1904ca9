package dev.cllm.examples.demo;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.sql.SqlEvaluator;
import dev.cllm.examples.sql.SqlExample;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTaskConfig;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm demo}: the shipped base model and its CLLM on the held-out questions of the text-to-SQL task, each
 * question decoded three ways: {@code ar} (the base model, block size 1: one token per forward pass),
 * {@code jacobi-base} (Jacobi decoding with block size n on the base model: lossless, so its output must equal ar's)
 * and {@code jacobi-cllm} (Jacobi decoding with block size n on the CLLM). Greedy, stop at EOS.
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
 * over {@code --repeats} sweeps), and <b>speedup</b> = tokens per second / ar's. The table also shows the
 * end-to-end <b>latency speedup</b> (ar's summed time including the prefill over the decoder's) and each decoder's
 * agreement with ar's output. Then the Jacobi trajectories of one question ({@link TrajectoryView}) in the terminal
 * and as an HTML page ({@link HtmlReport}). {@code --json} prints one JSON object instead
 * ({@link DemoReport#toJson}).
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The base model and its CLLM on the held-out text-to-SQL questions: accuracy and speed of "
                + "ar (base model, one token per pass), jacobi-base (Jacobi decoding on the base model: lossless, "
                + "the same output as ar) and jacobi-cllm (Jacobi decoding on the CLLM); then one question's "
                + "Jacobi trajectories, in the terminal and as an HTML page.",
                ""},
        footer = {"", "Columns:", DemoCommand.DEF_TOKENS_PER_PASS, DemoCommand.DEF_TOKENS_PER_S,
                DemoCommand.DEF_SPEEDUP, DemoCommand.DEF_ACCURACY, "",
                "Trajectories: one row per forward pass; tokens already equal to the final output at their position "
                        + "are green on a terminal (unless NO_COLOR is set), else in [brackets].", "",
                "--json prints only {\"rows\":[{\"decoder\",\"exec_accuracy\",\"exact_match\",\"tokens_per_pass\","
                        + "\"tokens_per_s\",\"speedup\"}],\"questions\":N,...} on stdout; logs go to stderr."})
public final class DemoCommand implements Callable<Integer> {
    /** The autoregressive baseline on the base model. */
    public static final String AR = "ar";
    /** Jacobi decoding on the base model. */
    public static final String JACOBI_BASE = "jacobi-base";
    /** Jacobi decoding on the CLLM. */
    public static final String JACOBI_CLLM = "jacobi-cllm";
    /** The default trajectory is the best of the first this many questions. */
    static final int SHOW_CANDIDATES = 20;
    static final String DEFAULT_HTML = "cllm-demo.html";

    static final String DEF_TOKENS_PER_PASS = "tokens/pass: tokens the decoding passes produced / decoding passes, "
            + "where decoding passes are the forward passes after the prompt's prefill (the same for every decoder) "
            + "and the stop token counts as produced; ar is exactly 1.00";
    static final String DEF_TOKENS_PER_S = "tokens/s: those tokens / decode time (prefill excluded), summed over the "
            + "questions; the median over the timed sweeps";
    static final String DEF_SPEEDUP = "speedup: tokens/s over ar's tokens/s in this run; latency speedup: ar's "
            + "end-to-end time over the decoder's (prefill included), summed over the questions";
    static final String DEF_ACCURACY = "exec acc: share of questions whose predicted SQL returns the gold SQL's "
            + "result on SQLite; exact: share equal to the gold SQL; agrees: share of outputs identical to ar's";

    private static final Logger LOG = LoggerFactory.getLogger(DemoCommand.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--base", paramLabel = "DIR",
            description = "the base model's checkpoint directory (default: models/sql-base in the repository)")
    Path base;

    @Option(names = "--cllm", paramLabel = "DIR",
            description = "the CLLM's checkpoint directory (default: models/sql-cllm in the repository)")
    Path cllm;

    @Option(names = "--questions", paramLabel = "N",
            description = "decode the first N held-out questions (default: all of them)")
    Integer questions;

    @Option(names = "--block-size", paramLabel = "N", defaultValue = "8",
            description = "Jacobi block size n (default: ${DEFAULT-VALUE}, the block size the shipped CLLM was "
                    + "trained with)")
    int blockSize;

    @Option(names = "--max-new-tokens", paramLabel = "N", defaultValue = "64",
            description = "most tokens to generate per question (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--repeats", paramLabel = "R", defaultValue = "1",
            description = "timed sweeps over the questions; tokens/s is the median (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
            description = "questions each decoder decodes untimed first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--show", paramLabel = "K",
            description = "show the trajectories of question K (1-based; default: the question among the first "
                    + SHOW_CANDIDATES + " where the CLLM accepts the most tokens per pass)")
    Integer show;

    @Option(names = "--html", paramLabel = "FILE",
            description = "write the trajectories as an HTML page (default: " + DEFAULT_HTML
                    + " in the working directory; with --json only when given)")
    Path html;

    @Option(names = "--json", description = "print only one JSON object on stdout")
    boolean json;

    @Option(names = "--threads", paramLabel = "N",
            description = "libtorch intra-op threads (default: measured per machine, see README)")
    Integer threads;

    @Option(names = "--blas-threads", paramLabel = "N", description = "OpenBLAS threads")
    Integer blasThreads;

    @Option(names = "--device", paramLabel = "DEV", defaultValue = "auto",
            description = "auto, cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    /** The repository root, set by the launcher ({@code -Dcllm.home}); else the working directory. */
    static Path home() {
        return Path.of(System.getProperty("cllm.home", "."));
    }

    @Override
    public Integer call() throws JsonProcessingException {
        checkOptions();
        Path baseDir = base != null ? base : home().resolve("models").resolve("sql-base");
        Path cllmDir = cllm != null ? cllm : home().resolve("models").resolve("sql-cllm");
        requireDirectory(baseDir, "--base", base == null, "the base model");
        requireDirectory(cllmDir, "--cllm", cllm == null, "the CLLM");

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

        if (threads != null || blasThreads != null) {
            TorchRuntime.setThreads(threads != null ? threads : TorchRuntime.torchThreads(),
                    blasThreads != null ? blasThreads : TorchRuntime.blasThreads());
        }
        TorchOptions options = TorchOptions.defaults().withDevice(device);
        try (TorchConsistencyModel baseModel = TorchConsistencyModel.load(baseDir, options);
             TorchConsistencyModel cllmModel = TorchConsistencyModel.load(cllmDir, options)) {
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
            List<DemoRun.Contender> contenders = List.of(
                    new DemoRun.Contender(AR, baseModel, ar, false),
                    new DemoRun.Contender(JACOBI_BASE, baseModel, jacobi, true),
                    new DemoRun.Contender(JACOBI_CLLM, cllmModel, jacobi, true));
            Set<Integer> recorded = new TreeSet<>();
            for (int q = 0; q < Math.min(SHOW_CANDIDATES, n); q++) {
                recorded.add(q);
            }
            if (show != null) {
                recorded.clear();
                recorded.add(show - 1);
            }
            LOG.info("decoding {} questions with {}, {} and {} (block size {}), {} timed sweep(s)", n, AR,
                    JACOBI_BASE, JACOBI_CLLM, blockSize, repeats);
            DemoRun.Result result = new DemoRun(contenders, prompts, warmup, repeats, recorded).run();

            DemoReport report = report(result, task, golds, tokenizer, TokenLabels.fromCheckpoint(baseDir),
                    setting(baseDir, cllmDir, baseModel, cllmModel, taskConfig, heldOut.size(), n),
                    show == null ? null : show - 1);
            if (report.mismatches() > 0) {
                LOG.warn(DemoReport.mismatchWarning(report.mismatches(), n));
            }
            PrintStream out = System.out;
            if (json) {
                var o = report.toJson(JSON);
                if (html != null) {
                    o.put("html", HtmlReport.write(report, html).toString());
                }
                out.println(JSON.writeValueAsString(o));
            } else {
                report.printHuman(out, colour());
                Path page = HtmlReport.write(report, html != null ? html : Path.of(DEFAULT_HTML));
                out.println();
                out.println("HTML: " + page);
            }
            out.flush();
            return 0;
        }
    }

    private void checkOptions() {
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
        if (threads != null && threads < 1) {
            throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
        }
        if (blasThreads != null && blasThreads < 1) {
            throw new IllegalArgumentException("--blas-threads must be >= 1, got " + blasThreads);
        }
    }

    /**
     * Throws an {@link IllegalArgumentException} naming {@code dir}, and the option that chose it, when it is not a
     * directory.
     */
    static void requireDirectory(Path dir, String option, boolean defaulted, String what) {
        if (!Files.isDirectory(dir)) {
            throw new IllegalArgumentException(defaulted
                    ? dir + ": no such directory (" + what + "'s checkpoint directory, the default of " + option
                    + "; pass " + option + " DIR)"
                    : option + " " + dir + ": no such directory (" + what + "'s checkpoint directory)");
        }
    }

    /** ANSI colours when stdout is a terminal and {@code NO_COLOR} is not set. */
    static boolean colour() {
        String noColour = System.getenv("NO_COLOR");
        return System.console() != null && (noColour == null || noColour.isEmpty());
    }

    private DemoReport.Setting setting(Path baseDir, Path cllmDir, TorchConsistencyModel baseModel,
                                       TorchConsistencyModel cllmModel, SqlTaskConfig c, int heldOut, int n) {
        String task = String.format(Locale.ROOT, "seed %d, %d train, %d held out, %d per database%s", c.seed(),
                c.trainExamples(), c.heldOutExamples(), c.examplesPerDatabase(),
                TaskConfigFile.present(baseDir) ? "" : ", defaults: no " + TaskConfigFile.FILE_NAME);
        String platform = System.getProperty("os.name") + " " + System.getProperty("os.arch") + ", Java "
                + System.getProperty("java.version");
        return new DemoReport.Setting(baseDir.toString(), cllmDir.toString(), baseModel.config().parameterCount(),
                cllmModel.config().parameterCount(), task, heldOut, n, blockSize, maxNewTokens, warmup, repeats,
                Runtime.getRuntime().availableProcessors(), TorchRuntime.torchThreads(), TorchRuntime.blasThreads(),
                baseModel.llama().deviceName() + " " + baseModel.llama().dtypeName(), platform);
    }

    /**
     * Scores the first sweep's outputs, computes the rows and builds the trajectories of question
     * {@code requested} (0-based), or of the best recorded one when it is null.
     */
    static DemoReport report(DemoRun.Result result, SqlTask task, List<SqlExample> golds, Tokenizer tokenizer,
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
                        (double) agreeing(result.samples().get(ar), result.samples().get(c)) / n));
            }
        }
        int mismatches = n - agreeing(result.samples().get(ar), result.samples().get(jacobiBase));

        Integer shownIndex = shownQuestion(result, jacobiCllm, requested);
        DemoReport.Shown shown = null;
        if (shownIndex != null) {
            int q = shownIndex;
            List<TrajectoryView> views = new ArrayList<>();
            for (int c : new int[]{jacobiBase, jacobiCllm}) {
                String title = result.contenders().get(c).name() + (c == jacobiBase ? " (base model" : " (CLLM")
                        + ", block size " + result.contenders().get(c).decoder().blockSize() + ")";
                views.add(TrajectoryView.of(title, result.samples().get(c).get(q).generation(),
                        result.recordings().get(c).get(q), labels, texts.get(c).get(q)));
            }
            SqlExample gold = golds.get(q);
            shown = new DemoReport.Shown(q + 1, gold.db(), gold.question(), gold.sql(), views);
        }
        return new DemoReport(setting, rows, mismatches, shown);
    }

    /** The question to show: {@code requested} (0-based) if given, else the recorded one where the CLLM accepts the
     *  most tokens per pass (the first such); null when nothing was recorded. */
    static Integer shownQuestion(DemoRun.Result result, int jacobiCllm, Integer requested) {
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
