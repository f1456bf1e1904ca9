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
 * @param rows       one row per decoder: ar, jacobi-base, jacobi-cllm, lookahead-base, lookahead-cllm (and
 *                   running-cllm, on request)
 * @param mismatches questions whose jacobi-base output differs from the ar output (0: lossless, as it must be)
 * @param checks     every losslessness check: a decoder's outputs against those it must equal
 * @param shown      the questions whose trajectories are shown (none when none were recorded)
 * @param gap        the CLLM's accuracy against the base model's, question by question
 */
public record DemoReport(Setting setting, List<Row> rows, int mismatches, List<Check> checks, List<Shown> shown,
                         AccuracyGap gap, List<TemplateScore> byTemplate) {

    /**
     * Both models' accuracy on the questions of one template (ar for the base model, jacobi-cllm for the CLLM).
     *
     * @param template    the template ({@link DemoTask#template})
     * @param questions   its questions among those decoded
     * @param baseCorrect those the base model answers right
     * @param cllmCorrect those the CLLM answers right
     */
    public record TemplateScore(String template, int questions, int baseCorrect, int cllmCorrect) {
        public double baseAccuracy() {
            return (double) baseCorrect / questions;
        }

        public double cllmAccuracy() {
            return (double) cllmCorrect / questions;
        }
    }

    /** At most this many templates are named in the terminal and HTML sentence (JSON has them all). */
    static final int TEMPLATES_SHOWN = 4;

    /**
     * The CLLM's accuracy minus the base model's on the same questions (jacobi-cllm against ar), with how sure it
     * is: a paired comparison, since both answer every question. Only the questions one model gets right and the
     * other wrong carry information; with few questions a difference of a point or two is within the noise.
     * {@link #halfWidth()} treats questions as independent; where they share templates (the example tasks' held-out
     * questions are a few unseen templates, each tending to be answered right or wrong as a whole) the template-level
     * interval, {@link #templateHalfWidth()}, is the honest one, and it is much wider.
     *
     * @param cllmOnly          questions the CLLM answers right and the base model wrong
     * @param baseOnly          questions the base model answers right and the CLLM wrong
     * @param questions         questions answered by both
     * @param templates         templates the questions were made from (0: not known)
     * @param templateHalfWidth the half-width, in points, of the 95% interval that treats templates as the independent
     *                          draws: the cluster-robust (CR1) standard error of the mean difference times Student's t
     *                          with templates - 1 degrees of freedom; NaN when not known or with fewer than two
     */
    public record AccuracyGap(int cllmOnly, int baseOnly, int questions, int templates, double templateHalfWidth) {
        /** The 0.975 quantile of the standard normal distribution. */
        private static final double Z = 1.959964;
        /** The 0.975 quantiles of Student's t with 1 to 30 degrees of freedom. */
        private static final double[] T975 = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
            2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060,
            2.056, 2.052, 2.048, 2.045, 2.042};

        public AccuracyGap {
            if (cllmOnly < 0 || baseOnly < 0 || questions < 1 || cllmOnly + baseOnly > questions) {
                throw new IllegalArgumentException("bad counts: " + cllmOnly + " + " + baseOnly + " of " + questions);
            }
            if (templates < 0 || templates > questions) {
                throw new IllegalArgumentException("bad template count " + templates + " for " + questions
                        + " questions");
            }
        }

        /** Counts only, no templates. */
        public AccuracyGap(int cllmOnly, int baseOnly, int questions) {
            this(cllmOnly, baseOnly, questions, 0, Double.NaN);
        }

        /**
         * The gap of two models' per-question results, with the template-level interval when {@code templates}
         * names each question's template (null: none).
         */
        public static AccuracyGap of(boolean[] cllmRight, boolean[] baseRight, List<String> templates) {
            int n = cllmRight.length;
            if (baseRight.length != n || templates != null && templates.size() != n) {
                throw new IllegalArgumentException("results for " + n + " and " + baseRight.length + " questions"
                        + (templates == null ? "" : ", templates for " + templates.size()));
            }
            int cllmOnly = 0;
            int baseOnly = 0;
            double[] d = new double[n];
            for (int q = 0; q < n; q++) {
                d[q] = (cllmRight[q] ? 1 : 0) - (baseRight[q] ? 1 : 0);
                cllmOnly += d[q] > 0 ? 1 : 0;
                baseOnly += d[q] < 0 ? 1 : 0;
            }
            if (templates == null) {
                return new AccuracyGap(cllmOnly, baseOnly, n);
            }
            java.util.Map<String, Double> residuals = new java.util.TreeMap<>();
            double mean = (cllmOnly - baseOnly) / (double) n;
            for (int q = 0; q < n; q++) {
                residuals.merge(templates.get(q), d[q] - mean, Double::sum);
            }
            int g = residuals.size();
            double halfWidth = Double.NaN;
            if (g >= 2) {
                // the cluster-robust (CR1) variance of the mean: templates, not questions, are the independent draws
                double sum = 0;
                for (double e : residuals.values()) {
                    sum += e * e;
                }
                double variance = g / (g - 1.0) * sum / ((double) n * n);
                double t = g - 1 <= T975.length ? T975[g - 2] : Z;
                halfWidth = 100.0 * t * Math.sqrt(variance);
            }
            return new AccuracyGap(cllmOnly, baseOnly, n, g, halfWidth);
        }

        /**
         * Writes the 95% intervals into {@code node}: {@code ci95_half_width} ({@link #halfWidth()}; null with one
         * question, which has no interval) and, where known, {@code ci95_half_width_by_template}.
         */
        public void putIntervals(ObjectNode node) {
            if (Double.isNaN(halfWidth())) {
                node.putNull("ci95_half_width");
            } else {
                node.put("ci95_half_width", halfWidth());
            }
            if (hasTemplates()) {
                node.put("ci95_half_width_by_template", templateHalfWidth);
            }
        }

        /** The CLLM's accuracy minus the base model's, in points. */
        public double points() {
            return 100.0 * (cllmOnly - baseOnly) / questions;
        }

        /**
         * The half-width, in points, of the 95% confidence interval of {@link #points()}: 1.96 standard errors of the
         * mean of the per-question differences (+1, 0, -1; normal approximation, sample variance with n - 1).
         */
        public double halfWidth() {
            if (questions < 2) {
                return Double.NaN;
            }
            double n = questions;
            double mean = (cllmOnly - baseOnly) / n;
            double variance = ((cllmOnly + baseOnly) - n * mean * mean) / (n - 1);
            return 100.0 * Z * Math.sqrt(Math.max(0.0, variance) / n);
        }

        /** Whether the template-level interval is known (templates given, at least two). */
        public boolean hasTemplates() {
            return templates >= 2 && !Double.isNaN(templateHalfWidth);
        }
    }

    /**
     * One losslessness check.
     *
     * @param decoder    the decoder checked
     * @param reference  the decoder whose outputs it must reproduce (its model's greedy output)
     * @param mismatches questions where they differ
     */
    public record Check(String decoder, String reference, int mismatches) {
    }

    /** The definitions of the columns, for the help, the table and the HTML page. */
    public static final String DEF_TOKENS_PER_PASS = "tokens/pass: tokens the decoding passes produced / decoding passes, "
            + "where decoding passes are the forward passes after the prompt's prefill (the same for every decoder) "
            + "and the stop token counts as produced; ar is exactly 1.00";
    public static final String DEF_TOKENS_PER_S = "tokens/s: those tokens / decode time (prefill excluded), summed over the "
            + "questions; the median over the timed sweeps";
    public static final String DEF_SPEEDUP = "speedup: tokens/s over ar's tokens/s in this run; latency speedup: ar's "
            + "end-to-end time over the decoder's (prefill included), summed over the questions";
    public static final String DEF_ACCURACY = "accuracy: the task's (execution on SQLite for text-to-SQL, the final "
            + "answer for the word problems); exact: share equal to the gold answer; agrees: share of outputs "
            + "identical to ar's";

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
     * @param title          what the task is, for the header
     * @param accuracyKey    the accuracy's JSON name ({@code exec_accuracy}, {@code accuracy})
     * @param accuracyHeader the accuracy column's header
     * @param accuracyNote   what the accuracy and the other checks mean
     */
    public record Setting(String base, String cllm, long baseParameters, long cllmParameters, String task,
                          int heldOut, int questions, int blockSize, int maxNewTokens, int warmup, int repeats,
                          int cores, int torchThreads, int blasThreads, String device, String platform,
                          String title, String accuracyKey, String accuracyHeader, String accuracyNote,
                          String sampling) {

        /** The column definitions, for the table and the page. */
        public List<String> definitions() {
            return List.of(DEF_TOKENS_PER_PASS, DEF_TOKENS_PER_S, DEF_SPEEDUP, accuracyNote);
        }
    }

    /**
     * One decoder's results over the questions.
     *
     * @param decoder        ar, jacobi-base, jacobi-cllm, lookahead-base, lookahead-cllm or running-cllm
     * @param accuracy       the task's accuracy: share of questions answered right
     * @param exactMatch     share of predictions equal to the gold answer (whitespace aside)
     * @param tokensPerPass  decoded tokens / decoding passes ({@link DecodeSample})
     * @param tokensPerS     decoded tokens / decode seconds, median over the sweeps
     * @param speedup        tokensPerS / ar's tokensPerS
     * @param latencySpeedup ar's summed end-to-end time / this decoder's (prefill included; median over sweeps)
     * @param agreesWithBase share of questions whose output ids equal the base model's ar output
     * @param bySource       tokens accepted beyond one per pass, by candidate source (empty for ar and Jacobi)
     * @param meanTree       tokens run per decoding pass (block or tree size)
     */
    public record Row(String decoder, double accuracy, double exactMatch, double tokensPerPass,
                      double tokensPerS, double speedup, double latencySpeedup, double agreesWithBase,
                      java.util.Map<String, Long> bySource, double meanTree) {
        public Row {
            Objects.requireNonNull(decoder, "decoder");
            bySource = java.util.Map.copyOf(bySource);
        }

        /** A row without per-source counts. */
        public Row(String decoder, double accuracy, double exactMatch, double tokensPerPass, double tokensPerS,
                   double speedup, double latencySpeedup, double agreesWithBase) {
            this(decoder, accuracy, exactMatch, tokensPerPass, tokensPerS, speedup, latencySpeedup,
                    agreesWithBase, java.util.Map.of(), 0.0);
        }
    }

    /**
     * A question whose trajectories are shown.
     *
     * @param number   its 1-based number among the decoded questions
     * @param source   where it comes from (its database, or its story and phrasing)
     * @param question the question
     * @param gold     the gold answer
     * @param views    the trajectory of each Jacobi decoder (base model first, then the CLLM), each output marked
     */
    public record Shown(int number, String source, String question, String gold, List<TrajectoryView> views) {
        public Shown {
            views = List.copyOf(views);
        }
    }

    public DemoReport {
        Objects.requireNonNull(setting, "setting");
        rows = List.copyOf(rows);
        checks = List.copyOf(checks);
        shown = List.copyOf(shown);
        Objects.requireNonNull(gap, "gap");
        byTemplate = List.copyOf(byTemplate);
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
            ObjectNode row = array.addObject().put("decoder", r.decoder()).put(setting.accuracyKey(), r.accuracy())
                    .put("exact_match", r.exactMatch()).put("tokens_per_pass", r.tokensPerPass())
                    .put("tokens_per_s", r.tokensPerS()).put("speedup", r.speedup())
                    .put("latency_speedup", r.latencySpeedup()).put("agrees_with_ar", r.agreesWithBase())
                    .put("tokens_per_decoding_pass_run", r.meanTree());
            if (!r.bySource().isEmpty()) {
                ObjectNode sources = row.putObject("accepted_by_source");
                new java.util.TreeMap<>(r.bySource()).forEach(sources::put);
            }
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
        if (setting.sampling() != null) {
            o.put("sampling", setting.sampling());
        }
        o.put("jacobi_base_mismatches", mismatches);
        ArrayNode lossless = o.putArray("lossless_checks");
        for (Check c : checks) {
            lossless.addObject().put("decoder", c.decoder()).put("reference", c.reference())
                    .put("mismatches", c.mismatches());
        }
        rows.stream().filter(r -> r.decoder().equals(Demo.JACOBI_CLLM)).findFirst()
                .ifPresent(r -> o.put("cllm_agrees_with_base", r.agreesWithBase()));
        ObjectNode g = o.putObject("cllm_accuracy_gap").put("points", gap.points());
        gap.putIntervals(g);
        g.put("cllm_only_right", gap.cllmOnly()).put("base_only_right", gap.baseOnly());
        if (gap.hasTemplates()) {
            g.put("templates", gap.templates());
        }
        if (!byTemplate.isEmpty()) {
            ArrayNode templates = o.putArray("by_template");
            for (TemplateScore t : byTemplate) {
                templates.addObject().put("template", t.template()).put("questions", t.questions())
                        .put("base_" + setting.accuracyKey(), t.baseAccuracy())
                        .put("cllm_" + setting.accuracyKey(), t.cllmAccuracy());
            }
        }
        if (!shown.isEmpty()) {
            o.put("shown_question", shown.get(0).number());
            ArrayNode questions = o.putArray("shown_questions");
            for (Shown q : shown) {
                ObjectNode node = questions.addObject().put("question", q.number());
                for (TrajectoryView v : q.views()) {
                    node.put(v.title().split(" ")[0] + "_correct", v.correct());
                }
            }
        }
        return o;
    }

    /** Prints the header, the table, the losslessness check and the trajectories. */
    public void printHuman(PrintStream out, boolean ansi) {
        Setting s = setting;
        out.println("cllm demo: " + s.title() + ", greedy decoding" + (s.sampling() == null ? "" : " and sampling"));
        out.printf(Locale.ROOT, "  base model   %s (%s parameters)%n", s.base(), millions(s.baseParameters()));
        out.printf(Locale.ROOT, "  CLLM         %s (%s parameters)%n", s.cllm(), millions(s.cllmParameters()));
        out.printf(Locale.ROOT, "  questions    %d of %d (task: %s); stop at EOS, at most %d new tokens%n",
                s.questions(), s.heldOut(), s.task(), s.maxNewTokens());
        out.printf(Locale.ROOT, "  decoders     ar = base model, one token per pass; jacobi-base, jacobi-cllm = "
                + "Jacobi decoding with block size %d%n", s.blockSize());
        if (rows.stream().anyMatch(r -> r.decoder().startsWith("lookahead"))) {
            out.printf(Locale.ROOT, "               lookahead-base, lookahead-cllm = Jacobi window of %d plus n-gram "
                    + "candidates (a pool of the task's training answers, prompt lookup, recycled tails) verified in "
                    + "the same pass; a cost model measured on this machine picks how many%n", s.blockSize());
        }
        if (rows.stream().anyMatch(r -> r.decoder().equals(Demo.RUNNING_CLLM))) {
            out.printf(Locale.ROOT, "               running-cllm = Jacobi iteration on the CLLM over a running window of "
                    + "%d tokens per pass: no block boundaries, the window moves on past what converged%n",
                    s.blockSize());
        }
        if (s.sampling() != null) {
            out.printf(Locale.ROOT, "  sampled      the rows ending in -sampled: the same decoders sampling (%s); "
                    + "their speedup and agrees are against ar-sampled%n", s.sampling());
        }
        out.printf(Locale.ROOT, "  machine      %d cores, %s, %s, libtorch %d thread%s, OpenBLAS %d thread%s%n",
                s.cores(), s.platform(), s.device(), s.torchThreads(), s.torchThreads() == 1 ? "" : "s",
                s.blasThreads(), s.blasThreads() == 1 ? "" : "s");
        out.printf(Locale.ROOT, "  timing       %d warm-up question%s per decoder, then %d timed sweep%s; decoders "
                        + "interleaved per question%n", s.warmup(), s.warmup() == 1 ? "" : "s", s.repeats(),
                s.repeats() == 1 ? "" : "s");
        out.println();
        int width = Math.max(14, rows.stream().mapToInt(r -> r.decoder().length()).max().orElse(0));
        out.printf(Locale.ROOT, "  %-" + width + "s %9s %7s %12s %9s %8s %16s %7s%n", "decoder", s.accuracyHeader(),
                "exact", "tokens/pass", "tokens/s", "speedup", "latency speedup", "agrees");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "  %-" + width + "s %8.1f%% %6.1f%% %12.2f %9.0f %7.2fx %15.2fx %6.1f%%%n",
                    r.decoder(),
                    100 * r.accuracy(), 100 * r.exactMatch(), r.tokensPerPass(), r.tokensPerS(), r.speedup(),
                    r.latencySpeedup(), 100 * r.agreesWithBase());
        }
        out.println();
        out.println("  " + gapSentence());
        templateSentence().ifPresent(t -> out.println("  " + t));
        out.println();
        for (String d : s.definitions()) {
            out.println("  " + d);
        }
        out.println();
        for (Check c : checks) {
            if (c.mismatches() == 0) {
                out.printf(Locale.ROOT, "lossless: %s output = %s output on all %d questions%n", c.decoder(),
                        c.reference(), s.questions());
            } else {
                out.println(mismatchWarning(c, s.questions()));
            }
        }
        for (Row r : rows) {
            if (!r.bySource().isEmpty()) {
                out.printf(Locale.ROOT, "%s: %.1f tokens run per pass; tokens accepted beyond one per pass by "
                        + "source: %s%n", r.decoder(), r.meanTree(), new java.util.TreeMap<>(r.bySource()));
            }
        }
        for (Shown q : shown) {
            out.println();
            out.printf(Locale.ROOT, "Jacobi trajectories of question %d (%s): %s%n", q.number(), q.source(),
                    q.question());
            out.println("  gold: " + q.gold());
            out.println("  " + TrajectoryView.legend(ansi));
            for (TrajectoryView v : q.views()) {
                out.println();
                out.print(v.render(ansi));
            }
        }
    }

    /**
     * The templates on which the two models differ most (at most {@value #TEMPLATES_SHOWN}, largest difference
     * first), as one sentence; empty when no template is known or the models agree on every template.
     */
    public java.util.Optional<String> templateSentence() {
        List<TemplateScore> differing = byTemplate.stream().filter(t -> t.baseCorrect() != t.cllmCorrect())
                .sorted(java.util.Comparator.comparingInt((TemplateScore t) -> -Math.abs(t.cllmCorrect()
                        - t.baseCorrect())).thenComparing(TemplateScore::template)).toList();
        if (differing.isEmpty()) {
            return java.util.Optional.empty();
        }
        StringBuilder b = new StringBuilder("where the models differ most, by template (base model -> CLLM): ");
        for (int i = 0; i < Math.min(TEMPLATES_SHOWN, differing.size()); i++) {
            TemplateScore t = differing.get(i);
            b.append(i == 0 ? "" : "; ").append(String.format(Locale.ROOT, "%s %.1f%% -> %.1f%% (%d questions)",
                    t.template(), 100 * t.baseAccuracy(), 100 * t.cllmAccuracy(), t.questions()));
        }
        if (differing.size() > TEMPLATES_SHOWN) {
            b.append("; ").append(differing.size() - TEMPLATES_SHOWN).append(" more in --json");
        }
        return java.util.Optional.of(b.toString());
    }

    /** The CLLM's accuracy against the base model's, with its 95% confidence interval, as one sentence. */
    public String gapSentence() {
        if (Double.isNaN(gap.halfWidth())) {
            return String.format(Locale.ROOT, "CLLM against base model: %+.1f points of %s (one question: no "
                    + "confidence interval)", gap.points(), setting.accuracyHeader());
        }
        String sentence = String.format(Locale.ROOT, "CLLM against base model: %+.1f points of %s (95%% confidence "
                        + "interval %+.1f to %+.1f; %d questions only the CLLM answers right, %d only the base model)",
                gap.points(), setting.accuracyHeader(), gap.points() - gap.halfWidth(),
                gap.points() + gap.halfWidth(), gap.cllmOnly(), gap.baseOnly());
        if (gap.hasTemplates()) {
            sentence += String.format(Locale.ROOT, "; with the %d templates as the independent draws (questions of "
                            + "one template succeed or fail together): %+.1f to %+.1f", gap.templates(),
                    gap.points() - gap.templateHalfWidth(), gap.points() + gap.templateHalfWidth());
        }
        return sentence;
    }

    /** The loud line printed when Jacobi decoding on the base model did not reproduce its ar output. */
    static String mismatchWarning(int mismatches, int questions) {
        return mismatchWarning(new Check("jacobi-base", "ar", mismatches), questions);
    }

    /** The loud line printed when a decoder did not reproduce the output it must equal. */
    static String mismatchWarning(Check c, int questions) {
        return String.format(Locale.ROOT, "WARNING: NOT LOSSLESS: %s output differs from %s output on %d of "
                + "%d questions (it must reproduce its model's greedy output exactly)", c.decoder(), c.reference(),
                c.mismatches(), questions);
    }

    static String millions(long parameters) {
        return parameters >= 1_000_000 ? String.format(Locale.ROOT, "%.1fM", parameters / 1e6)
                : String.format(Locale.ROOT, "%.1fK", parameters / 1e3);
    }
}
