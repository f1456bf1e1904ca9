package dev.cllm.train;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Lets a long job finish its unit of work when the JVM is asked to stop (SIGINT from Ctrl-C, SIGTERM from a
 * scheduler's preemption): while {@link #run} runs the work, a shutdown hook calls {@code onShutdown} (for training,
 * {@link TorchConsistencyTrainer#requestStop()}: stop after the current step and save) and holds the JVM's exit until
 * the work has returned, up to a bound. Whatever the work does before returning, printing its result included, happens
 * before the JVM exits; the exit status is then the signal's (130, 143), as for any terminated JVM.
 */
public final class GracefulShutdown {
    private static final Logger LOG = LoggerFactory.getLogger(GracefulShutdown.class);
    /** The default bound on how long a shutdown waits for the work. */
    public static final Duration DEFAULT_WAIT = Duration.ofMinutes(5);

    private GracefulShutdown() {
    }

    /**
     * Runs {@code work} with the hook installed, and removes it afterwards.
     *
     * @param what       names the job in the log line a shutdown writes
     * @param onShutdown called once, from the hook's thread, when the JVM begins to shut down
     * @param wait       how long the shutdown waits for {@code work} to return
     */
    public static <T> T run(String what, Runnable onShutdown, Duration wait, Callable<T> work) throws Exception {
        CountDownLatch finished = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            LOG.warn("{}: shutting down: stopping after the current step and saving", what);
            onShutdown.run();
            try {
                if (!finished.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
                    LOG.error("{}: did not finish within {} s of the shutdown; its last checkpoint stays", what,
                            wait.toSeconds());
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "cllm-graceful-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return work.call();
        } finally {
            finished.countDown();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running; it has what it waited for
            }
        }
    }
}
