package dev.cllm.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** Benchmark results as Markdown: a header with the machine and command, then one table per benchmark. */
public final class BenchMarkdown {
    private BenchMarkdown() {
    }

    /** The whole report: header (when {@code machine} is given), tables, skipped models, and the chart images. */
    public static String document(BenchResults results, MachineInfo machine, List<String> charts) {
        StringBuilder out = new StringBuilder("# Benchmark results\n\n");
        if (machine != null) {
            out.append(header(machine)).append('\n');
        }
        boolean jmh = !results.forwardCost().isEmpty() || !results.generation().isEmpty()
                || !results.collection().isEmpty() || results.peers().isEmpty() && results.serving().isEmpty();
        if (jmh) {
            out.append("JMH: ").append(results.jmh()).append(".\n\n");
        }
        if (!results.forwardCost().isEmpty()) {
            out.append("## Forward cost against n\n\n").append(forwardTable(results.forwardCost())).append('\n');
        }
        if (!results.generation().isEmpty()) {
            out.append("## Generation: AR against Jacobi and lookahead decoding\n\n")
                    .append(generationTable(results.generation())).append('\n').append(promptSources(results))
                    .append('\n');
        }
        if (!results.collection().isEmpty()) {
            out.append("## Trajectory collection\n\n").append(collectionTable(results.collection())).append('\n');
        }
        if (!results.peers().isEmpty()) {
            out.append("## Peers: against llama.cpp on the same weights\n\n");
            for (BenchResults.PeerRun run : results.peers()) {
                out.append(peerSection(run)).append('\n');
            }
        }
        if (!results.serving().isEmpty()) {
            out.append("## Serving: concurrent clients through one service against a thread each\n\n")
                    .append(servingTable(results.serving())).append('\n');
        }
        if (!results.skipped().isEmpty()) {
            out.append("## Skipped\n\n");
            for (BenchResults.Skipped s : results.skipped()) {
                out.append("- ").append(s.model()).append(" (").append(String.join(", ", s.benchmarks()))
                        .append("): ").append(s.reason()).append('\n');
            }
            out.append('\n');
        }
        for (String chart : charts) {
            out.append("![").append(chart).append("](").append(chart).append(")\n\n");
        }
        return out.toString();
    }

    /** The serving rows as a Markdown table (every request checked against decoding it alone). */
    public static String servingTable(List<ServingBenchmark.Row> rows) {
        StringBuilder out = new StringBuilder("| model | decoder | mode | clients | tokens/s | per request tokens/s "
                + "| TTFT p50 ms | TTFT p99 ms | latency p50 ms | latency p99 ms | batch | identical to alone |\n"
                + "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
        for (ServingBenchmark.Row r : rows) {
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f | %.1f | "
                            + "%.2f | %s |%n", r.model(), r.decoder(), r.mode().name().toLowerCase(Locale.ROOT),
                    r.clients(), r.aggregateTokensPerS(), r.perRequestTokensPerS(), r.ttftP50Ms(), r.ttftP99Ms(),
                    r.latencyP50Ms(), r.latencyP99Ms(), r.meanBatchSize(), r.identicalToAlone() ? "yes" : "NO"));
        }
        return out.toString();
    }

    /** The machine, JVM, threads, command and date, as a bullet list. */
    public static String header(MachineInfo m) {
        StringBuilder out = new StringBuilder();
        out.append("- date: ").append(m.date()).append('\n');
        out.append("- command: `").append(m.command()).append("`\n");
        out.append("- CPU: ").append(m.cpuModel()).append(", ").append(m.availableProcessors())
                .append(" cores visible to the JVM");
        if (m.cpuinfoProcessors() != null) {
            out.append(" (").append(m.cpuinfoProcessors()).append(" in /proc/cpuinfo)");
        }
        out.append("\n- OS: ").append(m.os()).append('\n');
        out.append("- JVM: ").append(m.jvm()).append("; flags: ")
                .append(m.jvmFlags().isEmpty() ? "none" : "`" + String.join(" ", m.jvmFlags()) + "`")
                .append(String.format(Locale.ROOT, "; max heap %.1f GiB%n", m.maxHeapBytes() / (1024.0 * 1024 * 1024)));
        out.append("- threads (libtorch/OpenBLAS): ").append(m.torchThreads()).append('/').append(m.blasThreads())
                .append(", ").append(m.threadSource()).append('\n');
        if (m.torchBuild() != null) {
            out.append("- libtorch: ").append(m.torchBuild()).append('\n');
        }
        out.append("- device: ").append(m.device()).append('\n');
        return out.toString();
    }

    /** Forward cost: ms per pass (± JMH's error), ratio to n = 1, ms per token. */
    public static String forwardTable(List<BenchResults.ForwardRow> rows) {
        StringBuilder out = new StringBuilder("| model | dtype | threads (torch/blas) | context | n | ms per pass |"
                + " ratio to n=1 | ms per token |\n|---|---|---|---|---|---|---|---|\n");
        for (BenchResults.ForwardRow r : rows) {
            String ms = r.ms() == null ? "failed: " + cell(r.error())
                    : fixed(r.ms(), 3) + (r.msError() == null || r.msError().isNaN() ? "" : " ± " + fixed(r.msError(),
                    3));
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %d | %s | %s | %s |%n", cell(r.model()),
                    r.dtype(), r.threads(), r.context(), r.n(), ms, fixed(r.ratioTo1(), 2), fixed(r.msPerToken(), 3)));
        }
        return out.toString();
    }

    /** Generation: tokens/s, tokens per pass and speedup over AR of the same model in the same run. */
    public static String generationTable(List<BenchResults.GenerationRow> rows) {
        StringBuilder out = new StringBuilder("| model | dtype | threads | decoder | tokens/s | tokens per pass |"
                + " speedup over AR |\n|---|---|---|---|---|---|---|\n");
        for (BenchResults.GenerationRow r : rows) {
            String rate = r.tokensPerS() == null ? "failed: " + cell(r.error()) : fixed(r.tokensPerS(), 1);
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s |%n", cell(r.model()),
                    r.dtype(), r.threads(), r.label(), rate,
                    fixed(r.tokensPerPass(), 3), r.speedup() == null ? "n/a" : fixed(r.speedup(), 2) + "x"));
        }
        return out.toString();
    }

    /** Collection: recorded blocks per second, tokens per second and per pass. */
    public static String collectionTable(List<BenchResults.CollectionRow> rows) {
        StringBuilder out = new StringBuilder("| model | dtype | threads | block size | blocks/s | tokens/s |"
                + " tokens per pass |\n|---|---|---|---|---|---|---|\n");
        for (BenchResults.CollectionRow r : rows) {
            String rate = r.blocksPerS() == null ? "failed: " + cell(r.error()) : fixed(r.blocksPerS(), 2);
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s | %s | %s |%n", cell(r.model()),
                    r.dtype(), r.threads(), r.blockSize(), rate, fixed(r.tokensPerS(), 1),
                    fixed(r.tokensPerPass(), 3)));
        }
        return out.toString();
    }

    /**
     * One peer run: what ran, then the engines' table (medians, ratio to llama.cpp Q8_0 in parentheses) and our Jacobi
     * decoding on the same prompt.
     */
    public static String peerSection(BenchResults.PeerRun run) {
        StringBuilder out = new StringBuilder(String.format(Locale.ROOT, "%s, threads %s (ours: libtorch/OpenBLAS %s; "
                        + "llama.cpp %d), %d round%s after a warm-up round, engines interleaved in a rotating "
                        + "order; context %d, AR over %d tokens; load average (1, 5, 15 min) before: %s, after: %s.%n%n",
                run.model(), run.threads(), run.ourThreads(), run.llamaThreads(), run.rounds(),
                run.rounds() == 1 ? "" : "s", run.context(),
                run.arTokens(), run.loadBefore(), run.loadAfter()));
        if (run.error() != null) {
            return out.append("failed: ").append(cell(run.error())).append("\n").toString();
        }
        List<Integer> ns = run.rows().isEmpty() ? List.of() : List.copyOf(run.rows().get(0).passMs().keySet());
        out.append("| engine | weights | AR ms/token |");
        ns.forEach(n -> out.append(" t(").append(n).append(") ms |"));
        out.append(" AR tokens/s |\n|---|---|---:|").append("---:|".repeat(ns.size())).append("---:|\n");
        for (BenchResults.PeerRow r : run.rows()) {
            out.append("| ").append(r.engine()).append(" | ").append(r.weights()).append(" | ")
                    .append(withRatio(r.arMsPerToken(), r.arRatio())).append(" |");
            for (int n : ns) {
                out.append(' ').append(withRatio(r.passMs().get(n), r.passRatio().get(n))).append(" |");
            }
            out.append(' ').append(fixed(r.arTokensPerS(), 1)).append(" |\n");
        }
        out.append("\nMedians over rounds; in parentheses the ratio to llama.cpp Q8_0, the median of per-round "
                + "ratios. llama.cpp's t(n) is a whole completion request through the binding that computes logits "
                + "for the last position only; its AR figure is the difference of two requests.\n\n");
        Double q8 = BenchJson.peerQ8Ar(run);
        out.append("| engine | weights | Jacobi block size | tokens/s | tokens per pass | vs its AR "
                + "| vs llama.cpp Q8_0 AR |\n|---|---|---:|---:|---:|---:|---:|\n");
        for (BenchResults.PeerRow r : run.rows()) {
            for (BenchResults.JacobiRate j : r.jacobi()) {
                out.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %s | %s | %s |%n", r.engine(),
                        r.weights(), j.blockSize(), fixed(j.tokensPerS(), 1), fixed(j.tokensPerPass(), 2),
                        r.arTokensPerS() == null ? "n/a" : fixed(j.tokensPerS() / r.arTokensPerS(), 2) + "x",
                        q8 == null ? "n/a" : fixed(j.tokensPerS() / q8, 2) + "x"));
            }
        }
        if (Prompts.ownTask(BenchModels.base(run.model()))) {
            out.append(String.format(Locale.ROOT, "%nJacobi: greedy, the model's own benchmark prompts (%s), at most "
                    + "%d new tokens each, stopping at EOS as the model is used; tokens/s of decoding after the prefill, "
                    + "over all prompts.%n", BenchModels.PROMPTS_FILE, run.jacobiTokens()));
        } else {
            out.append(String.format(Locale.ROOT, "%nJacobi: greedy, %d new tokens from the same %d-token prompt (EOS "
                    + "ignored; pseudo-text ids), tokens/s of decoding after the prefill. On random weights tokens per "
                    + "pass stays near 1 (greedy continuations of noise cannot be guessed), so Jacobi decoding is "
                    + "slower than AR there; a CLLM on its own task's prompts is where it gains.%n", run.jacobiTokens(),
                    run.context()));
        }
        return out.toString();
    }

    private static String withRatio(Double ms, Double ratio) {
        return ms == null ? "n/a"
                : fixed(ms, 3) + (ratio == null || ratio.isNaN() ? "" : " (" + fixed(ratio, 2) + "x)");
    }

    private static String promptSources(BenchResults results) {
        Map<String, String> sources = new LinkedHashMap<>();
        for (BenchResults.GenerationRow r : results.generation()) {
            sources.putIfAbsent(r.model(), r.prompts());
        }
        StringBuilder out = new StringBuilder("Prompts: ");
        sources.forEach((model, source) -> out.append(model).append(": ").append(source).append("; "));
        out.setLength(out.length() - 2);
        int tokens = results.generation().get(0).maxNewTokens();
        return out.append(". ").append(tokens).append(" new tokens per prompt at most, EOS ignored except by task models with their own prompts (they stop at EOS).\n").toString();
    }

    private static String fixed(Double value, int decimals) {
        return value == null || value.isNaN() ? "n/a" : String.format(Locale.ROOT, "%." + decimals + "f", value);
    }

    private static String cell(String text) {
        return text == null ? "" : text.replace("|", "\\|").replace("\n", " ");
    }
}
