package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.ConsistencyTrainer;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;

/**
 * Consistency training (and plain language-model training) of a {@link LlamaModel} on libtorch.
 *
 * <p>Each optimizer step runs {@code gradientAccumulation} micro-batches of {@code batchSize} examples; the loss of a
 * micro-batch is the consistency term plus ω times the AR term ({@link ConsistencyObjective}; with
 * {@link TrainingConfig.Objective#JACOBI_FORCING}, an example is a whole answer packed into one sequence and both terms
 * come from one pass over it: {@link PackedAnswers}, {@link JacobiForcingObjective}). Gradients are clipped to a global
 * norm, then {@link AdamW} steps with a cosine schedule ({@link TrainingLoop}).
 *
 * <p>Checkpoints go to the output directory ({@link TrainingCheckpoints}); running the same trainer again resumes
 * from the last one: examples are drawn from (seed, epoch, index) alone, so a resumed run takes the same steps as an
 * uninterrupted one. A resume with other settings, other data or another step count is refused, naming each
 * difference. A non-finite loss or gradient stops training with {@link IllegalStateException} before the weights are
 * touched; the last checkpoint stays. {@link #requestStop()} (from any thread), an interrupt of the training thread,
 * or a JVM shutdown under {@link GracefulShutdown}, saves and returns after the current step. Not thread-safe
 * otherwise; one run at a time per output directory.
 *
 * <p><b>Data parallel.</b> With {@link Builder#distributed} the trainer is one rank of a job: every rank builds the
 * same global micro-batches and runs its contiguous slice of each ({@link GlobalBatches}); each loss term is divided by
 * the positions of the whole micro-batch, so the gradients summed over the ranks ({@link GradientSync}) are the
 * single-process gradient. The ranks agree on what they train before the first step ({@link RankAgreement}); rank 0
 * broadcasts its parameters (and, on resume, its optimizer moments), and alone writes checkpoints and metrics and runs
 * the evaluator. A non-finite loss or an interrupt on any rank is seen by all ranks in the same step.
 */
public final class TorchConsistencyTrainer implements ConsistencyTrainer {
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);

    private final Path baseModel;
    private final LlamaConfig scratchConfig;
    private final TrainingData data;
    private final TrainingConfig config;
    private final CheckpointDirectory out;
    private final ComputeDtype storage;
    private final String device;
    private final TrainingEvaluator evaluator;
    private final Path metricsFile;
    private final Duration logInterval;
    private final Path carryFrom;
    private final Rendezvous rendezvous;
    private final AtomicBoolean stopRequested = new AtomicBoolean();

    private TorchConsistencyTrainer(Builder b) {
        this.baseModel = b.baseModel;
        this.scratchConfig = b.scratchConfig;
        this.data = b.trajectories != null ? b.trajectories : b.sequences;
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
        long started = System.nanoTime();
        try (Collectives group = rendezvous == null ? Collectives.single() : Collectives.connect(rendezvous, device)) {
            return run(group, started);
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

    private TrainingSummary run(Collectives group, long started) throws IOException {
        // the architecture training starts from, read once: its EOS ids, the ranks' agreement check, the model
        LlamaConfig start = baseModel != null ? LlamaConfig.read(baseModel.resolve("config.json")) : scratchConfig;
        // positions after an EOS of the target model in a fixed point are not trained on
        ExampleSource examples = data.examples(config, start.eosTokenIds(), start.maxPositions(),
                start.vocabSize());
        if (examples.size() == 0) {
            throw new IllegalArgumentException("no training examples (" + examples.skipped() + " skipped as longer "
                    + "than the maximum sequence length " + config.maxSequenceLength()
                    + (config.objective() == TrainingConfig.Objective.JACOBI_FORCING ? ", packed with both copies of "
                    + "every block, or than the model's " + start.maxPositions() + " positions" : "") + ")");
        }
        if (config.batchSize() < group.worldSize()) {
            throw new IllegalArgumentException("the batch (" + config.batchSize() + " examples per micro-batch, split "
                    + "across the ranks) is smaller than the world size " + group.worldSize() + ": every rank needs "
                    + "at least one example; raise the batch or use fewer processes");
        }
        long perStep = (long) config.batchSize() * config.gradientAccumulation();
        long totalSteps = config.maxSteps() > 0 ? config.maxSteps()
                : Math.max(1, ((long) config.epochs() * examples.size() + perStep - 1) / perStep);
        TrainingPlan plan = new TrainingPlan(data.fingerprint(examples), config, totalSteps, start.toString());
        TrainingCheckpoints checkpoints = new TrainingCheckpoints(out, plan, storage, carryFrom,
                baseModel == null ? "random init (" + scratchConfig + ")"
                        : baseModel.toAbsolutePath().normalize().toString());

        // rank 0 owns the output directory; every rank checks that it trains the same thing from the same step
        ObjectNode proposal = plan.toJson();
        JsonNode state = null;
        if (group.isLeader()) {
            try {
                state = checkpoints.resumable();
                proposal.put("start_step", state == null ? 0L : TrainingCheckpoints.step(state));
            } catch (IllegalArgumentException e) {
                proposal.put("error", e.getMessage());
            }
        }
        long startStep = RankAgreement.onPlan(group, proposal);
        if (startStep >= totalSteps) {   // finished earlier: report it, touch nothing
            LOG.info("{}: already trained ({} of {} steps); nothing to do", out.path(), startStep, totalSteps);
            return new TrainingSummary(startStep, lastLoss(state, "loss"), lastLoss(state, "consistency_loss"),
                    lastLoss(state, "ar_loss"), 0, examples.skipped(), startStep,
                    (System.nanoTime() - started) / 1_000_000, out.path().toString());
        }
        LlamaModel model = load(group, start, startStep, totalSteps, checkpoints);
        LlamaModel anchor;
        try {
            anchor = anchor(group, start);
        } catch (RuntimeException e) {
            model.close();
            throw e;
        }
        try (model; anchor; AdamW optimizer = new AdamW(trainable(model), config.beta1(), config.beta2(),
                config.adamEpsilon(), config.weightDecay())) {
            startTogether(group, model, optimizer, startStep, checkpoints);
            try (TrainingMetrics metrics = new TrainingMetrics(group.isLeader() ? metricsFile : null,
                    group.worldSize(), logInterval, startStep, totalSteps)) {
                TrainingLoop loop = new TrainingLoop(model, optimizer, examples, config, group, checkpoints, evaluator,
                        stopRequested::get, anchor);
                return loop.run(startStep, LearningRateSchedule.of(config.learningRate(), config.warmupRatio(),
                        totalSteps), metrics, started);
            }
        }
    }

    private static double lastLoss(JsonNode state, String name) {
        return state == null ? Double.NaN : state.path(name).asDouble(Double.NaN);
    }

    /**
     * The model to train: rank 0's checkpoint when resuming, else the base model or random weights (the other ranks
     * receive rank 0's weights by broadcast). A rank that cannot load stops all of them.
     */
    private LlamaModel load(Collectives group, LlamaConfig start, long startStep, long totalSteps,
                            TrainingCheckpoints checkpoints) {
        TorchOptions options = trainingOptions();
        return loadTogether(group, "model-loaded", () -> {
            if (startStep > 0 && group.isLeader()) {
                LlamaModel resumed = checkpoints.loadModel(options);
                LOG.info("{}: resuming at step {} of {}", out.path(), startStep, totalSteps);
                return resumed;
            }
            return baseModel != null ? LlamaModel.load(baseModel, start, options)
                    : LlamaModel.random(scratchConfig, config.seed(), options);
        });
    }

    /** fp32 on the training device, weights not packed for inference (they change every step). */
    private TorchOptions trainingOptions() {
        return new TorchOptions(device, ComputeDtype.F32, CpuGemm.BLAS);
    }

    /**
     * Every rank's {@code load}: a rank that fails stops all of them (the ranks compare notes under {@code stage}),
     * and a model loaded where another rank failed is closed.
     */
    private static LlamaModel loadTogether(Collectives group, String stage, Supplier<LlamaModel> load) {
        LlamaModel loaded = null;
        RuntimeException failure = null;
        try {
            loaded = load.get();
        } catch (RuntimeException e) {
            failure = e;
        }
        try {
            RankAgreement.onOutcome(group, stage, failure);
        } catch (RuntimeException e) {
            if (loaded != null) {
                loaded.close();
            }
            throw e;
        }
        return loaded;
    }

    /**
     * The frozen model of the anchor term, every rank's own copy: the base model as training starts from it (also on
     * resume, where the trained model comes from a checkpoint); null without an anchor weight.
     */
    private LlamaModel anchor(Collectives group, LlamaConfig start) {
        if (config.anchorWeight() == 0) {
            return null;
        }
        return loadTogether(group, "anchor-loaded", () -> LlamaModel.load(baseModel, start, trainingOptions()));
    }

    /** The model's parameters, switched to require gradients. */
    private static Map<String, Tensor> trainable(LlamaModel model) {
        Map<String, Tensor> params = model.weights();
        params.values().forEach(p -> p.requires_grad_(true));
        return params;
    }

    /**
     * Rank 0 restores its optimizer moments (on resume) and readies the metrics file; then every rank takes rank 0's
     * parameters (and, on resume, its moments and step count), so that all ranks start bit-identical.
     */
    private void startTogether(Collectives group, LlamaModel model, AdamW optimizer, long startStep,
                               TrainingCheckpoints checkpoints) {
        RuntimeException failure = null;
        try {
            if (group.isLeader()) {
                if (startStep > 0) {
                    checkpoints.restore(optimizer);
                }
                TrainingMetrics.prepare(metricsFile, startStep);
            }
        } catch (IOException e) {
            failure = new UncheckedIOException(e);
        } catch (RuntimeException e) {
            failure = e;
        }
        RankAgreement.onOutcome(group, "state-loaded", failure);
        group.broadcast(new ArrayList<>(model.weights().values()), 0, "the initial parameters");
        if (startStep > 0 && group.worldSize() > 1) {
            group.broadcast(optimizer.stateTensors(), 0, "the optimizer state");
            double[] steps = group.allReduceSum(new double[]{group.isLeader() ? optimizer.steps() : 0},
                    "the optimizer step count");
            optimizer.restoreSteps((long) steps[0]);
        }
    }

    /** Configures a {@link TorchConsistencyTrainer}. */
    public static final class Builder {
        private Path baseModel;
        private LlamaConfig scratchConfig;
        private TrainingData trajectories;
        private TrainingData sequences;
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
            this.trajectories = TrainingData.ofTrajectories(records, description);
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
            this.sequences = TrainingData.ofSequences(tokenSequences, lossStarts, description);
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
            if (config.anchorWeight() > 0 && baseModel == null) {
                throw new IllegalArgumentException("anchor weight " + config.anchorWeight() + " needs a base model: "
                        + "the anchor term keeps the trained model near the model training starts from");
            }
            return new TorchConsistencyTrainer(this);
        }
    }
}
