package dev.cllm.train;

import dev.cllm.data.TrajectoryRecord;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.ConsistencyTrainer;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.train.CollectiveException;
import dev.cllm.train.Collectives;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.train.Rendezvous;
import dev.cllm.torch.SafetensorsFile;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

import static org.bytedeco.pytorch.global.torch.clip_grad_norm_;

/**
 * Consistency training (and plain language-model training) of a {@link LlamaModel} on libtorch.
 *
 * <p>Each optimizer step runs {@code gradientAccumulation} micro-batches of {@code batchSize} examples. For a
 * consistency example the teacher pass runs the model on the context followed by the fixed point (global loss) or the
 * next state (local loss); its logits, detached, are the target distribution of the student pass on the context
 * followed by the sampled state. When the AR term reads the same sequence (global loss, AR on the teacher output),
 * the teacher pass keeps its graph and serves the AR term too: two forward passes per example. Gradients are clipped
 * to a global norm, then {@link AdamW} steps with a cosine schedule.
 *
 * <p>Checkpoints go to the output directory ({@link CheckpointDirectory}); running the same trainer again resumes
 * from the last one: examples are drawn from (seed, epoch, index) alone, so a resumed run takes the same steps as an
 * uninterrupted one. A non-finite loss or gradient stops training with {@link IllegalStateException} before the
 * weights are touched; the last checkpoint stays. {@link #requestStop()} (from any thread), an interrupt of the
 * training thread, or a JVM shutdown under {@link GracefulShutdown}, saves and returns after the current step.
 * Not thread-safe otherwise; one run at a time per output directory.
 *
 * <p><b>Data parallel.</b> With {@link Builder#distributed} the trainer is one rank of a job: every rank builds the
 * same global micro-batches and runs its contiguous slice of each; each loss term is divided by the positions of the
 * whole micro-batch, so the gradients summed over the ranks ({@link Collectives}, in buckets) are the single-process
 * gradient. Rank 0 broadcasts its parameters (and, on resume, its optimizer moments) before the first step, and alone
 * writes checkpoints and metrics and runs the evaluator. A non-finite loss or an interrupt on any rank is seen by all
 * ranks in the same step.
 */
public final class TorchConsistencyTrainer implements ConsistencyTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path baseModel;
    private final LlamaConfig scratchConfig;
    private final List<TrajectoryRecord> trajectories;
    private final List<int[]> sequences;
    private final int[] lossStarts;
    private final String dataDescription;
    private final TrainingConfig config;
    private final CheckpointDirectory out;
    private final ComputeDtype storage;
    private final String device;
    private final TrainingEvaluator evaluator;
    private final Path metricsFile;
    private final Duration logInterval;
    private final Path carryFrom;
    private final Rendezvous rendezvous;
    private final java.util.concurrent.atomic.AtomicBoolean stopRequested =
            new java.util.concurrent.atomic.AtomicBoolean();

    private TorchConsistencyTrainer(Builder b) {
        this.baseModel = b.baseModel;
        this.scratchConfig = b.scratchConfig;
        this.trajectories = b.trajectories;
        this.sequences = b.sequences;
        this.lossStarts = b.lossStarts;
        this.dataDescription = b.dataDescription;
        this.config = b.config;
        this.out = new CheckpointDirectory(b.output);
        this.storage = b.storage;
        this.device = b.device;
        this.evaluator = b.evaluator;
        this.metricsFile = b.metrics != null ? b.metrics
                : b.output.resolveSibling(b.output.getFileName() + ".metrics.jsonl");
        this.logInterval = b.logInterval;
        this.carryFrom = b.carryFrom != null ? b.carryFrom : b.baseModel;
        this.rendezvous = b.rendezvous;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public TrainingSummary train() {
        try {
            return run();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code training of OUT}. */
    @Override
    public String toString() {
        return "training of " + out.path();
    }

    /**
     * Asks a running {@link #train()} to stop after the current optimizer step and save a checkpoint, as an interrupt
     * of its thread does but without interrupting it (an interrupted thread's file channels close, so a caller that
     * can, should prefer this). Thread-safe; in a data-parallel job, a request on any rank stops every rank after the
     * same step. Running the trainer again resumes. {@link GracefulShutdown} calls it when the JVM is asked to stop.
     */
    public void requestStop() {
        stopRequested.set(true);
    }

    private TrainingSummary run() throws IOException {
        long started = System.nanoTime();
        try (Collectives group = rendezvous == null ? Collectives.single() : Collectives.connect(rendezvous, device)) {
            return run(group, started);
        }
    }

    private TrainingSummary run(Collectives group, long started) throws IOException {
        // the architecture training starts from, read once: its EOS ids, the ranks' agreement check, the model
        LlamaConfig start = baseModel != null ? LlamaConfig.read(baseModel.resolve("config.json")) : scratchConfig;
        // positions after an EOS of the target model in a fixed point are not trained on
        Examples examples = trajectories != null ? Examples.ofTrajectories(trajectories, config, start.eosTokenIds())
                : Examples.ofSequences(sequences, lossStarts, config);
        if (examples.size() == 0) {
            throw new IllegalArgumentException("no training examples (" + examples.skipped() + " skipped as longer "
                    + "than the maximum sequence length " + config.maxSequenceLength() + ")");
        }
        if (config.batchSize() < group.worldSize()) {
            throw new IllegalArgumentException("the batch (" + config.batchSize() + " examples per micro-batch, split "
                    + "across the ranks) is smaller than the world size " + group.worldSize() + ": every rank needs "
                    + "at least one example; raise the batch or use fewer processes");
        }
        long perStep = (long) config.batchSize() * config.gradientAccumulation();
        long totalSteps = config.maxSteps() > 0 ? config.maxSteps()
                : Math.max(1, ((long) config.epochs() * examples.size() + perStep - 1) / perStep);
        LearningRateSchedule schedule = LearningRateSchedule.of(config.learningRate(), config.warmupRatio(),
                totalSteps);
        String fingerprint = fingerprint(examples);

        // rank 0 owns the output directory; every rank checks that it trains the same thing from the same step
        ObjectNode plan = JSON.createObjectNode().put("data", fingerprint).put("config", config.toString())
                .put("total_steps", totalSteps).put("architecture", start.toString());
        JsonNode state = null;
        if (group.isLeader()) {
            out.recover();
            if (out.hasState()) {
                state = out.readState();
                try {
                    checkResumable(state, fingerprint, totalSteps);
                    plan.put("start_step", state.get("step").asLong());
                } catch (IllegalArgumentException e) {
                    plan.put("error", e.getMessage());
                }
            } else {
                plan.put("start_step", 0L);
            }
        }
        long startStep = agreeOnPlan(group, plan);
        if (startStep >= totalSteps) {   // finished earlier: report it, touch nothing
            LOG.info("{}: already trained ({} of {} steps); nothing to do", out.path(), startStep, totalSteps);
            return new TrainingSummary(startStep, state == null ? Double.NaN : state.path("loss").asDouble(Double.NaN),
                    state == null ? Double.NaN : state.path("consistency_loss").asDouble(Double.NaN),
                    state == null ? Double.NaN : state.path("ar_loss").asDouble(Double.NaN),
                    0, examples.skipped(), startStep, (System.nanoTime() - started) / 1_000_000,
                    out.path().toString());
        }
        LlamaModel loaded = null;
        RuntimeException loadFailure = null;
        try {
            if (startStep > 0 && group.isLeader()) {
                loaded = loadForTraining(out.path());
                if (Files.isRegularFile(out.masterFile())) {
                    restoreMaster(loaded, out.masterFile());
                }
                LOG.info("{}: resuming at step {} of {}", out.path(), startStep, totalSteps);
            } else if (baseModel != null) {
                loaded = LlamaModel.load(baseModel, start, options());
            } else {
                loaded = LlamaModel.random(scratchConfig, config.seed(), options());
            }
        } catch (RuntimeException e) {
            loadFailure = e;
        }
        try {
            agree(group, "model-loaded", loadFailure);
        } catch (RuntimeException e) {
            if (loaded != null) {
                loaded.close();
            }
            throw e;
        }
        LlamaModel llama = loaded;
        try (llama; AdamW optimizer = new AdamW(trainable(llama), config.beta1(), config.beta2(),
                config.adamEpsilon(), config.weightDecay());
             TrainingRun run = new TrainingRun(llama, examples, schedule, optimizer, group)) {
            RuntimeException stateFailure = null;
            try {
                if (startStep > 0 && group.isLeader()) {
                    optimizer.load(out.optimizerFile());
                    truncateMetrics(startStep);
                } else if (group.isLeader()) {
                    Files.deleteIfExists(metricsFile);
                }
            } catch (IOException e) {
                stateFailure = new UncheckedIOException(e);
            } catch (RuntimeException e) {
                stateFailure = e;
            }
            agree(group, "state-loaded", stateFailure);
            // identical starting points: rank 0's weights (and, on resume, its optimizer moments) everywhere
            group.broadcast(new ArrayList<>(llama.weights().values()), 0, "the initial parameters");
            if (startStep > 0 && group.worldSize() > 1) {
                group.broadcast(optimizer.stateTensors(), 0, "the optimizer state");
                double[] steps = group.allReduceSum(new double[]{group.isLeader() ? optimizer.steps() : 0},
                        "the optimizer step count");
                optimizer.restoreSteps((long) steps[0]);
            }
            return run.loop(startStep, totalSteps, fingerprint, carryFrom, started);
        }
    }

    /**
     * Tells every rank whether this one succeeded at {@code what}; throws this rank's own failure, else the first
     * other rank's (naming it), so that all ranks stop together instead of waiting in the next collective.
     */
    private static void agree(Collectives group, String what, RuntimeException local) {
        String message = local == null ? "" : String.valueOf(local.getMessage());
        List<String> outcomes = group.exchange(what, message);
        if (local != null) {
            throw local;
        }
        for (int r = 0; r < outcomes.size(); r++) {
            if (!outcomes.get(r).isEmpty()) {
                throw new IllegalStateException("rank " + r + " failed (" + what + "): " + outcomes.get(r));
            }
        }
    }

    /**
     * Every rank publishes what it is about to train (rank 0 adds the step to start from, or why it cannot resume);
     * all of them fail alike, naming the rank, if rank 0 cannot resume or any rank's data, settings or architecture
     * differ from rank 0's.
     *
     * @return the step to start from
     */
    private long agreeOnPlan(Collectives group, ObjectNode plan) throws IOException {
        List<String> plans = group.exchange("plan", JSON.writeValueAsString(plan));
        JsonNode leader = JSON.readTree(plans.get(0));
        if (leader.has("error")) {
            throw new IllegalArgumentException(leader.get("error").asText());
        }
        for (int r = 1; r < plans.size(); r++) {
            JsonNode other = JSON.readTree(plans.get(r));
            for (String field : List.of("data", "config", "total_steps", "architecture")) {
                if (!other.path(field).equals(leader.path(field))) {
                    throw new IllegalArgumentException("rank " + r + " would train with other " + field
                            + " than rank 0: " + other.path(field) + " vs " + leader.path(field)
                            + "; give every rank the same model, data "
                            + "and options");
                }
            }
        }
        return leader.get("start_step").asLong();
    }

    private TorchOptions options() {
        return new TorchOptions(device, ComputeDtype.F32, CpuGemm.BLAS); // weights change every step: no packing
    }

    private LlamaModel loadForTraining(Path dir) {
        return LlamaModel.load(dir, LlamaConfig.read(dir.resolve("config.json")), options());
    }

    /** The model's parameters, switched to require gradients. */
    private static Map<String, Tensor> trainable(LlamaModel llama) {
        Map<String, Tensor> params = llama.weights();
        params.values().forEach(p -> p.requires_grad_(true));
        return params;
    }

    private static void restoreMaster(LlamaModel llama, Path file) {
        try (SafetensorsFile in = SafetensorsFile.open(file); PointerScope scope = new PointerScope();
             NoGradGuard noGrad = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : llama.weights().entrySet()) {
                e.getValue().copy_(in.read(e.getKey()));
            }
        }
    }

    private void checkResumable(JsonNode state, String fingerprint, long totalSteps) {
        String savedConfig = state.path("config").asText();
        if (!savedConfig.equals(config.toString())) {
            throw new IllegalArgumentException(out.path() + " was trained with " + savedConfig
                    + "; this run has " + config + ": use another --out or the same settings to resume");
        }
        if (!state.path("data").asText().equals(fingerprint)) {
            throw new IllegalArgumentException(out.path() + " was trained on other data (" + state.path("data")
                    .asText() + ", now " + fingerprint + "): use another --out or the same data to resume");
        }
        if (state.path("total_steps").asLong() != totalSteps) {
            throw new IllegalArgumentException(out.path() + " was planned for " + state.path("total_steps").asLong()
                    + " steps, this run for " + totalSteps);
        }
    }

    private void truncateMetrics(long step) throws IOException {
        if (!Files.isRegularFile(metricsFile)) {
            return;
        }
        List<String> kept = new ArrayList<>();
        for (String line : Files.readAllLines(metricsFile, StandardCharsets.UTF_8)) {
            try {
                JsonNode n = JSON.readTree(line);
                if (n != null && n.path("step").asLong(Long.MAX_VALUE) <= step) {
                    kept.add(line);
                }
            } catch (IOException torn) {
                break;   // a torn last line from an interrupted write
            }
        }
        Files.write(metricsFile, kept, StandardCharsets.UTF_8);
    }

    private String fingerprint(Examples examples) {
        long h = 1125899906842597L;
        if (trajectories != null) {
            for (TrajectoryRecord r : trajectories) {
                h = 31 * h + r.trajectory().context().hashCode();
                for (TokenIds s : r.trajectory().states()) {
                    h = 31 * h + s.hashCode();
                }
                h = 31 * h + r.fullLabels().hashCode();
            }
        } else {
            for (int i = 0; i < sequences.size(); i++) {
                h = 31 * h + java.util.Arrays.hashCode(sequences.get(i));
                h = 31 * h + lossStarts[i];
            }
        }
        return dataDescription + ", " + examples.size() + " examples, hash " + Long.toHexString(h);
    }

    /** The state of one run: the model, the optimizer, and the step loop. */
    private final class TrainingRun implements AutoCloseable {
        private final LlamaModel llama;
        private final Examples examples;
        private final LearningRateSchedule schedule;
        private final AdamW optimizer;
        private final TensorVector params;
        private final Device deviceHandle;
        private final Scalar arWeight;
        private final Collectives group;
        private final List<Tensor> paramList;
        private int cachedEpoch = -1;
        private int[] cachedOrder;

        TrainingRun(LlamaModel llama, Examples examples, LearningRateSchedule schedule, AdamW optimizer,
                    Collectives group) {
            this.llama = llama;
            this.group = group;
            this.paramList = List.copyOf(llama.weights().values());
            this.examples = examples;
            this.schedule = schedule;
            this.optimizer = optimizer;
            this.params = new TensorVector(llama.weights().values().toArray(new Tensor[0]));
            this.params.retainReference();
            this.deviceHandle = new Device(llama.deviceName());
            this.deviceHandle.retainReference();
            this.arWeight = new Scalar(config.arWeight());
            this.arWeight.retainReference();
        }

        TrainingSummary loop(long startStep, long totalSteps, String fingerprint, Path carryFrom, long started)
                throws IOException {
            long examplesSeen = 0;
            StepResult last = null;
            long lastLog = System.nanoTime();
            long loopStart = System.nanoTime();
            long tokens = 0;
            evaluate(startStep, totalSteps);
            long step = startStep;
            boolean interrupted = false;
            boolean interruptedHere = false;
            boolean leader = group.isLeader();
            try (BufferedWriter metrics = leader ? Files.newBufferedWriter(metricsFile, StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND) : null) {
                while (step < totalSteps) {
                    double lr = schedule.at(step);
                    try {
                        last = step(step, lr);
                    } catch (CollectiveException e) {
                        throw new CollectiveException("training step " + (step + 1) + " on " + e.getMessage()
                                + (leader ? "; the last checkpoint in " + out.path() + " is intact" : ""), e);
                    } catch (IllegalStateException e) {
                        throw e;
                    } catch (RuntimeException e) {
                        throw new IllegalStateException("training step " + (step + 1) + " failed: " + e.getMessage()
                                + "; the last checkpoint in " + out.path() + " is intact", e);
                    }
                    step++;
                    examplesSeen += last.examples;
                    tokens += last.tokens;
                    ObjectNode line = JSON.createObjectNode().put("step", step).put("loss", last.loss)
                            .put("consistency_loss", last.consistency).put("ar_loss", last.ar).put("lr", lr)
                            .put("grad_norm", last.gradNorm).put("examples", last.examples).put("tokens", last.tokens)
                            .put("elapsed_ms", (System.nanoTime() - loopStart) / 1_000_000);
                    if (group.worldSize() > 1) {
                        line.put("ranks", group.worldSize()).put("wait_ms", last.waitNanos / 1e6)
                                .put("sync_ms", last.syncNanos / 1e6);
                    }
                    if (metrics != null) {
                        metrics.write(JSON.writeValueAsString(line));
                        metrics.newLine();
                        metrics.flush();
                    }
                    long now = System.nanoTime();
                    if (leader && (now - lastLog >= logInterval.toNanos() || step == totalSteps)) {
                        double seconds = (now - loopStart) / 1e9;
                        double stepsPerSecond = (step - startStep) / Math.max(1e-9, seconds);
                        LOG.info(String.format(Locale.ROOT, "step %d/%d loss %.4f (consistency %.4f, ar %.4f) lr %.3g "
                                        + "grad norm %.3g, %.0f tokens/s, ETA %s", step, totalSteps, last.loss,
                                last.consistency, last.ar, lr, last.gradNorm, tokens / Math.max(1e-9, seconds),
                                eta((totalSteps - step) / Math.max(1e-9, stepsPerSecond))));
                        lastLog = now;
                    }
                    boolean save = config.saveEvery() > 0 && step % config.saveEvery() == 0;
                    if (last.interrupted) {   // on any rank: all of them save (rank 0 writes) and stop together
                        interrupted = true;
                        save = true;
                        // cleared while the checkpoint is written (an interrupted thread's NIO channels close at
                        // once), set again before returning
                        interruptedHere = Thread.interrupted();
                    }
                    if (save && (step < totalSteps || interrupted)) {
                        checkpoint(step, totalSteps, fingerprint, carryFrom, last);
                    }
                    if (config.evalEvery() > 0 && step % config.evalEvery() == 0 && step < totalSteps) {
                        evaluate(step, totalSteps);
                    }
                    if (interrupted) {
                        LOG.warn("{}: stopped on request; {} at step {} of {} (run again to resume)", out.path(),
                                leader ? "saved" : "rank 0 saved", step, totalSteps);
                        break;
                    }
                }
            }
            if (!interrupted) {
                checkpoint(step, totalSteps, fingerprint, carryFrom, last);
                evaluate(step, totalSteps);
            }
            group.barrier("the final checkpoint");   // no rank reports success before rank 0 has saved
            if (interruptedHere) {
                Thread.currentThread().interrupt();
            }
            long elapsed = (System.nanoTime() - started) / 1_000_000;
            return new TrainingSummary(step, last == null ? Double.NaN : last.loss,
                    last == null ? Double.NaN : last.consistency, last == null ? Double.NaN : last.ar, examplesSeen,
                    examples.skipped(), startStep, elapsed, out.path().toString());
        }

        /** One optimizer step over {@code gradientAccumulation} micro-batches. */
        private StepResult step(long step, double lr) {
            StepResult result = new StepResult();
            int accumulation = config.gradientAccumulation();
            int ranks = group.worldSize();
            int rank = group.rank();
            for (int micro = 0; micro < accumulation && result.nonFinite == null; micro++) {
                long first = (step * accumulation + micro) * config.batchSize();
                List<Example> batchExamples = new ArrayList<>(config.batchSize());
                long consistencyPositions = 0;
                long arPositions = 0;
                for (int k = 0; k < config.batchSize(); k++) {
                    long global = first + k;
                    int epoch = (int) (global / examples.size());
                    int index = order(epoch)[(int) (global % examples.size())];
                    Example e = examples.example(index, epoch);
                    batchExamples.add(e);
                    consistencyPositions += e.consistencyPositions();
                    arPositions += e.arPositions();
                }
                // this rank's contiguous share of the global micro-batch; losses are divided by the whole batch's
                // positions, so the ranks' gradients sum to the single-process gradient
                List<Example> mine = batchExamples.subList(batchExamples.size() * rank / ranks,
                        batchExamples.size() * (rank + 1) / ranks);
                try (PointerScope scope = new PointerScope()) {
                    microStep(Batch.of(mine, deviceHandle), accumulation, step, result, consistencyPositions,
                            arPositions);
                }
                result.examples += batchExamples.size();
                for (Example e : mine) {
                    result.tokens += e.arInput().length + (e.student() == null ? 0 : e.student().length);
                }
            }
            long waitStart = System.nanoTime();
            double[] totals = group.allReduceSum(new double[]{result.loss, result.consistency, result.ar,
                    result.tokens, result.nonFinite == null ? 0 : 1,
                    Thread.currentThread().isInterrupted() || stopRequested.get() ? 1 : 0},
                    "the losses of step " + (step + 1));
            result.loss = totals[0];
            result.consistency = totals[1];
            result.ar = totals[2];
            result.tokens = (long) totals[3];
            result.interrupted = totals[5] > 0;
            long syncStart = System.nanoTime();
            result.waitNanos = syncStart - waitStart;   // the first collective of the step: waits for the slowest rank
            if (totals[4] > 0) {
                throw new IllegalStateException((result.nonFinite != null ? result.nonFinite
                        : "non-finite loss on another rank at step " + (step + 1)) + "; stopped before updating the "
                        + "weights. The last checkpoint in " + out.path() + " is intact; lower the learning rate or "
                        + "check the data");
            }
            if (ranks > 1) {
                List<Tensor> grads = new ArrayList<>(paramList.size());
                try (PointerScope scope = new PointerScope()) {
                    for (Tensor p : paramList) {
                        Tensor g = p.grad();
                        if (!g.defined()) {
                            throw new IllegalStateException("parameter of shape " + java.util.Arrays.toString(
                                    p.shape()) + " got no gradient on rank " + rank + " at step " + (step + 1));
                        }
                        grads.add(g);
                    }
                    group.allReduceSum(grads, "the gradients of step " + (step + 1));
                }
            }
            result.syncNanos = System.nanoTime() - syncStart;
            try (PointerScope scope = new PointerScope()) {
                // no clipping: a bound the norm never reaches (and that still converts to fp32)
                double max = config.maxGradNorm() > 0 ? config.maxGradNorm() : Float.MAX_VALUE;
                result.gradNorm = clip_grad_norm_(params, max);
                if (!Double.isFinite(result.gradNorm)) {
                    throw new IllegalStateException("non-finite gradient norm " + result.gradNorm + " at step "
                            + (step + 1) + " (loss " + result.loss + "); stopped before updating the weights. The last "
                            + "checkpoint in " + out.path() + " is intact; lower the learning rate or check the data");
                }
                optimizer.step(lr);
                for (Tensor p : llama.weights().values()) {
                    Tensor g = p.grad();
                    if (g.defined()) {
                        g.zero_();
                    }
                }
            }
            return result;
        }

        private void microStep(Batch batch, int accumulation, long step, StepResult result, long consistencyPositions,
                               long arPositions) {
            Tensor total;
            Tensor ar = null;
            Tensor consistency = null;
            boolean needAr = config.arWeight() > 0 || batch.teacher == null;
            if (batch.teacher != null) {
                Tensor teacherLogits;
                if (batch.arInput == null && needAr) {
                    teacherLogits = llama.logits(batch.teacher);                 // [B, L, V], graph kept for AR
                    ar = Losses.autoregressive(teacherLogits, batch.arTargets, batch.arMask, config.labelSmoothing(),
                            arPositions);
                } else {
                    try (NoGradGuard noGrad = new NoGradGuard()) {
                        teacherLogits = llama.logits(batch.teacher);             // [B, L, V]
                    }
                    if (needAr) {
                        ar = Losses.autoregressive(llama.logits(batch.arInput), batch.arTargets, batch.arMask,
                                config.labelSmoothing(), arPositions);
                    }
                }
                Tensor studentLogits = llama.logits(batch.student);              // [B, L, V]
                consistency = Losses.consistency(studentLogits, teacherLogits, batch.consistencyMask,
                        config.distance(), consistencyPositions);
                total = ar == null ? consistency : consistency.add(ar.mul(arWeight));
            } else {
                ar = Losses.autoregressive(llama.logits(batch.arInput), batch.arTargets, batch.arMask,
                        config.labelSmoothing(), arPositions);
                total = ar;
            }
            double loss = total.item_double();
            double c = consistency == null ? 0 : consistency.item_double();
            double a = ar == null ? 0 : ar.item_double();
            if (!Double.isFinite(loss)) {   // reported after the ranks compare notes, in step()
                result.nonFinite = "non-finite loss " + loss + " (consistency " + c + ", ar " + a + ") at step "
                        + (step + 1) + (group.worldSize() > 1 ? " on rank " + group.rank() : "");
                return;
            }
            total.div(new Scalar(accumulation)).backward();
            result.loss += loss / accumulation;
            result.consistency += c / accumulation;
            result.ar += a / accumulation;
        }

        private int[] order(int epoch) {
            if (epoch != cachedEpoch) {
                cachedOrder = examples.order(epoch);
                cachedEpoch = epoch;
            }
            return cachedOrder;
        }

        private void checkpoint(long step, long totalSteps, String fingerprint, Path carryFrom, StepResult last)
                throws IOException {
            if (!group.isLeader()) {
                return;
            }
            ObjectNode state = JSON.createObjectNode();
            state.put("format_version", 1);
            state.put("step", step);
            state.put("total_steps", totalSteps);
            state.put("config", config.toString());
            state.put("data", fingerprint);
            state.put("base_model", baseModel == null ? "random init (" + scratchConfig + ")" : baseModel.toString());
            if (last != null) {
                state.put("loss", last.loss).put("consistency_loss", last.consistency).put("ar_loss", last.ar);
            }
            out.save(llama, storage, optimizer, state, carryFrom);
            LOG.info("{}: checkpoint at step {}", out.path(), step);
        }

        private void evaluate(long step, long totalSteps) throws IOException {
            if (evaluator == null || !group.isLeader()) {
                return;
            }
            Map<String, Double> metrics;
            try (TorchConsistencyModel view = TorchConsistencyModel.borrowing(llama)) {
                metrics = evaluator.evaluate(view, step);
            }
            ObjectNode line = JSON.createObjectNode().put("step", step);
            ObjectNode eval = line.putObject("eval");
            metrics.forEach(eval::put);
            Files.writeString(metricsFile, JSON.writeValueAsString(line) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
            LOG.info("eval at step {}/{}: {}", step, totalSteps, metrics);
        }

        @Override
        public void close() {
            params.releaseReference();
            deviceHandle.releaseReference();
            arWeight.releaseReference();
        }
    }

    /** Losses and counts of one optimizer step. */
    private static final class StepResult {
        double loss;
        double consistency;
        double ar;
        double gradNorm;
        long examples;
        long tokens;
        long waitNanos;
        long syncNanos;
        boolean interrupted;
        String nonFinite;
    }

    private static String eta(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }

    /** Configures a {@link TorchConsistencyTrainer}. */
    public static final class Builder {
        private Path baseModel;
        private LlamaConfig scratchConfig;
        private List<TrajectoryRecord> trajectories;
        private List<int[]> sequences;
        private int[] lossStarts;
        private String dataDescription = "in-memory data";
        private TrainingConfig config = TrainingConfig.builder().build();
        private Path output;
        private ComputeDtype storage = ComputeDtype.F32;
        private String device = "cpu";
        private TrainingEvaluator evaluator;
        private Path metrics;
        private Duration logInterval = Duration.ofSeconds(10);
        private Path carryFrom;
        private Rendezvous rendezvous;

        private Builder() {
        }


        /**
         * Trains as one rank of a data-parallel job (default: a single process). Every rank is given the same model,
         * data and configuration; each runs its contiguous share of every micro-batch ({@code batchSize} is the
         * global micro-batch, split across the ranks), gradients are summed over the ranks in buckets, and only rank
         * 0 writes checkpoints and metrics and runs the evaluator. See {@link Collectives} for how failures surface.
         */
        public Builder distributed(Rendezvous job) {
            this.rendezvous = job;
            return this;
        }

        /**
         * The directory whose tokenizer and generation files ({@link HfExport#COMPANION_FILES}) every
         * checkpoint copies (default: the base model's directory).
         */
        public Builder carryFilesFrom(Path dir) {
            this.carryFrom = dir;
            return this;
        }

        /** Start from this Hugging Face checkpoint (its tokenizer files are carried into every checkpoint). */
        public Builder baseModel(Path dir) {
            this.baseModel = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /** Start from random weights of this architecture (seeded by the training seed): training from scratch. */
        public Builder fromScratch(LlamaConfig architecture) {
            this.scratchConfig = Objects.requireNonNull(architecture, "architecture");
            return this;
        }

        /** Consistency training on these records. */
        public Builder trajectories(List<TrajectoryRecord> records, String description) {
            this.trajectories = List.copyOf(records);
            this.dataDescription = description;
            return this;
        }

        /** Language-model training on these token sequences, every predicted token scored. */
        public Builder sequences(List<int[]> tokenSequences, String description) {
            return sequences(tokenSequences, new int[tokenSequences.size()], description);
        }

        /**
         * Language-model training on these token sequences, scoring in sequence i only the tokens from index
         * {@code lossStarts[i]} on: a conditional model of answers given prompts when each start is its prompt's
         * length.
         */
        public Builder sequences(List<int[]> tokenSequences, int[] lossStarts, String description) {
            if (lossStarts.length != tokenSequences.size()) {
                throw new IllegalArgumentException(lossStarts.length + " loss starts for " + tokenSequences.size()
                        + " sequences");
            }
            this.sequences = List.copyOf(tokenSequences);
            this.lossStarts = lossStarts.clone();
            this.dataDescription = description;
            return this;
        }

        public Builder config(TrainingConfig trainingConfig) {
            this.config = Objects.requireNonNull(trainingConfig, "config");
            return this;
        }

        /** The checkpoint directory (created; resumed from when it holds training state). */
        public Builder output(Path dir) {
            this.output = Objects.requireNonNull(dir, "dir");
            return this;
        }

        /** Precision of the saved model weights (default F32); lower precision also saves fp32 master weights. */
        public Builder storageDtype(ComputeDtype dtype) {
            if (dtype == ComputeDtype.AUTO) {
                throw new IllegalArgumentException("choose F32, BF16 or F16 for the saved weights");
            }
            this.storage = dtype;
            return this;
        }

        /** {@code cpu} (default), {@code cuda}, {@code cuda:N} or {@code auto}; training computes in fp32. */
        public Builder device(String name) {
            this.device = Objects.requireNonNull(name, "device");
            return this;
        }

        public Builder evaluator(TrainingEvaluator hook) {
            this.evaluator = hook;
            return this;
        }

        /** The metrics file (JSON lines; default: the output path plus {@code .metrics.jsonl}). */
        public Builder metrics(Path file) {
            this.metrics = file;
            return this;
        }

        public Builder logInterval(Duration interval) {
            this.logInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /** @throws IllegalArgumentException naming what is missing or contradictory */
        public TorchConsistencyTrainer build() {
            if (output == null) {
                throw new IllegalArgumentException("an output directory is required");
            }
            if ((baseModel == null) == (scratchConfig == null)) {
                throw new IllegalArgumentException("give exactly one of a base model and a from-scratch architecture");
            }
            if ((trajectories == null) == (sequences == null)) {
                throw new IllegalArgumentException("give exactly one of trajectories and token sequences");
            }
            boolean lm = config.objective() == TrainingConfig.Objective.LANGUAGE_MODEL;
            if (lm != (sequences != null)) {
                throw new IllegalArgumentException(lm ? "language-model training needs token sequences"
                        : "consistency training needs trajectories");
            }
            return new TorchConsistencyTrainer(this);
        }
    }
}
