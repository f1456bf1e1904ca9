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
        out.append("JMH: ").append(results.jmh()).append(".\n\n");
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
