package dev.cllm.serve;

/**
 * A request the service accepted and then ended before it finished: the exception its future completes with (a
 * request cancelled through its future completes with the future's own {@link java.util.concurrent.CancellationException}
 * instead). Tokens already delivered to its listener stay delivered; no more follow.
 */
public final class RequestAbortedException extends RuntimeException {
    /** Why a request was ended. */
    public enum Reason {
        /** Its timeout passed (in the queue or while decoding). */
        TIMEOUT,
        /** It was cancelled ({@code future.cancel}). */
        CANCELLED,
        /** The service was shut down with {@link GenerationService#shutdownNow()} (or a {@code close()} whose grace
         *  period ran out) before it finished. */
        SHUTDOWN
    }

    private final Reason reason;

    RequestAbortedException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    /** Why the request was ended. */
    public Reason reason() {
        return reason;
    }
}
