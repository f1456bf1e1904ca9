package dev.cllm.api;

import java.util.Locale;

/**
 * Hyperparameters of consistency training (and of plain language-model training, which uses the same machinery).
 *
 * <p>Defaults are the CLLM authors' (hao-ai-lab/Consistency_LLM, {@code train_cllm_global.py} and
 * {@code cllm_trainer_global.py}) where they chose one, else Hugging Face {@code TrainingArguments}'. The loss is
 * {@code L = L_consistency + ω · L_AR} (Kou et al. 2024, equation 7). The Jacobi Forcing settings
 * ({@link Objective#JACOBI_FORCING}, {@link #noiseWindow()}, {@link #noiseSchedule()}) default to that paper's; the
 * other settings keep the CLLM defaults with every objective. Build with {@link #builder()}; immutable.
 */
public final class TrainingConfig {

    /** What is trained. */
    public enum Objective {
        /** Consistency loss plus ω times the AR loss, on Jacobi trajectories. */
        CONSISTENCY,
        /** AR (next-token cross-entropy) loss only, on token sequences: training or fine-tuning a base model. */
        LANGUAGE_MODEL,
        /**
         * Jacobi Forcing (arXiv 2512.14681): every answer packed into one sequence of noisy and clean copies of its
         * blocks, the noisy block of each chosen by the progressive noise schedule ({@link #noiseSchedule()},
         * {@link #noiseWindow()}); the progressive consistency loss (noisy blocks to the fixed point) plus ω times
         * the AR loss, both from one forward pass. The teacher is always the fixed point and the noise schedule picks
         * the states, so it takes the default {@link ConsistencyLoss} and {@link StateSampling}. The AR term reads the
         * model's own output ({@link ArTarget#TEACHER_OUTPUT}, the authors') or the ground-truth answers packed after
         * the blocks ({@link ArTarget#LABELS}).
         */
        JACOBI_FORCING
    }

    /** Which states the consistency loss maps where (paper, section 3.2.1). */
    public enum ConsistencyLoss {
        /** Any state straight to the fixed point: D(q(·|y*) ‖ q(·|y)). The paper found it better. */
        GLOBAL,
        /** Each state to the next one on its trajectory: D(q(·|y^(j+1)) ‖ q(·|y^(j))). */
        LOCAL
    }

    /** The distance D between the (stop-gradient) teacher distribution p and the student distribution q. */
    public enum Distance {
        /** KL(p ‖ q): the gradient of the soft cross-entropy the authors use. */
        FORWARD_KL,
        /** KL(q ‖ p). */
        REVERSE_KL
    }

    /** What the AR loss predicts. */
    public enum ArTarget {
        /** The target model's own output: the trajectory's fixed point after its context. */
        TEACHER_OUTPUT,
        /** The ground-truth answer after the prompt when a record has one (else the teacher output). */
        LABELS
    }

    /** Which trajectory states a record contributes per epoch. */
    public enum StateSampling {
        /** One intermediate state drawn uniformly per record and epoch (the authors' code). */
        ONE_SAMPLED,
        /** Every intermediate state (each a separate example). */
        ALL
    }

    /**
     * How Jacobi Forcing picks the noisy state of block i of an answer: a target noise t_i (the fraction of the block
     * not yet converged) from the levels {@code linspace(0, 1, w)} of a window of w blocks, then the trajectory state
     * whose noise is closest to it (the first such state on ties).
     */
    public enum NoiseSchedule {
        /** t_i = level {@code i mod w}: noise rises from 0 to 1 within each window (the paper's progressive one). */
        LINEAR,
        /** A level drawn uniformly per block and epoch, seeded (the paper's ablation). */
        RANDOM,
        /** t_i = level {@code w - 1 - (i mod w)}: noise falls from 1 to 0 within each window (the paper's ablation). */
        REVERSE
    }

    /**
     * Jacobi Forcing's noise window: the paper's first round (block size 16, window 16) and the window of the authors'
     * released checkpoints ({@code n32w16}); the paper's second round uses 8 at block size 32.
     */
    public static final int JACOBI_FORCING_NOISE_WINDOW = 16;

    /** The authors' ω: the AR term is multiplied by 10. */
    public static final double AUTHORS_AR_WEIGHT = 10.0;
    /** The authors' label smoothing on the AR term. */
    public static final double AUTHORS_LABEL_SMOOTHING = 0.1;
    /** The authors' learning rate (7B models; small models need more, e.g. 1e-3). */
    public static final double AUTHORS_LEARNING_RATE = 2e-5;
    /** The authors' warm-up: 3% of the steps, then cosine decay to 0. */
    public static final double AUTHORS_WARMUP_RATIO = 0.03;

    private final Objective objective;
    private final ConsistencyLoss consistencyLoss;
    private final Distance distance;
    private final double arWeight;
    private final ArTarget arTarget;
    private final double labelSmoothing;
    private final StateSampling stateSampling;
    private final double learningRate;
    private final double warmupRatio;
    private final double weightDecay;
    private final double beta1;
    private final double beta2;
    private final double adamEpsilon;
    private final double maxGradNorm;
    private final int batchSize;
    private final int gradientAccumulation;
    private final int epochs;
    private final long maxSteps;
    private final long seed;
    private final long saveEvery;
    private final long evalEvery;
    private final int maxSequenceLength;
    private final int noiseWindow;
    private final NoiseSchedule noiseSchedule;
    private final boolean arOnPrompt;
    private final double anchorWeight;

    private TrainingConfig(Builder b) {
        this.objective = b.objective;
        this.consistencyLoss = b.consistencyLoss;
        this.distance = b.distance;
        this.arWeight = b.arWeight;
        this.arTarget = b.arTarget;
        this.labelSmoothing = b.labelSmoothing;
        this.stateSampling = b.stateSampling;
        this.learningRate = b.learningRate;
        this.warmupRatio = b.warmupRatio;
        this.weightDecay = b.weightDecay;
        this.beta1 = b.beta1;
        this.beta2 = b.beta2;
        this.adamEpsilon = b.adamEpsilon;
        this.maxGradNorm = b.maxGradNorm;
        this.batchSize = b.batchSize;
        this.gradientAccumulation = b.gradientAccumulation;
        this.epochs = b.epochs;
        this.maxSteps = b.maxSteps;
        this.seed = b.seed;
        this.saveEvery = b.saveEvery;
        this.evalEvery = b.evalEvery;
        this.maxSequenceLength = b.maxSequenceLength;
        this.noiseWindow = b.noiseWindow;
        this.noiseSchedule = b.noiseSchedule;
        this.arOnPrompt = b.arOnPrompt;
        this.anchorWeight = b.anchorWeight;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.objective = objective;
        b.consistencyLoss = consistencyLoss;
        b.distance = distance;
        b.arWeight = arWeight;
        b.arTarget = arTarget;
        b.labelSmoothing = labelSmoothing;
        b.stateSampling = stateSampling;
        b.learningRate = learningRate;
        b.warmupRatio = warmupRatio;
        b.weightDecay = weightDecay;
        b.beta1 = beta1;
        b.beta2 = beta2;
        b.adamEpsilon = adamEpsilon;
        b.maxGradNorm = maxGradNorm;
        b.batchSize = batchSize;
        b.gradientAccumulation = gradientAccumulation;
        b.epochs = epochs;
        b.maxSteps = maxSteps;
        b.seed = seed;
        b.saveEvery = saveEvery;
        b.evalEvery = evalEvery;
        b.maxSequenceLength = maxSequenceLength;
        b.noiseWindow = noiseWindow;
        b.noiseSchedule = noiseSchedule;
        b.arOnPrompt = arOnPrompt;
        b.anchorWeight = anchorWeight;
        return b;
    }

    public Objective objective() {
        return objective;
    }

    public ConsistencyLoss consistencyLoss() {
        return consistencyLoss;
    }

    public Distance distance() {
        return distance;
    }

    /** ω, the weight of the AR loss. */
    public double arWeight() {
        return arWeight;
    }

    public ArTarget arTarget() {
        return arTarget;
    }

    public double labelSmoothing() {
        return labelSmoothing;
    }

    public StateSampling stateSampling() {
        return stateSampling;
    }

    /** Peak learning rate (after warm-up). */
    public double learningRate() {
        return learningRate;
    }

    /** Fraction of the optimizer steps spent warming up linearly from 0; cosine decay to 0 follows. */
    public double warmupRatio() {
        return warmupRatio;
    }

    public double weightDecay() {
        return weightDecay;
    }

    public double beta1() {
        return beta1;
    }

    public double beta2() {
        return beta2;
    }

    public double adamEpsilon() {
        return adamEpsilon;
    }

    /** Gradients are clipped to this global L2 norm (0 = no clipping). */
    public double maxGradNorm() {
        return maxGradNorm;
    }

    /** Examples per micro-batch. */
    public int batchSize() {
        return batchSize;
    }

    /** Micro-batches per optimizer step. */
    public int gradientAccumulation() {
        return gradientAccumulation;
    }

    /** Passes over the data; ignored when {@link #maxSteps()} is set. */
    public int epochs() {
        return epochs;
    }

    /** Optimizer steps to take, or -1 to run {@link #epochs()} epochs. */
    public long maxSteps() {
        return maxSteps;
    }

    /** Seed of shuffling, state sampling and (for training from scratch) initial weights. */
    public long seed() {
        return seed;
    }

    /** A checkpoint every this many optimizer steps (and always at the end); 0 = only at the end. */
    public long saveEvery() {
        return saveEvery;
    }

    /** The evaluation hook runs every this many optimizer steps (and at the start and end); 0 = never. */
    public long evalEvery() {
        return evalEvery;
    }

    /**
     * Longer examples are skipped (and counted). For {@link Objective#JACOBI_FORCING}, the longest packed sequence
     * (context + 2 copies of each block, + the ground truth's inputs with {@link ArTarget#LABELS}): a longer answer
     * is split into parts that fit.
     */
    public int maxSequenceLength() {
        return maxSequenceLength;
    }

    /** Jacobi Forcing's window w: the noise schedule cycles over blocks i mod w of each answer. */
    public int noiseWindow() {
        return noiseWindow;
    }

    /** How Jacobi Forcing picks each block's noisy state. */
    public NoiseSchedule noiseSchedule() {
        return noiseSchedule;
    }

    /**
     * Whether Jacobi Forcing's AR term also scores the prompt's next-token pairs, as the authors' code does (default);
     * false scores the answer alone, as the CLLM objective's AR term here always does: the choice for a base model
     * trained on answers only, whose loss on prompt tokens is large and says nothing about its answers. Only
     * {@link Objective#JACOBI_FORCING} reads it.
     */
    public boolean arOnPrompt() {
        return arOnPrompt;
    }

    /**
     * β, the weight of the anchor term: KL(p_base ‖ q) on the AR term's positions, p_base the next-token distribution
     * of the model training starts from (kept frozen, read by a second, gradient-free pass), q the trained model's.
     * Where the AR term keeps the greedy answers of the training prompts, the anchor keeps their whole distributions
     * near the base model's: a regularizer against drift on inputs the training data does not cover. 0 (the default,
     * and the CLLM and Jacobi Forcing authors' setting): no anchor term and no second model.
     */
    public double anchorWeight() {
        return anchorWeight;
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "TrainingConfig[%s, %s %s, ar weight %.3g on %s, smoothing %.3g, states %s, "
                        + "lr %.3g, warmup %.3g, wd %.3g, betas (%.3g, %.4g), clip %.3g, batch %d x %d, %s, seed %d%s]",
                objective, consistencyLoss, distance, arWeight, arTarget, labelSmoothing, stateSampling, learningRate,
                warmupRatio, weightDecay, beta1, beta2, maxGradNorm, batchSize, gradientAccumulation,
                maxSteps > 0 ? maxSteps + " steps" : epochs + " epochs", seed,
                // only for Jacobi Forcing, so that the summaries older checkpoints recorded still compare equal
                (objective == Objective.JACOBI_FORCING ? ", noise " + noiseSchedule + " window " + noiseWindow
                        + (arOnPrompt ? "" : ", AR on the answer only") : "")
                        // only when set, for the same reason
                        + (anchorWeight > 0 ? String.format(Locale.ROOT, ", anchor weight %.3g", anchorWeight) : ""));
    }

    /** Configures a {@link TrainingConfig}; {@link #build()} validates. */
    public static final class Builder {
        private Objective objective = Objective.CONSISTENCY;
        private ConsistencyLoss consistencyLoss = ConsistencyLoss.GLOBAL;
        private Distance distance = Distance.FORWARD_KL;
        private double arWeight = AUTHORS_AR_WEIGHT;
        private ArTarget arTarget = ArTarget.TEACHER_OUTPUT;
        private double labelSmoothing = AUTHORS_LABEL_SMOOTHING;
        private StateSampling stateSampling = StateSampling.ONE_SAMPLED;
        private double learningRate = AUTHORS_LEARNING_RATE;
        private double warmupRatio = AUTHORS_WARMUP_RATIO;
        private double weightDecay = 0.0;        // the authors' setting
        private double beta1 = 0.9;              // transformers' AdamW defaults
        private double beta2 = 0.999;
        private double adamEpsilon = 1e-8;
        private double maxGradNorm = 1.0;        // transformers' default
        private int batchSize = 1;               // the authors' setting
        private int gradientAccumulation = 1;
        private int epochs = 1;                  // the authors' setting
        private long maxSteps = -1;
        private long seed = 42;                  // transformers' default
        private long saveEvery = 500;            // transformers' default save_steps
        private long evalEvery;
        private int maxSequenceLength = 2048;    // the authors' model_max_length
        private int noiseWindow = JACOBI_FORCING_NOISE_WINDOW;
        private NoiseSchedule noiseSchedule = NoiseSchedule.LINEAR;   // the paper's, at the code's levels
        private boolean arOnPrompt = true;                            // the authors' Jacobi Forcing code
        private double anchorWeight;                                  // no anchor: the authors' objectives

        private Builder() {
        }

        public Builder objective(Objective v) {
            objective = v;
            return this;
        }

        public Builder consistencyLoss(ConsistencyLoss v) {
            consistencyLoss = v;
            return this;
        }

        public Builder distance(Distance v) {
            distance = v;
            return this;
        }

        public Builder arWeight(double v) {
            arWeight = v;
            return this;
        }

        public Builder arTarget(ArTarget v) {
            arTarget = v;
            return this;
        }

        public Builder labelSmoothing(double v) {
            labelSmoothing = v;
            return this;
        }

        public Builder stateSampling(StateSampling v) {
            stateSampling = v;
            return this;
        }

        public Builder learningRate(double v) {
            learningRate = v;
            return this;
        }

        public Builder warmupRatio(double v) {
            warmupRatio = v;
            return this;
        }

        public Builder weightDecay(double v) {
            weightDecay = v;
            return this;
        }

        public Builder betas(double b1, double b2) {
            beta1 = b1;
            beta2 = b2;
            return this;
        }

        public Builder adamEpsilon(double v) {
            adamEpsilon = v;
            return this;
        }

        public Builder maxGradNorm(double v) {
            maxGradNorm = v;
            return this;
        }

        public Builder batchSize(int v) {
            batchSize = v;
            return this;
        }

        public Builder gradientAccumulation(int v) {
            gradientAccumulation = v;
            return this;
        }

        public Builder epochs(int v) {
            epochs = v;
            return this;
        }

        /** -1 runs {@link #epochs}. */
        public Builder maxSteps(long v) {
            maxSteps = v;
            return this;
        }

        public Builder seed(long v) {
            seed = v;
            return this;
        }

        public Builder saveEvery(long v) {
            saveEvery = v;
            return this;
        }

        public Builder evalEvery(long v) {
            evalEvery = v;
            return this;
        }

        public Builder maxSequenceLength(int v) {
            maxSequenceLength = v;
            return this;
        }

        public Builder noiseWindow(int v) {
            noiseWindow = v;
            return this;
        }

        public Builder noiseSchedule(NoiseSchedule v) {
            noiseSchedule = v;
            return this;
        }

        public Builder arOnPrompt(boolean v) {
            arOnPrompt = v;
            return this;
        }

        public Builder anchorWeight(double v) {
            anchorWeight = v;
            return this;
        }

        /** @throws IllegalArgumentException naming the invalid setting */
        public TrainingConfig build() {
            require(objective != null && consistencyLoss != null && distance != null && arTarget != null
                    && stateSampling != null, "objective, loss, distance, AR target and state sampling must be set");
            require(arWeight >= 0 && Double.isFinite(arWeight), "AR weight must be finite and >= 0, got " + arWeight);
            require(labelSmoothing >= 0 && labelSmoothing < 1, "label smoothing must be in [0, 1), got "
                    + labelSmoothing);
            require(learningRate > 0 && Double.isFinite(learningRate), "learning rate must be > 0, got "
                    + learningRate);
            require(warmupRatio >= 0 && warmupRatio < 1, "warm-up ratio must be in [0, 1), got " + warmupRatio);
            require(weightDecay >= 0, "weight decay must be >= 0, got " + weightDecay);
            require(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "betas must be in [0, 1), got " + beta1
                    + ", " + beta2);
            require(adamEpsilon > 0, "Adam epsilon must be > 0, got " + adamEpsilon);
            require(maxGradNorm >= 0, "max gradient norm must be >= 0, got " + maxGradNorm);
            require(batchSize >= 1, "batch size must be >= 1, got " + batchSize);
            require(gradientAccumulation >= 1, "gradient accumulation must be >= 1, got " + gradientAccumulation);
            require(maxSteps > 0 || maxSteps == -1, "steps must be > 0 (or -1 for epochs), got " + maxSteps);
            require(epochs >= 1, "epochs must be >= 1, got " + epochs);
            require(saveEvery >= 0 && evalEvery >= 0, "save and eval intervals must be >= 0");
            require(maxSequenceLength >= 2, "max sequence length must be >= 2, got " + maxSequenceLength);
            require(noiseSchedule != null, "noiseSchedule must be set");
            require(noiseWindow >= 1, "noiseWindow must be >= 1, got " + noiseWindow);
            require(anchorWeight >= 0 && Double.isFinite(anchorWeight), "anchor weight must be finite and >= 0, got "
                    + anchorWeight);
            require(anchorWeight == 0 || objective != Objective.LANGUAGE_MODEL, "anchor weight " + anchorWeight
                    + " applies only to consistency training (CONSISTENCY, JACOBI_FORCING), not to " + objective);
            if (objective == Objective.JACOBI_FORCING) {
                require(consistencyLoss == ConsistencyLoss.GLOBAL, "consistencyLoss " + consistencyLoss + " does not "
                        + "apply to JACOBI_FORCING: its teacher is always the fixed point (use GLOBAL)");
                require(stateSampling == StateSampling.ONE_SAMPLED, "stateSampling " + stateSampling + " does not "
                        + "apply to JACOBI_FORCING: the noise schedule picks one state per block (use ONE_SAMPLED)");
            } else {
                require(arOnPrompt, "arOnPrompt false applies only to JACOBI_FORCING; the " + objective
                        + " objective decides what its AR term scores");
            }
            return new TrainingConfig(this);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }
}
