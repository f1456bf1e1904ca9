package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.bench.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm bench-training}: consistency-training throughput, and its scaling over data-parallel processes on
 * this machine. For each process count W it runs {@code ./cllm train ... --local-processes W} (the same command a
 * user runs, in fresh JVMs) for the warm-up plus measured steps and reads rank 0's per-step metrics: throughput is
 * measured over the steps after the warm-up only, so JVM start, model load and rendezvous are excluded; speedup is
 * over W = 1 in the same run.
 */
@Command(name = "bench-training", mixinStandardHelpOptions = true,
        description = {"Measure consistency-training throughput with 1, 2, ... data-parallel processes on this "
                + "machine (each a ./cllm train --local-processes W run; steady-state steps only)."})
final class TrainingBenchCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the model to train")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl", description = "trajectories (./cllm collect)")
    Path data;

    @Option(names = "--ranks", split = ",", defaultValue = "1,2", paramLabel = "LIST",
            description = "process counts to measure (default: ${DEFAULT-VALUE})")
    List<Integer> ranks;

    @Option(names = "--objective", split = ",", defaultValue = "consistency", paramLabel = "LIST",
            description = "training objectives to measure, each with every process count: consistency (one block "
                    + "per example, student and teacher passes) and/or jacobi-forcing (a whole answer per example, "
                    + "one packed pass) (default: ${DEFAULT-VALUE})")
    List<String> objectives;

    @Option(names = "--batch", defaultValue = "16", paramLabel = "B",
            description = "global micro-batch, split across the processes (default: ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--warmup-steps", defaultValue = "5", paramLabel = "N", description = "steps not measured "
            + "(default: ${DEFAULT-VALUE})")
    int warmupSteps;

    @Option(names = "--steps", defaultValue = "30", paramLabel = "N", description = "measured steps (default: "
            + "${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--work", paramLabel = "DIR", description = "scratch folder for the checkpoints and metrics "
            + "(default: a new temporary folder, deleted afterwards)")
    Path work;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Spec
    CommandSpec spec;

    /** One measured process count. */
    record Row(String objective, int ranks, int batch, int steps, double seconds, double stepsPerS, double examplesPerS,
               double tokensPerS, double waitMsPerStep, double syncMsPerStep, double speedup) {
    }

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(data)) {
            throw new IllegalArgumentException("--data " + data + ": no such file");
        }
        if (warmupSteps < 1 || steps < 1) {
            throw new IllegalArgumentException("--warmup-steps and --steps must be at least 1");
        }
        for (String o : objectives) {
            if (!o.equals("consistency") && !o.equals("jacobi-forcing")) {
                throw new IllegalArgumentException("--objective must list consistency and/or jacobi-forcing, got '"
                        + o + "'");
            }
        }
        for (int w : ranks) {
            if (w < 1 || w > batch) {
                throw new IllegalArgumentException("--ranks " + w + ": each count must be between 1 and the batch "
                        + batch);
            }
        }
        Path scratch = work != null ? Files.createDirectories(work) : Files.createTempDirectory("cllm-bench-training");
        MachineInfo machine = MachineInfo.collect(Cli.commandLine(spec), "cpu");
        List<Row> rows = new ArrayList<>();   // speedups filled in once all are measured
        try {
            for (String objective : objectives) {
                for (int w : ranks) {
                    rows.add(measure(scratch, objective, w));
                }
            }
        } finally {
            if (work == null) {
                org.apache.commons.io.file.PathUtils.deleteDirectory(scratch);
            }
        }
        rows = withSpeedups(rows);
        if (json) {
            System.out.println(JSON.writeValueAsString(toJson(rows, machine)));
        } else {
            System.out.println(markdown(rows, machine));
        }
        return 0;
    }

    private Row measure(Path scratch, String objective, int w) throws IOException, InterruptedException {
        String name = objective + "-ranks-" + w;
        Path out = scratch.resolve(name);
        if (Files.exists(out)) {
            org.apache.commons.io.file.PathUtils.deleteDirectory(out);
        }
        Files.deleteIfExists(scratch.resolve(name + ".metrics.jsonl"));
        List<String> args = List.of("train", "--model", model.toString(), "--data", data.toString(), "--out",
                out.toString(), "--steps", Integer.toString(warmupSteps + steps), "--batch", Integer.toString(batch),
                "--lr", "1e-5", "--save-every", "0", "--objective", objective);
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.err.println("bench-training: " + objective + ", " + w + " process" + (w == 1 ? "" : "es") + " ...");
        int status = new LocalLauncher(w, Duration.ofMinutes(5),
                new PrintStream(captured, true, StandardCharsets.UTF_8), System.err).run(args);
        if (status != 0) {
            throw new IllegalStateException("the training run with " + w + " processes failed (status " + status
                    + "); its log is above");
        }
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(scratch.resolve(name + ".metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.has("loss")) {
                lines.add(n);
            }
        }
        if (lines.size() != warmupSteps + steps) {
            throw new IllegalStateException("expected " + (warmupSteps + steps) + " steps in the metrics, found "
                    + lines.size());
        }
        JsonNode first = lines.get(warmupSteps - 1);
        JsonNode last = lines.get(lines.size() - 1);
        double seconds = (last.get("elapsed_ms").asLong() - first.get("elapsed_ms").asLong()) / 1000.0;
        long examples = 0;
        long tokens = 0;
        double syncMs = 0;
        double waitMs = 0;
        for (JsonNode n : lines.subList(warmupSteps, lines.size())) {
            examples += n.get("examples").asLong();
            tokens += n.get("tokens").asLong();
            syncMs += n.path("sync_ms").asDouble(0);
            waitMs += n.path("wait_ms").asDouble(0);
        }
        double stepsPerS = steps / seconds;
        double examplesPerS = examples / seconds;
        return new Row(objective, w, batch, steps, seconds, stepsPerS, examplesPerS, tokens / seconds, waitMs / steps,
                syncMs / steps, Double.NaN);
    }

    /** Speedup over the same objective's one-process row (or, without one, its first row measured). */
    static List<Row> withSpeedups(List<Row> rows) {
        return rows.stream().map(r -> {
            Row base = rows.stream().filter(b -> b.objective().equals(r.objective()) && b.ranks() == 1).findFirst()
                    .orElse(rows.stream().filter(b -> b.objective().equals(r.objective())).findFirst().orElseThrow());
            return new Row(r.objective(), r.ranks(), r.batch(), r.steps(), r.seconds(), r.stepsPerS(),
                r.examplesPerS(), r.tokensPerS(), r.waitMsPerStep(), r.syncMsPerStep(),
                r.examplesPerS() / base.examplesPerS());
        }).toList();
    }

    private ObjectNode toJson(List<Row> rows, MachineInfo machine) {
        ObjectNode root = JSON.createObjectNode();
        root.put("model", model.toString());
        root.put("data", data.toString());
        ArrayNode a = root.putArray("training");
        for (Row r : rows) {
            a.addObject().put("objective", r.objective()).put("ranks", r.ranks()).put("batch", r.batch()).put("steps", r.steps())
                    .put("seconds", r.seconds()).put("steps_per_s", r.stepsPerS())
                    .put("examples_per_s", r.examplesPerS()).put("tokens_per_s", r.tokensPerS())
                    .put("wait_ms_per_step", r.waitMsPerStep())
                    .put("allreduce_ms_per_step", r.syncMsPerStep()).put("speedup", r.speedup());
        }
        root.set("machine", JSON.valueToTree(machine));
        return root;
    }

    private String markdown(List<Row> rows, MachineInfo machine) {
        StringBuilder b = new StringBuilder();
        b.append("Consistency training of ").append(model.getFileName()).append(" on ").append(data.getFileName())
                .append(", global batch ").append(batch).append(", ").append(steps).append(" measured steps after ")
                .append(warmupSteps).append(" warm-up steps\n");
        b.append("Machine: ").append(machine.summary()).append('\n');
        b.append("Command: ").append(machine.command()).append("\n\n");
        b.append("| objective | processes | steps/s | examples/s | tokens/s | wait for slowest rank ms/step | gradient all-reduce "
                + "ms/step | speedup |\n");
        b.append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %s | %d | %.2f | %.1f | %.0f | %.1f | %.1f | %.2fx |%n",
                    r.objective(), r.ranks(),
                    r.stepsPerS(), r.examplesPerS(), r.tokensPerS(), r.waitMsPerStep(), r.syncMsPerStep(),
                    r.speedup()));
        }
        if (objectives.contains("jacobi-forcing")) {
            b.append("\nAn example is one trajectory block for consistency and one whole answer (all its blocks) for "
                    + "jacobi-forcing; tokens are what the forward passes read.\n");
        }
        return b.toString();
    }
}
