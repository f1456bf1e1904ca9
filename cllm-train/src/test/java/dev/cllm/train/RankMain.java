package dev.cllm.train;

import dev.cllm.data.TrajectoryReader;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.train.Rendezvous;

import java.nio.file.Path;
import java.time.Duration;

/**
 * One rank of a data-parallel training job, as a child process of {@link DistributedTrainingTest}:
 * {@code BASE DATA OUT WORLD RANK PORT STEPS SAVE_EVERY TIMEOUT_MS [CRASH_AT_STEP]}. Prints {@code done STEPS} on
 * success; on failure prints the exception's message to stderr and exits with 1. With {@code CRASH_AT_STEP}, rank 0's
 * evaluator throws at that step (after the checkpoint of that step, as a crash would leave it).
 */
public final class RankMain {
    private RankMain() {
    }

    public static void main(String[] args) {
        try {
            Path base = Path.of(args[0]);
            Path data = Path.of(args[1]);
            Path out = Path.of(args[2]);
            int world = Integer.parseInt(args[3]);
            int rank = Integer.parseInt(args[4]);
            int port = Integer.parseInt(args[5]);
            TrainingConfig config = DistributedTrainingTest.config(Long.parseLong(args[6]), Long.parseLong(args[7]));
            long crashAt = args.length > 9 ? Long.parseLong(args[9]) : -1;
            TorchConsistencyTrainer trainer = TorchConsistencyTrainer.builder().baseModel(base)
                    .evaluator((model, step) -> {
                        if (step == crashAt) {
                            throw new IllegalStateException("simulated crash at step " + step);
                        }
                        return java.util.Map.of();
                    })
                    .trajectories(TrajectoryReader.readAll(data), "tiny trajectories").config(config).output(out)
                    .logInterval(Duration.ofMillis(1))
                    .distributed(new Rendezvous(world, rank, "127.0.0.1", port,
                            Duration.ofMillis(Long.parseLong(args[8]))))
                    .build();
            GracefulShutdown.run(out.toString(), trainer::requestStop, GracefulShutdown.DEFAULT_WAIT, () -> {
                TrainingSummary s = trainer.train();
                System.out.println("done " + s.steps());
                return s;
            });
            System.exit(0);
        } catch (Throwable t) {
            System.err.println("FAILED: " + t.getMessage());
            t.printStackTrace();
            System.exit(1);
        }
    }
}
