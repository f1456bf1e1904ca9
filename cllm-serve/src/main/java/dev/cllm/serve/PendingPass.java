package dev.cllm.serve;

import dev.cllm.api.BatchPass;

/**
 * One session pass handed to the scheduler: the worker that submitted it waits in {@link #await()} until the
 * scheduler completes it with the selected tokens, or the service fails it (an aborted request). Completed once; later
 * completions are ignored.
 */
final class PendingPass {
    final ActiveRequest request;
    final BatchPass pass;
    private int[] result;
    private RuntimeException error;
    private boolean done;

    PendingPass(ActiveRequest request, BatchPass pass) {
        this.request = request;
        this.pass = pass;
    }

    synchronized void complete(int[] tokens) {
        if (!done) {
            result = tokens;
            done = true;
            notifyAll();
        }
    }

    synchronized void fail(RuntimeException e) {
        if (!done) {
            error = e;
            done = true;
            notifyAll();
        }
    }

    /**
     * Waits for the result. Not interruptible: a request ends through the service (cancel, timeout, shutdown), which
     * fails the pass.
     *
     * @throws RuntimeException the error the pass failed with
     */
    synchronized int[] await() {
        boolean interrupted = false;
        while (!done) {
            try {
                wait();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (error != null) {
            throw error;
        }
        return result;
    }
}
