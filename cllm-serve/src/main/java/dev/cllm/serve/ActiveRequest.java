package dev.cllm.serve;

import dev.cllm.api.Decoder;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;

import java.util.concurrent.CompletableFuture;

/**
 * A request inside the service, from submission to its result: what to decode, the KV cache it reserves, its deadline
 * and future, and where it is (queued, active, done). The mutable fields are guarded by the service's lock, except
 * {@link #aborted}, which the worker reads without it. Its outcome is settled once, under the lock, by whoever comes
 * first: the worker (result or error) or the service (cancel, timeout, shutdown).
 */
final class ActiveRequest {
    enum State { QUEUED, ACTIVE, DONE }

    final long id;
    final TokenIds prompt;
    final GenerationConfig config;
    final Decoder decoder;
    final GenerationListener listener;
    final int capacity;
    final long kvBytes;
    final long submittedNanos;
    final long deadlineNanos;       // Long.MAX_VALUE: none
    final RequestFuture future;

    State state = State.QUEUED;
    boolean settled;                // its outcome is decided (result, error, or ended): counted once, completed once
    PendingPass waiting;            // the pass this request's worker waits for, while queued for a step
    volatile RequestAbortedException aborted;

    ActiveRequest(long id, TokenIds prompt, GenerationConfig config, Decoder decoder, GenerationListener listener,
                  int capacity, long kvBytes, long submittedNanos, long deadlineNanos, GenerationService service) {
        this.id = id;
        this.prompt = prompt;
        this.config = config;
        this.decoder = decoder;
        this.listener = listener;
        this.capacity = capacity;
        this.kvBytes = kvBytes;
        this.submittedNanos = submittedNanos;
        this.deadlineNanos = deadlineNanos;
        this.future = new RequestFuture(service, this);
    }

    /** @throws RequestAbortedException once the request is cancelled, timed out or shut down */
    void throwIfAborted() {
        RequestAbortedException e = aborted;
        if (e != null) {
            throw e;
        }
    }

    @Override
    public String toString() {
        return "request " + id;
    }

    /** The future a caller holds: cancelling it cancels the request. */
    static final class RequestFuture extends CompletableFuture<Generation> {
        private final GenerationService service;
        private final ActiveRequest request;

        RequestFuture(GenerationService service, ActiveRequest request) {
            this.service = service;
            this.request = request;
        }

        /** Cancels the request: it leaves the queue, or its decoding stops after the pass in flight and its cache is
         *  freed. */
        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            if (!service.abort(request, RequestAbortedException.Reason.CANCELLED, request + " was cancelled")) {
                return false;                       // it already has its outcome
            }
            return super.cancel(mayInterruptIfRunning);
        }
    }
}
