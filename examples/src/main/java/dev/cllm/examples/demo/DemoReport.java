package dev.cllm.examples.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * What {@code ./cllm demo} found: the setting, one row per decoder, the losslessness check and the trajectories of
 * one question; printed as a table ({@link #printHuman}), as one JSON object ({@link #toJson}) or as an HTML page
 * ({@link HtmlReport}). Immutable.
 *
 * @param setting    the models, task and machine
 * @param rows       one row per decoder: ar, jacobi-base, jacobi-cllm
 * @param mismatches questions whose jacobi-base output differs from the ar output (0: lossless, as it must be)
 * @param shown      the question whose trajectories are shown, or null when none were recorded
 */
public record DemoReport(Setting setting, List<Row> rows, int mismatches, Shown shown) {

    /** The definitions of the columns, for the help, the table and the HTML page. */
    public static final String DEF_TOKENS_PER_PASS = "tokens/pass: tokens the decoding passes produced / decoding passes, "
            + "where decoding passes are the forward passes after the prompt's prefill (the same for every decoder) "
            + "and the stop token counts as produced; ar is exactly 1.00";
    public static final String DEF_TOKENS_PER_S = "tokens/s: those tokens / decode time (prefill excluded), summed over the "
            + "questions; the median over the timed sweeps";
    public static final String DEF_SPEEDUP = "speedup: tokens/s over ar's tokens/s in this run; latency speedup: ar's "
            + "end-to-end time over the decoder's (prefill included), summed over the questions";
    public static final String DEF_ACCURACY = "exec acc: share of questions whose predicted SQL returns the gold SQL's "
            + "result on SQLite; exact: share equal to the gold SQL; agrees: share of outputs identical to ar's";
    static final List<String> DEFINITIONS = List.of(DEF_TOKENS_PER_PASS, DEF_TOKENS_PER_S, DEF_SPEEDUP,
            DEF_ACCURACY);

    /**
     * The setting of a run.
     *
     * @param base           the base model's directory
     * @param cllm           the CLLM's directory
     * @param baseParameters the base model's weights
     * @param cllmParameters the CLLM's weights
     * @param task           how the task was generated, e.g. {@code seed 0, 16000 train, 200 held out}
     * @param heldOut        held-out questions in the task
     * @param questions      questions decoded (the first ones)
     * @param blockSize      the Jacobi block size n
     * @param maxNewTokens   the token budget per question
     * @param warmup         questions each decoder decoded untimed first
     * @param repeats        timed sweeps
     * @param cores          available processors
     * @param torchThreads   libtorch intra-op threads
     * @param blasThreads    OpenBLAS threads
     * @param device         device and compute dtype, e.g. {@code cpu fp32}
     * @param platform       OS, architecture and Java version
     */
    public record Setting(String base, String cllm, long baseParameters, long cllmParameters, String task,
                          int heldOut, int questions, int blockSize, int maxNewTokens, int warmup, int repeats,
                          int cores, int torchThreads, int blasThreads, String device, String platform) {
    }

    /**
     * One decoder's results over the questions.
     *
     * @param decoder        ar, jacobi-base or jacobi-cllm
     * @param execAccuracy   share of questions whose predicted SQL executes to the gold result
     * @param exactMatch     share of predictions equal to the gold SQL (whitespace aside)
     * @param tokensPerPass  decoded tokens / decoding passes ({@link DecodeSample})
     * @param tokensPerS     decoded tokens / decode seconds, median over the sweeps
     * @param speedup        tokensPerS / ar's tokensPerS
     * @param latencySpeedup ar's summed end-to-end time / this decoder's (prefill included; median over sweeps)
     * @param agreesWithBase share of questions whose output ids equal the base model's ar output
     */
    public record Row(String decoder, double execAccuracy, double exactMatch, double tokensPerPass,
                      double tokensPerS, double speedup, double latencySpeedup, double agreesWithBase) {
        public Row {
            Objects.requireNonNull(decoder, "decoder");
        }
    }

    /**
     * The question whose trajectories are shown.
     *
     * @param number   its 1-based number among the decoded questions
     * @param db       its database
     * @param question the question
     * @param gold     the gold SQL
     * @param views    the trajectory of each Jacobi decoder (base model first, then the CLLM)
     */
    public record Shown(int number, String db, String question, String gold, List<TrajectoryView> views) {
        public Shown {
            views = List.copyOf(views);
        }
    }

    public DemoReport {
        Objects.requireNonNull(setting, "setting");
        rows = List.copyOf(rows);
    }

    /** The row of {@code decoder}. */
    public Row row(String decoder) {
        return rows.stream().filter(r -> r.decoder().equals(decoder)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no row " + decoder));
    }

    /**
     * The JSON object: {@code rows} (decoder, exec_accuracy, exact_match, tokens_per_pass, tokens_per_s, speedup
     * each) and {@code questions}, then the setting and the checks ({@code jacobi_base_mismatches},
     * {@code cllm_agrees_with_base}).
     */
    public ObjectNode toJson(ObjectMapper json) {
        ObjectNode o = json.createObjectNode();
        ArrayNode array = o.putArray("rows");
        for (Row r : rows) {
            array.addObject().put("decoder", r.decoder()).put("exec_accuracy", r.execAccuracy())
                    .put("exact_match", r.exactMatch()).put("tokens_per_pass", r.tokensPerPass())
                    .put("tokens_per_s", r.tokensPerS()).put("speedup", r.speedup());
        }
        o.put("questions", setting.questions());
        o.put("block_size", setting.blockSize());
        o.put("max_new_tokens", setting.maxNewTokens());
        o.put("repeats", setting.repeats());
        o.put("warmup", setting.warmup());
        o.put("threads", setting.torchThreads());
        o.put("blas_threads", setting.blasThreads());
        o.putObject("machine").put("cores", setting.cores()).put("device", setting.device())
                .put("platform", setting.platform());
        o.put("task", setting.task());
        o.put("jacobi_base_mismatches", mismatches);
        rows.stream().filter(r -> r.decoder().equals(SqlDemo.JACOBI_CLLM)).findFirst()
                .ifPresent(r -> o.put("cllm_agrees_with_base", r.agreesWithBase()));
        if (shown != null) {
            o.put("shown_question", shown.number());
        }
        return o;
    }

    /** Prints the header, the table, the losslessness check and the trajectories. */
    public void printHuman(PrintStream out, boolean ansi) {
        Setting s = setting;
        out.println("cllm demo: text-to-SQL on held-out questions (unseen schemas and phrasings), greedy decoding");
        out.printf(Locale.ROOT, "  base model   %s (%s parameters)%n", s.base(), millions(s.baseParameters()));
        out.printf(Locale.ROOT, "  CLLM         %s (%s parameters)%n", s.cllm(), millions(s.cllmParameters()));
        out.printf(Locale.ROOT, "  questions    %d of %d held out (task: %s); stop at EOS, at most %d new tokens%n",
                s.questions(), s.heldOut(), s.task(), s.maxNewTokens());
        out.printf(Locale.ROOT, "  decoders     ar = base model, one token per pass; jacobi-base, jacobi-cllm = "
                + "Jacobi decoding with block size %d%n", s.blockSize());
        out.printf(Locale.ROOT, "  machine      %d cores, %s, %s, libtorch %d thread%s, OpenBLAS %d thread%s%n",
                s.cores(), s.platform(), s.device(), s.torchThreads(), s.torchThreads() == 1 ? "" : "s",
                s.blasThreads(), s.blasThreads() == 1 ? "" : "s");
        out.printf(Locale.ROOT, "  timing       %d warm-up question%s per decoder, then %d timed sweep%s; decoders "
                        + "interleaved per question%n", s.warmup(), s.warmup() == 1 ? "" : "s", s.repeats(),
                s.repeats() == 1 ? "" : "s");
        out.println();
        out.printf(Locale.ROOT, "  %-12s %9s %7s %12s %9s %8s %16s %7s%n", "decoder", "exec acc", "exact",
                "tokens/pass", "tokens/s", "speedup", "latency speedup", "agrees");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "  %-12s %8.1f%% %6.1f%% %12.2f %9.0f %7.2fx %15.2fx %6.1f%%%n", r.decoder(),
                    100 * r.execAccuracy(), 100 * r.exactMatch(), r.tokensPerPass(), r.tokensPerS(), r.speedup(),
                    r.latencySpeedup(), 100 * r.agreesWithBase());
        }
        out.println();
        for (String d : DEFINITIONS) {
            out.println("  " + d);
        }
        out.println();
        if (mismatches == 0) {
            out.printf(Locale.ROOT, "lossless: jacobi-base output = ar output on all %d questions%n", s.questions());
        } else {
            out.println(mismatchWarning(mismatches, s.questions()));
        }
        if (shown != null) {
            out.println();
            out.printf(Locale.ROOT, "Jacobi trajectories of question %d (%s): %s%n", shown.number(), shown.db(),
                    shown.question());
            out.println("  gold SQL: " + shown.gold());
            out.println("  " + TrajectoryView.legend(ansi));
            for (TrajectoryView v : shown.views()) {
                out.println();
                out.print(v.render(ansi));
            }
        }
    }

    /** The loud line printed when Jacobi decoding on the base model did not reproduce its ar output. */
    static String mismatchWarning(int mismatches, int questions) {
        return String.format(Locale.ROOT, "WARNING: NOT LOSSLESS: jacobi-base output differs from ar output on %d of "
                + "%d questions (Jacobi decoding must reproduce greedy ar decoding exactly)", mismatches, questions);
    }

    static String millions(long parameters) {
        return parameters >= 1_000_000 ? String.format(Locale.ROOT, "%.1fM", parameters / 1e6)
                : String.format(Locale.ROOT, "%.1fK", parameters / 1e3);
    }
}
