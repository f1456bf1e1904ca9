package dev.cllm.bench;

import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.results.format.ResultFormatType;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.format.OutputFormatFactory;
import org.openjdk.jmh.runner.options.ChainedOptionsBuilder;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;
import org.openjdk.jmh.runner.options.VerboseMode;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Runs a chosen subset of the JMH benchmarks programmatically and collects their results into {@link BenchResults};
 * {@link #runInto} also writes a {@link ResultsFolder}. Used by {@code ./cllm bench}.
 *
 * <p>JMH forks one JVM per configuration with this JVM's class path and flags (plus {@code -Dcllm.home} and
 * {@code -Dcllm.bench.device}), so the class path must hold this module's classes together with the
 * {@code META-INF/BenchmarkList} that JMH's annotation processor generated for them. A configuration that fails
 * leaves a row with an {@code error} and the run goes on. The SQL models are skipped with a note where they do not
 * exist; any other model that cannot run is an error before anything runs. The peer benchmark ({@link PeerBenchmark})
 * is not JMH: it runs in this process after the JMH benchmarks, and a run that fails has an {@code error}.
 */
public final class BenchSuite {
    private BenchSuite() {
    }

    /** A finished run written to a folder. */
    public record Run(BenchResults results, MachineInfo machine, Path dir, List<Path> files) {
    }

    /** The models each benchmark will run on, and those skipped. */
    record Plan(Map<BenchOptions.Part, List<String>> models, List<BenchResults.Skipped> skipped) {
    }

    /**
     * Checks the models of every selected benchmark before anything runs: an absent SQL model is skipped, any other
     * model that cannot run (unknown name, missing directory, a kernel suffix on a peer model) is an error. With the
     * peer benchmark, llama.cpp's natives are loaded here, so that a platform without them fails before anything runs.
     *
     * @throws IllegalArgumentException naming the model
     * @throws IllegalStateException    if the peer benchmark is selected and llama.cpp cannot load here
     */
    static Plan plan(BenchOptions options) {
        Map<BenchOptions.Part, List<String>> models = new EnumMap<>(BenchOptions.Part.class);
        Map<String, List<String>> skippedIn = new LinkedHashMap<>();
        Map<String, String> reasons = new HashMap<>();
        for (BenchOptions.Part part : options.parts()) {
            List<String> runnable = new ArrayList<>();
            for (String model : options.modelsFor(part)) {
                var missing = part == BenchOptions.Part.PEERS ? PeerBenchmark.unsuitable(model)
                        : BenchModels.missing(model);
                if (missing.isEmpty()) {
                    runnable.add(model);
                } else if (model.equals(BenchModels.SQL_BASE) || model.equals(BenchModels.SQL_CLLM)) {
                    skippedIn.computeIfAbsent(model, m -> new ArrayList<>()).add(part.label());
                    reasons.put(model, missing.get());
                } else {
                    throw new IllegalArgumentException(missing.get());
                }
            }
            models.put(part, runnable);
        }
        List<BenchResults.Skipped> skipped = new ArrayList<>();
        skippedIn.forEach((model, parts) -> skipped.add(new BenchResults.Skipped(parts, model, reasons.get(model))));
        if (!models.getOrDefault(BenchOptions.Part.PEERS, List.of()).isEmpty()) {
            PeerBenchmark.checkLlamaCpp();
        }
        return new Plan(models, skipped);
    }

    /**
     * Runs the benchmarks. JMH's output and notes on skipped models go to {@code log}; JMH's raw JSON results to
     * {@code rawDir/jmh-<benchmark>.json} unless {@code rawDir} is null.
     */
    public static BenchResults run(BenchOptions options, PrintStream log, Path rawDir) {
        Plan plan = plan(options);
        return run(options, plan, log, rawDir);
    }

    /**
     * Runs the benchmarks and writes the results folder {@code dir}: JMH's output goes to {@code console} and to
     * {@code dir/jmh.log}; then the JSON, Markdown, machine description and charts (see {@link ResultsFolder}).
     *
     * @param command the command line to record
     */
    public static Run runInto(BenchOptions options, Path dir, String command, PrintStream console)
            throws IOException {
        Plan plan = plan(options);   // bad models fail before the folder exists
        Files.createDirectories(dir);
        MachineInfo machine = MachineInfo.collect(command, options.device());
        try (PrintStream log = ResultsFolder.tee(console, dir.resolve("jmh.log"))) {
            log.println("bench: " + machine.summary());
            log.println("bench: results go to " + dir);
            BenchResults results = run(options, plan, log, dir);
            List<Path> files = ResultsFolder.write(dir, results, machine, log);
            return new Run(results, machine, dir, files);
        }
    }

    private static BenchResults run(BenchOptions options, Plan plan, PrintStream log, Path rawDir) {
        for (BenchResults.Skipped s : plan.skipped()) {
            log.println("bench: skipping " + s.model() + " (" + String.join(", ", s.benchmarks()) + "): "
                    + s.reason());
        }
        List<BenchResults.ForwardRow> forward = new ArrayList<>();
        List<BenchResults.GenerationRow> generation = new ArrayList<>();
        List<BenchResults.CollectionRow> collection = new ArrayList<>();
        List<BenchResults.PeerRun> peers = new ArrayList<>();
        List<ServingBenchmark.Row> serving = new ArrayList<>();
        for (BenchOptions.Part part : options.parts()) {
            List<String> models = plan.models().get(part);
            if (models.isEmpty()) {
                continue;
            }
            if (part == BenchOptions.Part.PEERS) {
                for (String model : models) {
                    for (String threads : options.threads()) {
                        peers.add(PeerBenchmark.run(model, options.peerSettings(threads), log));
                    }
                }
                continue;
            }
            if (part == BenchOptions.Part.SERVING) {
                for (String model : models) {
                    log.println("bench: serving " + model + ", clients " + options.clients() + ", decoders "
                            + options.servingDecoders());
                    ServingBenchmark.run(model, options.servingDecoders(), options.clients(), options.maxNewTokens(),
                            options.requestsPerClient(), options.maxWait(), row -> {
                                log.println("bench: " + row.toJson());
                                serving.add(row);
                            });
                }
                continue;
            }
            ChainedOptionsBuilder b = builder(part, options, rawDir);
            b.param("model", models.toArray(String[]::new));
            b.param("threads", options.threads().toArray(String[]::new));
            b.param("dtype", options.dtypes().toArray(String[]::new));
            switch (part) {
                case FORWARD -> {
                    b.param("n", strings(options.forwardN()));
                    b.param("context", strings(options.contexts()));
                    forward.addAll(forwardRows(options, models, index(run(b, log), "model", "dtype", "threads",
                            "context", "n")));
                }
                case GENERATION -> {
                    // AR (the Jacobi decoder at block size 1) and Jacobi decoding in one JMH run, lookahead in a
                    // second; each writes its own raw JSON
                    Map<String, RunResult> results = new HashMap<>();
                    for (String decoder : List.of("jacobi", "lookahead")) {
                        List<Integer> sizes = generationSizes(options, decoder);
                        if (sizes.isEmpty()) {
                            continue;
                        }
                        // JMH adds to a parameter's values: a fresh builder per decoder
                        ChainedOptionsBuilder g = decoder.equals("jacobi") ? b : builder(part, options, rawDir);
                        if (g != b) {
                            g.param("model", models.toArray(String[]::new))
                                    .param("threads", options.threads().toArray(String[]::new))
                                    .param("dtype", options.dtypes().toArray(String[]::new));
                            if (rawDir != null) {
                                g.result(rawDir.resolve("jmh-" + part.label() + "-lookahead.json").toString());
                            }
                        }
                        g.param("maxNewTokens", String.valueOf(options.maxNewTokens()))
                                .param("decoder", decoder).param("blockSize", strings(sizes));
                        results.putAll(index(run(g, log), "model", "dtype", "threads", "decoder", "blockSize"));
                    }
                    generation.addAll(generationRows(options, models, results));
                }
                case COLLECTION -> {
                    b.param("blockSize", strings(options.collectionBlockSizes()));
                    b.param("maxNewTokens", String.valueOf(options.maxNewTokens()));
                    collection.addAll(collectionRows(options, models, index(run(b, log), "model", "dtype",
                            "threads", "blockSize")));
                }
                default -> throw new IllegalStateException(part.toString());
            }
        }
        return new BenchResults(BenchResults.withRatios(forward), BenchResults.withSpeedups(generation), collection,
                peers, serving, plan.skipped(), options.describeJmh());
    }

    private static ChainedOptionsBuilder builder(BenchOptions.Part part, BenchOptions options, Path rawDir) {
        // forks inherit this JVM's flags; add what they lack
        List<String> inherited = ManagementFactory.getRuntimeMXBean().getInputArguments();
        List<String> append = new ArrayList<>();
        for (String flag : List.of("-Dcllm.home=" + BenchModels.repositoryDir(),
                "-Dcllm.bench.device=" + options.device())) {
            if (!inherited.contains(flag)) {
                append.add(flag);
            }
        }
        ChainedOptionsBuilder b = new OptionsBuilder()
                .include("^" + Pattern.quote(part.benchmark().getName() + "."));
        if (!append.isEmpty()) {
            b.jvmArgsAppend(append.toArray(String[]::new));
        }
        if (options.quick()) {
            b.warmupIterations(1).warmupTime(TimeValue.seconds(1)).measurementIterations(3)
                    .measurementTime(TimeValue.seconds(1));
        }
        if (rawDir != null) {
            b.resultFormat(ResultFormatType.JSON).result(rawDir.resolve("jmh-" + part.label() + ".json").toString());
        }
        return b;
    }

    private static Collection<RunResult> run(ChainedOptionsBuilder b, PrintStream log) {
        try {
            return new Runner(b.build(), OutputFormatFactory.createFormatInstance(log, VerboseMode.NORMAL)).run();
        } catch (RunnerException e) {
            throw new IllegalStateException("JMH could not run (" + e.getMessage() + "); the class path needs the "
                    + "cllm-benchmarks classes with their META-INF/BenchmarkList", e);
        }
    }

    private static Map<String, RunResult> index(Collection<RunResult> results, String... params) {
        Map<String, RunResult> out = new HashMap<>();
        for (RunResult r : results) {
            List<String> key = new ArrayList<>();
            for (String p : params) {
                key.add(r.getParams().getParam(p));
            }
            out.put(String.join("|", key), r);
        }
        return out;
    }

    private static String key(Object... values) {
        List<String> parts = new ArrayList<>();
        for (Object v : values) {
            parts.add(String.valueOf(v));
        }
        return String.join("|", parts);
    }

    private static final String FAILED = "no result: the benchmark failed (see the JMH output, jmh.log)";

    private static List<BenchResults.ForwardRow> forwardRows(BenchOptions o, List<String> models,
                                                             Map<String, RunResult> results) {
        List<BenchResults.ForwardRow> rows = new ArrayList<>();
        for (String model : models) {
            for (String dtype : o.dtypes()) {
                for (String threads : o.threads()) {
                    for (int context : o.contexts()) {
                        for (int n : o.forwardN()) {
                            RunResult r = results.get(key(model, dtype, threads, context, n));
                            rows.add(r == null
                                    ? new BenchResults.ForwardRow(model, dtype, threads, context, n, null, null, null,
                                    FAILED)
                                    : new BenchResults.ForwardRow(model, dtype, threads, context, n,
                                    r.getPrimaryResult().getScore(), finite(r.getPrimaryResult().getScoreError()),
                                    null, null));
                        }
                    }
                }
            }
        }
        return rows;
    }

    private static List<BenchResults.GenerationRow> generationRows(BenchOptions o, List<String> models,
                                                                   Map<String, RunResult> results) {
        List<BenchResults.GenerationRow> rows = new ArrayList<>();
        for (String model : models) {
            String prompts = Prompts.describe(model);
            for (String dtype : o.dtypes()) {
                for (String threads : o.threads()) {
                    for (String decoder : List.of("jacobi", "lookahead")) {
                        for (int blockSize : generationSizes(o, decoder)) {
                            String name = BenchResults.GenerationRow.decoderName(decoder, blockSize);
                            RunResult r = results.get(key(model, dtype, threads, decoder, blockSize));
                            Result<?> tokens = r == null ? null : r.getSecondaryResults().get("tokens");
                            Result<?> passes = r == null ? null : r.getSecondaryResults().get("passes");
                            rows.add(tokens == null || passes == null
                                    ? new BenchResults.GenerationRow(model, dtype, threads, name, blockSize,
                                    o.maxNewTokens(), prompts, null, null, null, null, FAILED)
                                    : new BenchResults.GenerationRow(model, dtype, threads, name, blockSize,
                                    o.maxNewTokens(), prompts, tokens.getScore(), finite(tokens.getScoreError()),
                                    tokens.getScore() / passes.getScore(), null, null));
                        }
                    }
                }
            }
        }
        return rows;
    }

    /**
     * The block sizes the generation benchmark runs {@code decoder} at: the Jacobi decoder at 1 (AR, always) and, if
     * selected, at the block sizes from 2; lookahead, if selected, at the block sizes from 2.
     */
    static List<Integer> generationSizes(BenchOptions o, String decoder) {
        List<Integer> out = new ArrayList<>();
        for (int size : o.generationBlockSizes()) {
            if (size == 1 ? decoder.equals("jacobi") : o.decoders().contains(decoder)) {
                out.add(size);
            }
        }
        return out;
    }

    private static List<BenchResults.CollectionRow> collectionRows(BenchOptions o, List<String> models,
                                                                   Map<String, RunResult> results) {
        List<BenchResults.CollectionRow> rows = new ArrayList<>();
        for (String model : models) {
            String prompts = Prompts.describe(model);
            for (String dtype : o.dtypes()) {
                for (String threads : o.threads()) {
                    for (int blockSize : o.collectionBlockSizes()) {
                        RunResult r = results.get(key(model, dtype, threads, blockSize));
                        Result<?> blocks = r == null ? null : r.getSecondaryResults().get("blocks");
                        Result<?> tokens = r == null ? null : r.getSecondaryResults().get("tokens");
                        Result<?> passes = r == null ? null : r.getSecondaryResults().get("passes");
                        rows.add(blocks == null || tokens == null || passes == null
                                ? new BenchResults.CollectionRow(model, dtype, threads, blockSize, o.maxNewTokens(),
                                prompts, null, null, null, FAILED)
                                : new BenchResults.CollectionRow(model, dtype, threads, blockSize, o.maxNewTokens(),
                                prompts, blocks.getScore(), tokens.getScore(), tokens.getScore() / passes.getScore(),
                                null));
                    }
                }
            }
        }
        return rows;
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String[] strings(List<Integer> values) {
        return values.stream().map(String::valueOf).toArray(String[]::new);
    }
}
