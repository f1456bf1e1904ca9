package dev.cllm.serve;

import java.util.concurrent.RejectedExecutionException;

/**
 * A request the service did not accept: thrown by {@link GenerationService#submit} at once, naming the limit it hit.
 * Nothing of the request ran.
 */
public final class RequestRejectedException extends RejectedExecutionException {
    /** The limit a rejected request hit. */
    public enum Limit {
        /** {@link GenerationService.Builder#maxQueued}: too many requests are already waiting. */
        QUEUE_FULL,
        /** {@link GenerationService.Builder#maxNewTokens}: the request asks for more new tokens than the cap. */
        MAX_NEW_TOKENS,
        /** {@link GenerationService.Builder#maxKvBytes}: the request's KV cache alone is larger than the cap. */
        KV_MEMORY,
        /** The service is shutting down or shut down. */
        SHUT_DOWN
    }

    private final Limit limit;

    RequestRejectedException(Limit limit, String message) {
        super(message);
        this.limit = limit;
    }

    /** Which limit the request hit. */
    public Limit limit() {
        return limit;
    }
}
