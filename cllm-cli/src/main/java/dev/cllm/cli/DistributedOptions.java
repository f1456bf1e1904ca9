package dev.cllm.cli;

import dev.cllm.train.Rendezvous;
import dev.cllm.torch.TorchRuntime;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Options of the commands that run as a data-parallel job ({@code train}, {@code pretrain}, {@code collect}): one
 * rank per process, configured by options or by torchrun-style environment variables, or {@code --local-processes}
 * to start the whole job on this machine.
 */
final class DistributedOptions {
    @Option(names = "--world-size", paramLabel = "W", description = "processes in the job (default: 1, or "
            + "$WORLD_SIZE)")
    Integer worldSize;

    @Option(names = "--rank", paramLabel = "R", description = "this process's rank, 0..W-1 (default: $RANK); rank 0 "
            + "serves the rendezvous and writes the output")
    Integer rank;

    @Option(names = "--master", paramLabel = "ADDR:PORT", description = "rank 0's address and a free port "
            + "(default: $MASTER_ADDR:$MASTER_PORT)")
    String master;

    @Option(names = "--local-processes", paramLabel = "W", description = "start a job of W processes on this "
            + "machine (loopback; each process gets 1/W of the cores) and wait for it")
    Integer localProcesses;

    @Option(names = "--dist-timeout", paramLabel = "SECONDS", defaultValue = "300", description = "how long a rank "
            + "waits for the others before it fails (default: ${DEFAULT-VALUE})")
    long timeoutSeconds;

    private Map<String, String> environment = System.getenv();

    /** For tests: the environment the torchrun-style variables are read from. */
    DistributedOptions withEnvironment(Map<String, String> env) {
        this.environment = env;
        return this;
    }

    Duration timeout() {
        if (timeoutSeconds < 1) {
            throw new IllegalArgumentException("--dist-timeout must be at least 1 second, got " + timeoutSeconds);
        }
        return Duration.ofSeconds(timeoutSeconds);
    }

    /** Whether this process only launches the job ({@code --local-processes}). */
    boolean launchesLocally() {
        if (localProcesses == null) {
            return false;
        }
        if (worldSize != null || rank != null || master != null) {
            throw new IllegalArgumentException("--local-processes starts the whole job; it does not combine with "
                    + "--world-size, --rank or --master");
        }
        if (localProcesses < 1) {
            throw new IllegalArgumentException("--local-processes must be at least 1, got " + localProcesses);
        }
        return true;
    }

    /** Starts the job on this machine and returns its exit status (see {@link LocalLauncher}). */
    int launch(CommandSpec spec) throws InterruptedException {
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        return new LocalLauncher(localProcesses, timeout()).run(args);
    }

    /**
     * This process's place in the job: from the options, else from {@code WORLD_SIZE}, {@code RANK},
     * {@code MASTER_ADDR} and {@code MASTER_PORT}; null for a single process (no options and no variables).
     */
    Rendezvous rendezvous() {
        Duration timeout = timeout();
        if (worldSize == null && rank == null && master == null) {
            return Rendezvous.fromEnvironment(environment, timeout);
        }
        if (worldSize == null || rank == null || master == null) {
            throw new IllegalArgumentException("a distributed run needs all of --world-size, --rank and --master "
                    + "(or WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT)");
        }
        return Rendezvous.of(worldSize, rank, master, timeout);
    }

    /**
     * The device this rank computes on: in a job, {@code auto} is first resolved ({@code cuda} when CUDA is there,
     * else {@code cpu}), then {@code cuda} becomes {@code cuda:$LOCAL_RANK} when the job sets {@code LOCAL_RANK}
     * (torchrun does, and so does {@code --local-processes}): one GPU per process. Other values are used as given.
     */
    String device(String requested, Rendezvous job) {
        if (job == null) {
            return requested;
        }
        String device = requested.equals("auto") ? (TorchRuntime.cudaAvailable() ? "cuda" : "cpu") : requested;
        String local = environment.get("LOCAL_RANK");
        if (!device.equals("cuda") || local == null || local.isBlank()) {
            return device;
        }
        try {
            return "cuda:" + Integer.parseInt(local.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("environment variable LOCAL_RANK='" + local + "' is not a number");
        }
    }

    /** Whether this process prints the command's result (rank 0, or a single process). */
    static boolean reports(Rendezvous job) {
        return job == null || job.isLeader();
    }
}
