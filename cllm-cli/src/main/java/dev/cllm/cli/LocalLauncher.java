package dev.cllm.cli;

import dev.cllm.torch.TorchRuntime;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code --local-processes W}: runs the same command as a job of W processes on this machine, rank r with
 * {@code --world-size W --rank r --master 127.0.0.1:PORT} (a free port), and waits for all of them.
 *
 * <p>Each process sees 1/W of the cores ({@code -XX:ActiveProcessorCount}), so the per-dtype thread defaults split
 * the machine instead of oversubscribing it. Rank 0's standard output is this process's; everything else (every
 * rank's log, the other ranks' output) goes to standard error with a {@code [rank r]} prefix. When a rank fails, the
 * others get the rendezvous timeout plus 30 s to fail on their own (they report what they saw), then are killed;
 * the exit status is 2 if the first failing rank refused its input, else 1. Stopping the launcher stops the job (each
 * rank gets SIGTERM and a minute to save). Each process gets {@code LOCAL_RANK=r}, so {@code --device cuda} puts rank
 * r on GPU r.
 */
final class LocalLauncher {
    /** How long a stopped rank gets (SIGTERM: it saves a checkpoint and exits) before it is killed. */
    private static final long STOP_GRACE_SECONDS = 60;
    private final int processes;
    private final Duration timeout;
    private final PrintStream out;
    private final PrintStream err;

    LocalLauncher(int processes, Duration timeout) {
        this(processes, timeout, System.out, System.err);
    }

    /** A launcher that prints rank 0's results to {@code out} and everything else to {@code err}. */
    LocalLauncher(int processes, Duration timeout, PrintStream out, PrintStream err) {
        this.processes = processes;
        this.timeout = timeout;
        this.out = out;
        this.err = err;
    }

    int run(List<String> originalArgs) throws InterruptedException {
        // Unpack the native libraries here, once, before any rank starts: on a fresh machine (empty JavaCPP cache) W
        // processes unpacking libtorch into the same cache at once crash in the dynamic loader (SIGBUS, seen with
        // `collect --local-processes 2` as the first command on a new machine).
        TorchRuntime.ensureLoaded();
        int port = freePort();
        List<String> jvm = jvmCommand();
        List<String> args = withoutLaunchOption(originalArgs);
        List<Process> ranks = new java.util.concurrent.CopyOnWriteArrayList<>();   // the shutdown hook reads it
        List<Thread> pumps = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread stopper = new Thread(() -> {   // the launcher is stopped: stop the ranks, pass on their last words
            stopAll(ranks);
            drain(pumps);
        }, "cllm-launcher-stop");
        Runtime.getRuntime().addShutdownHook(stopper);
        try {
            for (int r = 0; r < processes; r++) {
                List<String> cmd = new ArrayList<>(jvm);
                cmd.addAll(args);
                cmd.addAll(List.of("--world-size", Integer.toString(processes), "--rank", Integer.toString(r),
                        "--master", "127.0.0.1:" + port));
                Process p;
                try {
                    ProcessBuilder pb = new ProcessBuilder(cmd);
                    pb.environment().put("LOCAL_RANK", Integer.toString(r));   // one GPU per process with --device cuda
                    p = pb.start();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot start rank " + r + ": " + e.getMessage(), e);
                }
                ranks.add(p);
                String prefix = "[rank " + r + "] ";
                pumps.add(r == 0 ? pumpResults(p.getInputStream(), prefix) : pumpToErr(p.getInputStream(), prefix));
                pumps.add(pumpToErr(p.getErrorStream(), prefix));
            }
            err.println("started " + processes + " processes (pids " + ranks.stream().map(p -> Long.toString(
                    p.pid())).toList() + "), rendezvous at 127.0.0.1:" + port);
            int status = await(ranks);
            drain(pumps);
            return status;
        } finally {
            stopAll(ranks);
            try {
                Runtime.getRuntime().removeShutdownHook(stopper);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or has run
            }
        }
    }

    /** Waits for every rank; after the first failure, gives the rest the timeout plus 30 s, then kills them. */
    private int await(List<Process> ranks) throws InterruptedException {
        int status = 0;
        int firstFailure = -1;
        long deadline = Long.MAX_VALUE;
        boolean[] reported = new boolean[ranks.size()];
        while (true) {
            boolean running = false;
            for (int r = 0; r < ranks.size(); r++) {
                Process p = ranks.get(r);
                if (p.isAlive()) {
                    running = true;
                } else if (!reported[r]) {
                    reported[r] = true;
                    int code = p.exitValue();
                    if (code != 0) {
                        err.println("rank " + r + " exited with status " + code
                                + (code > 128 ? " (killed by signal " + (code - 128) + ")" : ""));
                        if (firstFailure < 0) {
                            firstFailure = r;
                            status = code == Cli.BAD_INPUT ? Cli.BAD_INPUT : Cli.FAILURE;
                            deadline = System.nanoTime() + timeout.plusSeconds(30).toNanos();
                        }
                    }
                }
            }
            if (!running) {
                return status;
            }
            if (System.nanoTime() > deadline) {
                err.println("rank " + firstFailure + " failed and the others did not stop within "
                        + timeout.plusSeconds(30).toSeconds() + " s: killing them");
                stopAll(ranks);
            }
            Thread.sleep(100);
        }
    }

    /** Waits (a bounded time) until the output of the exited ranks has been passed on. */
    private static void drain(List<Thread> pumps) {
        for (Thread t : pumps) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static void stopAll(List<Process> ranks) {
        for (Process p : ranks) {
            p.toHandle().destroy();   // SIGTERM; Process.destroy would also close the pipes and lose its last words
        }
        for (Process p : ranks) {
            try {
                if (!p.waitFor(STOP_GRACE_SECONDS, TimeUnit.SECONDS)) {   // time to save a checkpoint
                    p.destroyForcibly();
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** This JVM's command line up to the main class, with each rank's share of the cores. */
    private List<String> jvmCommand() {
        String java = ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        int cores = Math.max(1, Runtime.getRuntime().availableProcessors() / processes);
        List<String> cmd = new ArrayList<>(List.of(java));
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib") && !a.startsWith("-javaagent") && !a.startsWith("-Xrunjdwp")
                    && !a.startsWith("-XX:ActiveProcessorCount")) {
                cmd.add(a);
            }
        }
        cmd.add("-XX:ActiveProcessorCount=" + cores);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Cli.class.getName()));
        return cmd;
    }

    /** The original arguments without {@code --local-processes W} (or {@code --local-processes=W}). */
    static List<String> withoutLaunchOption(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--local-processes")) {
                i++;
            } else if (!a.startsWith("--local-processes=")) {
                out.add(a);
            }
        }
        return out;
    }

    private Thread pumpToErr(InputStream in, String prefix) {
        return pump(in, line -> print(err, prefix + line));
    }

    /**
     * Rank 0's standard output becomes ours, except Gloo's own connection notices, which its C++ code prints to
     * standard output: those go to standard error with the other logs, so that ours stays the command's result.
     */
    private Thread pumpResults(InputStream in, String prefix) {
        return pump(in, line -> {
            if (line.startsWith("[Gloo]")) {
                print(err, prefix + line);
            } else {
                print(out, line);
            }
        });
    }

    private static void print(PrintStream to, String line) {
        synchronized (to) {
            to.println(line);
        }
    }

    private static Thread pump(InputStream in, java.util.function.Consumer<String> sink) {
        Thread t = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    sink.accept(line);
                }
            } catch (IOException e) {
                // the process is gone; its output ends here
            }
        }, "cllm-launcher-output");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("no free local port for the rendezvous", e);
        }
    }
}
