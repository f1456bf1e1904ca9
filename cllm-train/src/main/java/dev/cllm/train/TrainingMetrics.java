package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What a run reports as it goes: the metrics file (JSON lines: one object per step with its losses, learning rate,
 * gradient norm, examples, tokens and elapsed time, plus {@code ranks}, {@code wait_ms} and {@code sync_ms} in a
 * data-parallel job; one {@code {"step":N,"eval":{...}}} per evaluation) and, every {@code logInterval}, a log line
 * with throughput and ETA. Only rank 0 reports: on the other ranks (no file) it does nothing. Each line is flushed
 * as it is written, so an interrupted run leaves at most a torn last line, which {@link #prepare} drops on resume.
 */
final class TrainingMetrics implements AutoCloseable {
    // the trainer's log: one logger for everything a run reports
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path file;
    private final int ranks;
    private final Duration logInterval;
    private final long startStep;
    private final long totalSteps;
    private final long started = System.nanoTime();
    private long lastLog = started;
    private long tokens;
    private BufferedWriter writer;

    /**
     * Starts the clock of {@code elapsed_ms} and of the throughput.
     *
     * @param file the metrics file, or null on a rank that does not report
     */
    TrainingMetrics(Path file, int ranks, Duration logInterval, long startStep, long totalSteps) {
        this.file = file;
        this.ranks = ranks;
        this.logInterval = logInterval;
        this.startStep = startStep;
        this.totalSteps = totalSteps;
    }

    /**
     * Readies the metrics file of a run that starts at {@code startStep}: a fresh run's is deleted; a resumed run keeps
     * the lines of steps up to its checkpoint and drops the rest (steps that will be trained again, a torn line).
     */
    static void prepare(Path file, long startStep) throws IOException {
        if (startStep == 0) {
            Files.deleteIfExists(file);
            return;
        }
        if (!Files.isRegularFile(file)) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            try {
                JsonNode n = JSON.readTree(line);
                if (n != null && n.path("step").asLong(Long.MAX_VALUE) <= startStep) {
                    kept.add(line);
                }
            } catch (IOException torn) {
                break;   // a torn last line from an interrupted write
            }
        }
        Files.write(file, kept, StandardCharsets.UTF_8);
    }

    /** Reports optimizer step {@code step} (1-based), taken at learning rate {@code lr}. */
    void step(long step, double lr, StepResult last) throws IOException {
        tokens += last.tokens;
        if (file == null) {
            return;
        }
        long now = System.nanoTime();
        ObjectNode line = JSON.createObjectNode().put("step", step).put("loss", last.loss)
                .put("consistency_loss", last.consistency).put("ar_loss", last.ar).put("lr", lr)
                .put("grad_norm", last.gradNorm).put("examples", last.examples).put("tokens", last.tokens)
                .put("elapsed_ms", (now - started) / 1_000_000);
        if (last.anchored) {
            line.put("anchor_loss", last.anchor);
        }
        if (ranks > 1) {
            line.put("ranks", ranks).put("wait_ms", last.waitNanos / 1e6).put("sync_ms", last.syncNanos / 1e6);
        }
        BufferedWriter w = writer();
        w.write(JSON.writeValueAsString(line));
        w.newLine();
        w.flush();
        now = System.nanoTime();
        if (now - lastLog >= logInterval.toNanos() || step == totalSteps) {
            double seconds = (now - started) / 1e9;
            double stepsPerSecond = (step - startStep) / Math.max(1e-9, seconds);
            LOG.info(String.format(Locale.ROOT, "step %d/%d loss %.4f (consistency %.4f, ar %.4f%s) lr %.3g "
                            + "grad norm %.3g, %.0f tokens/s, ETA %s", step, totalSteps, last.loss, last.consistency,
                    last.ar, last.anchored ? String.format(Locale.ROOT, ", anchor %.4f", last.anchor) : "", lr,
                    last.gradNorm, tokens / Math.max(1e-9, seconds),
                    eta((totalSteps - step) / Math.max(1e-9, stepsPerSecond))));
            lastLog = now;
        }
    }

    /** Reports an evaluation of the model after {@code step} steps. */
    void eval(long step, Map<String, Double> metrics) throws IOException {
        if (file == null) {
            return;
        }
        ObjectNode line = JSON.createObjectNode().put("step", step);
        ObjectNode eval = line.putObject("eval");
        metrics.forEach(eval::put);
        BufferedWriter w = writer();
        w.write(JSON.writeValueAsString(line) + "\n");
        w.flush();
        LOG.info("eval at step {}/{}: {}", step, totalSteps, metrics);
    }

    private BufferedWriter writer() throws IOException {
        if (writer == null) {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);   // --out a/b/model: the metrics file a/b/model.metrics.jsonl
            }
            writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND);
        }
        return writer;
    }

    @Override
    public void close() throws IOException {
        if (writer != null) {
            writer.close();
            writer = null;
        }
    }

    /** {@code 1h02m}, {@code 3m05s} or {@code 42s}. */
    static String eta(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }
}
