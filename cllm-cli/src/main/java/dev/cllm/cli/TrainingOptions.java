package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.train.Rendezvous;
import dev.cllm.train.GracefulShutdown;
import dev.cllm.train.TorchConsistencyTrainer;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Hyperparameter options shared by {@code train} and {@code pretrain}; defaults are {@link TrainingConfig}'s. */
final class TrainingOptions {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "checkpoint directory (Hugging Face layout); rerunning with the same options resumes")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "optimizer steps (default: --epochs)")
    Long steps;

    @Option(names = "--epochs", paramLabel = "E", description = "passes over the data (default: 1)")
    Integer epochs;

    @Option(names = "--lr", paramLabel = "X", description = "peak learning rate (default: the authors' 2e-5)")
    Double lr;

    @Option(names = "--batch", paramLabel = "B", description = "examples per micro-batch (default: 1)")
    Integer batch;

    @Option(names = "--accumulation", paramLabel = "K", description = "micro-batches per optimizer step (default: 1)")
    Integer accumulation;

    @Option(names = "--warmup", paramLabel = "R", description = "warm-up fraction of the steps (default: 0.03)")
    Double warmup;

    @Option(names = "--weight-decay", paramLabel = "W", description = "AdamW weight decay (default: 0)")
    Double weightDecay;

    @Option(names = "--clip", paramLabel = "N", description = "global gradient norm bound, 0 = none (default: 1)")
    Double clip;

    @Option(names = "--label-smoothing", paramLabel = "E", description = "AR label smoothing (default: 0.1)")
    Double labelSmoothing;

    @Option(names = "--seed", paramLabel = "S", description = "shuffling, sampling and initial weights (default: 42)")
    Long seed;

    @Option(names = "--save-every", paramLabel = "N", description = "checkpoint every N steps, 0 = at the end only "
            + "(default: 500)")
    Long saveEvery;

    @Option(names = "--threads", paramLabel = "N", description = "libtorch intra-op threads of this process "
            + "(default: chosen at the first model load; the result of training depends on it: the summation order "
            + "of the matrix products changes with the threads)")
    Integer threads;

    @Option(names = "--blas-threads", paramLabel = "N", description = "OpenBLAS threads of this process (default: "
            + "chosen at the first model load; like --threads, it changes the result in the last bits, which grows "
            + "over training)")
    Integer blasThreads;

    /** Sets this process's libtorch/OpenBLAS threads if {@code --threads} or {@code --blas-threads} was given. */
    void applyThreads() {
        if ((threads != null && threads < 1) || (blasThreads != null && blasThreads < 1)) {
            throw new IllegalArgumentException("--threads and --blas-threads must be >= 1, got " + threads + " and "
                    + blasThreads);
        }
        ModelOptions.setThreads(threads, blasThreads);
    }

    @Option(names = "--max-seq-len", paramLabel = "L", description = "skip longer examples; Jacobi Forcing splits "
            + "longer packed answers (default: 2048)")
    Integer maxSequenceLength;

    @Option(names = "--save-dtype", defaultValue = "f32", paramLabel = "TYPE",
            description = "precision of the saved weights: f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String saveDtype;

    @Option(names = "--device", defaultValue = "cpu", paramLabel = "DEV",
            description = "cpu, cuda, cuda:N or auto (default: ${DEFAULT-VALUE}); training computes in fp32")
    String device;

    /** Applies the options given on the command line to {@code b}. */
    TrainingConfig.Builder apply(TrainingConfig.Builder b) {
        if (steps != null) {
            b.maxSteps(steps);
        }
        if (epochs != null) {
            b.epochs(epochs);
        }
        if (lr != null) {
            b.learningRate(lr);
        }
        if (batch != null) {
            b.batchSize(batch);
        }
        if (accumulation != null) {
            b.gradientAccumulation(accumulation);
        }
        if (warmup != null) {
            b.warmupRatio(warmup);
        }
        if (weightDecay != null) {
            b.weightDecay(weightDecay);
        }
        if (clip != null) {
            b.maxGradNorm(clip);
        }
        if (labelSmoothing != null) {
            b.labelSmoothing(labelSmoothing);
        }
        if (seed != null) {
            b.seed(seed);
        }
        if (saveEvery != null) {
            b.saveEvery(saveEvery);
        }
        if (maxSequenceLength != null) {
            b.maxSequenceLength(maxSequenceLength);
        }
        return b;
    }

    ComputeDtype storage() {
        return ComputeDtype.parse(saveDtype);
    }

    /**
     * Trains, then prints {@code summary} of the result as one JSON line (on rank 0 alone, in a distributed job). On
     * Ctrl-C or SIGTERM the trainer finishes the step in flight, saves, and the summary is printed before the JVM
     * exits ({@link GracefulShutdown}).
     */
    static int trainAndReport(TorchConsistencyTrainer trainer, Rendezvous job,
                              java.util.function.Function<TrainingSummary, ObjectNode> summary) throws Exception {
        return GracefulShutdown.run(trainer.toString(), trainer::requestStop, GracefulShutdown.DEFAULT_WAIT, () -> {
            TrainingSummary s = trainer.train();
            if (DistributedOptions.reports(job)) {
                System.out.println(JSON.writeValueAsString(summary.apply(s)));
            }
            return 0;
        });
    }
}
