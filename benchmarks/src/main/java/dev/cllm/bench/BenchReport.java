package dev.cllm.bench;

import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Runs the benchmarks and prints Markdown tables: forward cost against n (ms and ratio to n = 1, per model, context
 * and thread setting) and generation (tokens/s, tokens per pass, speedup over AR measured in the same run).
 *
 * <pre>
 * java -cp ... dev.cllm.bench.BenchReport [forward] [generation] [--quick] [--models a,b] [--threads t/b,t/b]
 *                                          [--contexts 128,512] [--block-sizes 1,16]
 * </pre>
 */
public final class BenchReport {
    private BenchReport() {
    }

    public static void main(String[] args) throws RunnerException {
        Map<String, String> options = new LinkedHashMap<>();
        List<String> parts = new ArrayList<>();
        boolean quick = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--quick")) {
                quick = true;
            } else if (args[i].startsWith("--")) {
                options.put(args[i].substring(2), args[++i]);
            } else {
                parts.add(args[i]);
            }
        }
        if (parts.isEmpty()) {
            parts = List.of("forward", "generation");
        }
        System.out.println(machine());
        if (parts.contains("forward")) {
            ChainedOptionsBuilder b = builder(ForwardCostBenchmark.class, quick);
            param(b, "model", options.get("models"));
            param(b, "threads", options.get("threads"));
            param(b, "context", options.get("contexts"));
            param(b, "n", options.get("block-sizes"));
            param(b, "dtype", options.get("dtypes"));
            System.out.println(forwardTable(new Runner(b.build()).run()));
        }
        if (parts.contains("generation")) {
            ChainedOptionsBuilder b = builder(GenerationBenchmark.class, quick);
            param(b, "model", options.get("models"));
            param(b, "threads", options.get("threads"));
            param(b, "blockSize", options.get("block-sizes"));
            param(b, "dtype", options.get("dtypes"));
            System.out.println(generationTable(new Runner(b.build()).run()));
        }
    }

    private static ChainedOptionsBuilder builder(Class<?> benchmark, boolean quick) {
        ChainedOptionsBuilder b = new OptionsBuilder().include(benchmark.getSimpleName() + ".*")
                .jvmArgsAppend("-Dcllm.home=" + BenchModels.repositoryDir());
        if (quick) {
            b.warmupIterations(1).warmupTime(TimeValue.seconds(1)).measurementIterations(3)
                    .measurementTime(TimeValue.seconds(1));
        }
        return b;
    }

    private static void param(ChainedOptionsBuilder b, String name, String csv) {
        if (csv != null) {
            b.param(name, csv.split(","));
        }
    }

    static String forwardTable(Collection<RunResult> results) {
        List<RunResult> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparing((RunResult r) -> r.getParams().getParam("model"))
                .thenComparing(r -> r.getParams().getParam("dtype"))
                .thenComparing(r -> r.getParams().getParam("threads"))
                .thenComparingInt(r -> Integer.parseInt(r.getParams().getParam("context")))
                .thenComparingInt(r -> Integer.parseInt(r.getParams().getParam("n"))));
        StringBuilder out = new StringBuilder("| model | dtype | threads (torch/blas) | context | n | ms per pass |"
                + " ratio to n=1 | ms per token |\n|---|---|---|---|---|---|---|---|\n");
        Map<String, Double> base = new LinkedHashMap<>();
        for (RunResult r : sorted) {
            var p = r.getParams();
            String key = p.getParam("model") + "|" + p.getParam("dtype") + "|" + p.getParam("threads") + "|"
                    + p.getParam("context");
            double ms = r.getPrimaryResult().getScore();
            int n = Integer.parseInt(p.getParam("n"));
            if (n == 1) {
                base.put(key, ms);
            }
            Double one = base.get(key);
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %d | %.3f ± %.3f | %s | %.3f |%n",
                    p.getParam("model"), p.getParam("dtype"), p.getParam("threads"), p.getParam("context"), n, ms,
                    r.getPrimaryResult().getScoreError(), one == null ? "n/a" : String.format(Locale.ROOT, "%.2f",
                            ms / one), ms / n));
        }
        return out.toString();
    }

    static String generationTable(Collection<RunResult> results) {
        List<RunResult> sorted = new ArrayList<>(results);
        sorted.sort(Comparator.comparing((RunResult r) -> r.getParams().getParam("model"))
                .thenComparing(r -> r.getParams().getParam("dtype"))
                .thenComparing(r -> r.getParams().getParam("threads"))
                .thenComparingInt(r -> Integer.parseInt(r.getParams().getParam("blockSize"))));
        StringBuilder out = new StringBuilder("| model | dtype | threads | decoder | tokens/s | tokens per pass |"
                + " speedup over AR |\n|---|---|---|---|---|---|---|\n");
        Map<String, Double> arRate = new LinkedHashMap<>();
        for (RunResult r : sorted) {
            var p = r.getParams();
            String key = p.getParam("model") + "|" + p.getParam("dtype") + "|" + p.getParam("threads");
            Map<String, Result> secondary = r.getSecondaryResults();
            double tokensPerSecond = secondary.get("tokens").getScore();
            double passesPerSecond = secondary.get("passes").getScore();
            int n = Integer.parseInt(p.getParam("blockSize"));
            if (n == 1) {
                arRate.put(key, tokensPerSecond);
            }
            Double ar = arRate.get(key);
            out.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.1f | %.3f | %s |%n", p.getParam("model"),
                    p.getParam("dtype"), p.getParam("threads"), n == 1 ? "ar" : "jacobi n=" + n, tokensPerSecond,
                    tokensPerSecond / passesPerSecond,
                    ar == null ? "n/a" : String.format(Locale.ROOT, "%.2fx", tokensPerSecond / ar)));
        }
        return out.toString();
    }

    static String machine() {
        String cpu = "unknown CPU";
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    cpu = line.substring(line.indexOf(':') + 1).strip();
                    break;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: leave it unknown
        }
        return String.format(Locale.ROOT, "machine: %s, %d cores visible to the JVM; JVM: %s %s; default threads "
                        + "(torch/blas) are set per fork by the library unless a threads parameter says otherwise",
                cpu, Runtime.getRuntime().availableProcessors(), System.getProperty("java.vm.name"),
                System.getProperty("java.version"));
    }
}
