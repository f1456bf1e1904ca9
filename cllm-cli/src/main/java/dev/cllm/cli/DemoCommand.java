package dev.cllm.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.examples.demo.DemoReport;
import dev.cllm.examples.demo.HtmlReport;
import dev.cllm.examples.demo.Demo;
import dev.cllm.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm demo}: the demo ({@link Demo}): a task's shipped base model and its CLLM on the held-out questions,
 * decoded as ar, jacobi-base, jacobi-cllm, lookahead-base and lookahead-cllm; the table, then Jacobi trajectories of a
 * question the CLLM answers right and of one it answers wrong, in the terminal and as an HTML page, or {@code --json}.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"A task's base model and its CLLM on the task's held-out questions (text-to-SQL by default, or "
                + "arithmetic word problems with --task math): accuracy and speed of ar (base model, one token per "
                + "pass), jacobi-base (Jacobi decoding on the base model: lossless, the same output as ar), "
                + "jacobi-cllm (Jacobi decoding on the CLLM), lookahead-base and lookahead-cllm (the Jacobi window "
                + "plus n-gram candidates verified in the same pass: lossless too); then the Jacobi trajectories of "
                + "a question the CLLM answers right and of one it answers wrong, in the terminal and as an HTML "
                + "page.",
                ""},
        footer = {"", "Columns:", DemoReport.DEF_TOKENS_PER_PASS, DemoReport.DEF_TOKENS_PER_S,
                DemoReport.DEF_SPEEDUP, DemoReport.DEF_ACCURACY, "",
                "Trajectories: one row per forward pass; tokens already equal to the final output at their position "
                        + "are green on a terminal (unless NO_COLOR is set), else in [brackets].", "",
                "--json prints only {\"rows\":[{\"decoder\",\"exec_accuracy\" (\"accuracy\" for math),\"exact_match\","
                        + "\"tokens_per_pass\",\"tokens_per_s\",\"speedup\",...}],\"questions\":N,...} on stdout; logs go "
                        + "to stderr."})
public final class DemoCommand implements Callable<Integer> {
    static final String DEFAULT_HTML = "cllm-demo.html";

    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--task", paramLabel = "sql|math", defaultValue = "sql",
            description = "the task: sql (text-to-SQL, the default) or math (arithmetic word problems)")
    String task;

    @Option(names = "--base", paramLabel = "DIR",
            description = "the base model's checkpoint directory (default: models/TASK-base in the repository)")
    Path base;

    @Option(names = "--cllm", paramLabel = "DIR",
            description = "the CLLM's checkpoint directory (default: models/TASK-cllm in the repository)")
    Path cllm;

    @Option(names = "--questions", paramLabel = "N",
            description = "decode the first N held-out questions (default: all of them)")
    Integer questions;

    @Option(names = "--block-size", paramLabel = "N",
            description = "Jacobi block size n (default: the block size the task's shipped CLLM was trained with: "
                    + "8 for sql, 16 for math)")
    Integer blockSize;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "most tokens to generate per question (default: 64 for sql, 160 for math)")
    Integer maxNewTokens;

    @Option(names = "--repeats", paramLabel = "R", defaultValue = "1",
            description = "timed sweeps over the questions; tokens/s is the median (default: ${DEFAULT-VALUE})")
    int repeats;

    @Option(names = "--warmup", paramLabel = "N", defaultValue = "3",
            description = "questions each decoder decodes untimed first (default: ${DEFAULT-VALUE})")
    int warmup;

    @Option(names = "--show", paramLabel = "K",
            description = "show the trajectories of question K (1-based; default: the question the CLLM answers "
                    + "right with the most tokens per pass and the one it answers wrong with the most, among all "
                    + "the decoded questions)")
    Integer show;

    @Option(names = "--sample", paramLabel = "TEMPERATURE",
            description = "also run every decoder sampling at this temperature (top-k 50) with one seed: rows "
                    + "ar-sampled, jacobi-base-sampled, ...; on the base model each must give ar-sampled's tokens "
                    + "(lossless sampling), and the speedups are over ar-sampled")
    Double sample;

    @Option(names = "--running",
            description = "also run running-cllm: Jacobi iteration on the CLLM over a running window of the block "
                    + "size per pass, without block boundaries (lossless: it must equal jacobi-cllm)")
    boolean running;

    @Option(names = "--validation", paramLabel = "N",
            description = "decode N validation questions (drawn like the held-out ones, never one of them) instead "
                    + "of the held-out questions: a larger sample, for narrower confidence intervals")
    Integer validation;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0",
            description = "the sampling seed of the --sample rows (default: ${DEFAULT-VALUE})")
    long seed;

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

    @Option(names = "--weights", paramLabel = "FORMAT", defaultValue = "auto",
            description = "weight format of both models' projections on CPU: auto (fp16 for the shipped bf16 "
                    + "checkpoints), f32, f16, f16-only, int8 (default: ${DEFAULT-VALUE})")
    String weights;

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
        Path baseDir = base != null ? base : home().resolve("models").resolve(task + "-base");
        Path cllmDir = cllm != null ? cllm : home().resolve("models").resolve(task + "-cllm");
        requireDirectory(baseDir, "--base", base == null, "the base model");
        requireDirectory(cllmDir, "--cllm", cllm == null, "the CLLM");

        if (threads != null || blasThreads != null) {
            TorchRuntime.setThreads(threads != null ? threads : TorchRuntime.torchThreads(),
                    blasThreads != null ? blasThreads : TorchRuntime.blasThreads());
        }
        DemoReport report = Demo.run(new Demo.Options(task, baseDir, cllmDir, questions, blockSize(), maxNewTokens(),
                repeats, warmup, show, device, sample, seed, weights, running, validation));
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

    private int blockSize() {
        return blockSize != null ? blockSize : defaultBlockSize(task);
    }

    private int maxNewTokens() {
        return maxNewTokens != null ? maxNewTokens : defaultMaxNewTokens(task);
    }

    /** The demo's block size for {@code task}: 16 for math's long answers, 8 for SQL's short ones. */
    static int defaultBlockSize(String task) {
        return task.equals("math") ? 16 : 8;
    }

    /** The demo's longest answer for {@code task}. */
    static int defaultMaxNewTokens(String task) {
        return task.equals("math") ? 160 : 64;
    }

    private void checkOptions() {
        new Demo.Options(task, Path.of("."), Path.of("."), questions, blockSize(), maxNewTokens(), repeats, warmup, show,
                device, sample, seed, weights, running, validation); // validates the options before any model loads
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
}
