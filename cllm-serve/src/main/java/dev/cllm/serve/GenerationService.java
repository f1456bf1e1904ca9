package dev.cllm.serve;

import dev.cllm.api.BatchPass;
import dev.cllm.api.BatchedForward;
import dev.cllm.api.ChatMessage;
import dev.cllm.api.ChatTemplate;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.PassResult;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.jacobi.JacobiDecoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serves many generation requests at once on one model: every step, the forward passes of all active requests run
 * as one batched pass ({@link BatchedForward}), so the weights are read once per step instead of once per request.
 *
 * <pre>{@code
 * try (ConsistencyModel model = TorchConsistencyModel.load(dir);
 *      GenerationService service = GenerationService.builder(model).maxActive(16).build()) {
 *     CompletableFuture<Generation> f = service.submit(GenerationRequest.ids(prompt).build());
 *     Generation g = f.join();          // the same ids as decoding the prompt alone
 * }
 * }</pre>
 *
 * <p><b>How.</b> Each admitted request runs its {@link Decoder} unchanged on a worker thread, against a session of its
 * own (its own KV cache) whose passes are handed to the scheduler thread and block until done. The scheduler forms a
 * step when every active request has handed in its pass, or a bounded wait after the first one did (so a slow
 * request, such as one whose listener blocks, delays only itself; a pass that arrived while the previous step ran
 * waits from that step's end, so a request that missed one step joins the others again in the next), runs the step
 * as one batched forward, and wakes the workers. The wait is a quarter of the recent steps' duration by default (a
 * pass that misses a step waits a whole step, so waiting a fraction of one for it pays on models whose steps are long,
 * and costs next to nothing on small ones), or the builder's fixed {@code maxWait}. Requests join and leave between
 * steps (continuous batching). Each request's tokens are computed as if it ran alone (see {@link BatchedForward}): same
 * ids as decoding it alone, greedy or with the same seed, up to floating-point rounding in the batched matrix
 * products.
 *
 * <p><b>Limits.</b> At most {@code maxActive} requests decode at once; more wait in a FIFO queue of at most
 * {@code maxQueued}, beyond which {@link #submit} throws {@link RequestRejectedException} ({@code QUEUE_FULL}); a
 * request asking for more than {@code maxNewTokens} new tokens is rejected ({@code MAX_NEW_TOKENS}). Each
 * request reserves a KV cache of {@code prompt + maxNewTokens + decoder scratch} positions (the model's context at
 * most); the reservations of active requests never exceed {@code maxKvBytes}: a request that would is held in the
 * queue, one that could never fit is rejected ({@code KV_MEMORY}). A request's timeout runs from submission; when it
 * passes, its future fails with {@link RequestAbortedException} ({@code TIMEOUT}), as when it is cancelled through
 * its future (then {@link java.util.concurrent.CancellationException}); either way its pass in flight finishes, no
 * further pass runs, and its cache is freed. A request whose decoder or listener throws fails alone.
 *
 * <p><b>Shutdown.</b> {@link #shutdown()} stops accepting and lets queued and active requests finish;
 * {@link #shutdownNow()} ends them with {@code SHUTDOWN}; {@link #close()} shuts down, waits up to the builder's
 * {@code shutdownGrace}, then ends what is left. The model stays the caller's: close the service first.
 *
 * <p>Thread-safe: any thread may submit, cancel and shut down.
 */
public final class GenerationService implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationService.class);
    private static final AtomicInteger SERVICES = new AtomicInteger();
    /** The adaptive wait: this fraction of the recent steps' mean duration ... */
    static final double ADAPTIVE_WAIT_FRACTION = 0.25;
    /** ... within these bounds. */
    static final long MIN_ADAPTIVE_WAIT_NANOS = TimeUnit.MICROSECONDS.toNanos(100);
    static final long MAX_ADAPTIVE_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
    /** The weight of the newest step in {@link #stepNanosAverage}. */
    private static final double STEP_AVERAGE_WEIGHT = 0.1;

    private final ConsistencyModel model;
    private final BatchedForward engine;
    private final Decoder decoder;
    private final int maxActive;
    private final int maxQueued;
    private final int maxNewTokens;
    private final long maxKvBytes;
    /** The fixed wait for a step's missing passes; negative: adaptive ({@link #ADAPTIVE_WAIT_FRACTION} of a step). */
    private final long maxWaitNanos;
    private final Duration timeout;
    private final Duration shutdownGrace;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<ActiveRequest> queue = new ArrayDeque<>();
    private final Set<ActiveRequest> active = new LinkedHashSet<>();
    private final List<PendingPass> pending = new ArrayList<>();
    private final List<ActiveRequest> toFail = new ArrayList<>();   // ended, futures not yet failed
    private long firstPendingNanos;
    /** When the last step's forward returned (its results about to be handed out); meaningful once steps > 0. */
    private long lastStepEndNanos;
    /** Exponential moving average of the steps' wall time (the scheduler's own; read under the lock). */
    private long stepNanosAverage;
    private long kvInUse;
    private long nextId;
    private boolean shutdown;
    private boolean terminated;
    private long steps;
    private long passes;
    private long tokens;
    private long completed;
    private long failed;
    private long cancelled;
    private long timedOut;
    private long rejected;

    private final ExecutorService workers;
    private final Thread scheduler;

    private GenerationService(Builder b) {
        this.model = b.model;
        this.engine = b.engine != null ? b.engine : BatchedForward.of(b.model);
        this.decoder = b.decoder != null ? b.decoder : JacobiDecoder.builder().build();
        this.maxActive = b.maxActive;
        this.maxQueued = b.maxQueued;
        this.maxNewTokens = b.maxNewTokens;
        this.maxKvBytes = b.maxKvBytes;
        this.maxWaitNanos = b.maxWait == null ? -1 : b.maxWait.toNanos();
        this.timeout = b.timeout;
        this.shutdownGrace = b.shutdownGrace;
        int n = SERVICES.incrementAndGet();
        AtomicInteger workerCount = new AtomicInteger();
        this.workers = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "cllm-serve-" + n + "-worker-" + workerCount.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.scheduler = new Thread(this::schedule, "cllm-serve-" + n + "-scheduler");
        this.scheduler.setDaemon(true);
        this.scheduler.start();
    }

    /** A service over {@code model} (borrowed: the caller closes it, after the service). */
    public static Builder builder(ConsistencyModel model) {
        return new Builder(model);
    }

    /** The model this service decodes with (borrowed). */
    public ConsistencyModel model() {
        return model;
    }

    /** The decoder requests use unless they name their own. */
    public Decoder decoder() {
        return decoder;
    }

    // ------------------------------------------------------------------------------------------------ submitting

    /** Submits {@code prompt} with {@code config} and the service's decoder (see {@link #submit(GenerationRequest)}). */
    public CompletableFuture<Generation> submit(TokenIds prompt, GenerationConfig config) {
        return submit(GenerationRequest.ids(prompt).config(config).build());
    }

    /**
     * Submits a request. Returns at once; the future completes with the generation, or fails with
     * {@link RequestAbortedException} (timeout, shutdown) or the exception its decoding threw; cancelling it cancels
     * the request.
     *
     * @throws IllegalArgumentException  if the prompt is empty, holds ids outside the vocabulary, or leaves no room in
     *                                   the model's context for a new token; if the config asks for stop strings and
     *                                   the model has no tokenizer; if a chat request cannot be formatted
     * @throws IllegalStateException     if the request is text or chat and the model has no tokenizer
     * @throws RequestRejectedException  naming the limit: the queue is full, the request's KV cache alone exceeds the
     *                                   cap, or the service is shut down
     */
    public CompletableFuture<Generation> submit(GenerationRequest request) {
        Objects.requireNonNull(request, "request");
        long now = System.nanoTime();
        Decoder d = request.decoder() != null ? request.decoder() : decoder;
        GenerationConfig config = request.config() != null ? request.config() : d.defaults();
        TokenIds prompt = request.ids();
        if (request.text() != null) {
            prompt = TokenIds.of(tokenizer("a text prompt").encode(request.text()));
        } else if (request.messages() != null) {
            Tokenizer tokenizer = tokenizer("chat messages");
            ChatPrompt chat = ChatPrompt.of(tokenizer, request.messages());
            prompt = chat.ids();
            Set<Integer> stops = new LinkedHashSet<>(config.stopTokenIds());
            stops.addAll(chat.endOfTurnIds());
            config = config.toBuilder().stopTokenIds(stops).build();
        }
        int context = model.config().contextLength();
        if (prompt.isEmpty()) {
            throw new IllegalArgumentException("prompt is empty");
        }
        if (prompt.size() >= context) {
            throw new IllegalArgumentException("prompt of " + prompt.size() + " tokens leaves no room for a new token in"
                    + " the model's context of " + context + " positions");
        }
        model.config().checkTokenIds(prompt.toArray(), prompt.size(), "prompt");
        if (!config.stopStrings().isEmpty() && model.tokenizer().isEmpty()) {
            throw new IllegalArgumentException("stop strings need a tokenizer, and the model has none; use stop token "
                    + "ids");
        }
        long needed = (long) prompt.size() + config.maxNewTokens() + d.scratchPositions();
        int capacity = (int) Math.max(2, Math.min(context, needed));
        long kvBytes = engine.cacheBytes(capacity);
        Duration t = request.timeout() != null ? request.timeout() : timeout;
        long deadline = t == null ? Long.MAX_VALUE : now + Math.min(t.toNanos(), Long.MAX_VALUE / 4);
        lock.lock();
        try {
            if (shutdown) {
                rejected++;
                throw new RequestRejectedException(RequestRejectedException.Limit.SHUT_DOWN,
                        "the generation service is shut down and accepts no more requests");
            }
            if (config.maxNewTokens() > maxNewTokens) {
                rejected++;
                throw new RequestRejectedException(RequestRejectedException.Limit.MAX_NEW_TOKENS, "the request asks "
                        + "for max_new_tokens " + config.maxNewTokens() + ", more than the service's cap of "
                        + maxNewTokens + " (maxNewTokens)");
            }
            if (kvBytes > maxKvBytes) {
                rejected++;
                throw new RequestRejectedException(RequestRejectedException.Limit.KV_MEMORY, "the request needs "
                        + kvBytes + " bytes of KV cache (" + capacity + " positions: prompt " + prompt.size()
                        + " + max_new_tokens " + config.maxNewTokens() + " + decoder scratch " + d.scratchPositions()
                        + "), more than the service's cap of " + maxKvBytes + " bytes (maxKvBytes)");
            }
            boolean startsNow = queue.isEmpty() && active.size() < maxActive && kvInUse + kvBytes <= maxKvBytes;
            if (!startsNow && queue.size() >= maxQueued) {
                rejected++;
                throw new RequestRejectedException(RequestRejectedException.Limit.QUEUE_FULL, "the queue is full: "
                        + queue.size() + " requests are waiting (maxQueued " + maxQueued + "), " + active.size()
                        + " decoding (maxActive " + maxActive + ")");
            }
            ActiveRequest r = new ActiveRequest(++nextId, prompt, config, d, request.listener(), capacity, kvBytes,
                    now, deadline, this);
            queue.add(r);
            admit();
            changed.signalAll();
            return r.future;
        } finally {
            lock.unlock();
        }
    }

    private Tokenizer tokenizer(String what) {
        return model.tokenizer().orElseThrow(() -> new IllegalStateException("the model has no tokenizer, so it "
                + "cannot take " + what + "; pass token ids instead"));
    }

    // ------------------------------------------------------------------------------------------------ admission

    /** Starts queued requests, in order, while there is room (under the lock). */
    private void admit() {
        while (!queue.isEmpty() && active.size() < maxActive && !terminated) {
            ActiveRequest r = queue.peek();
            if (kvInUse + r.kvBytes > maxKvBytes) {
                return;                                   // first in, first out: the head waits for memory
            }
            queue.poll();
            r.state = ActiveRequest.State.ACTIVE;
            active.add(r);
            kvInUse += r.kvBytes;
            workers.execute(() -> decode(r));
        }
    }

    /**
     * A worker: runs the request's decoder on a service session, frees its cache, then completes its future (so a
     * caller that submits again on completion finds the room this request had).
     */
    private void decode(ActiveRequest r) {
        Generation g = null;
        Throwable error = null;
        DecodingSession session = null;
        try {
            r.throwIfAborted();
            session = new ServiceSession(this, r, model.newSession(r.capacity));
            g = r.decoder.generate(session, r.prompt, r.config, r.listener);
        } catch (Throwable t) {
            error = t;
        } finally {
            try {
                if (session != null) {
                    session.close();
                }
            } catch (RuntimeException e) {
                LOG.warn("{}: closing its session failed", r, e);
            }
            release(r);
        }
        if (error == null) {
            if (settle(r, false)) {
                r.future.complete(g);
            }
            return;
        }
        if (settle(r, true)) {                            // not when it was cancelled, timed out or shut down
            r.future.completeExceptionally(error);
        } else if (r.aborted == null) {
            LOG.debug("{}: its error after it was ended is dropped", r, error);
        }
        if (r.aborted == null && !(error instanceof RuntimeException)) {
            LOG.error("{} failed", r, error);
        }
    }

    /**
     * Decides a request's outcome once: the worker's result or error, unless the request was ended first. Counts it;
     * the caller completes the future after this returns (outside the lock).
     */
    private boolean settle(ActiveRequest r, boolean failed) {
        lock.lock();
        try {
            if (r.settled) {
                return false;
            }
            r.settled = true;
            if (failed) {
                this.failed++;
            } else {
                completed++;
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** The request's cache is freed: room for the next. */
    private void release(ActiveRequest r) {
        lock.lock();
        try {
            if (active.remove(r)) {
                kvInUse -= r.kvBytes;
            }
            r.state = ActiveRequest.State.DONE;
            admit();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------ steps

    /**
     * Hands a pass to the scheduler and waits for its step (called by a request's worker through its session).
     *
     * @throws RequestAbortedException when the request was ended
     */
    int[] pass(ActiveRequest r, BatchPass pass) {
        PendingPass p = new PendingPass(r, pass);
        lock.lock();
        try {
            r.throwIfAborted();
            if (pending.isEmpty()) {
                firstPendingNanos = System.nanoTime();
            }
            pending.add(p);
            r.waiting = p;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        int[] out = p.await();
        r.throwIfAborted();
        return out;
    }

    /** The scheduler thread: forms steps, runs them, and enforces deadlines, until shut down and drained. */
    private void schedule() {
        while (true) {
            List<PendingPass> step = nextStep();
            completeAborted();                         // those that timed out while it waited
            if (step == null) {
                return;
            }
            if (!step.isEmpty()) {
                run(step);
            }
        }
    }

    /** Waits for the next step's passes; null once the service is shut down and every request has ended. */
    private List<PendingPass> nextStep() {
        lock.lock();
        try {
            while (true) {
                long now = System.nanoTime();
                long nextDeadline = expire(now);
                if (!toFail.isEmpty()) {
                    return List.of();                      // fail their futures outside the lock first
                }
                admit();
                if (shutdown && queue.isEmpty() && active.isEmpty()) {
                    terminated = true;
                    changed.signalAll();
                    return null;
                }
                long waitNanos = nextDeadline == Long.MAX_VALUE ? TimeUnit.SECONDS.toNanos(1)
                        : Math.min(nextDeadline - now, TimeUnit.SECONDS.toNanos(1));
                if (!pending.isEmpty()) {
                    long waited = now - waitStartNanos();
                    long maxWait = currentMaxWaitNanos();
                    if (pending.size() >= active.size() || waited >= maxWait) {
                        List<PendingPass> step = new ArrayList<>(pending);
                        pending.clear();
                        for (PendingPass p : step) {
                            p.request.waiting = null;
                        }
                        return step;
                    }
                    waitNanos = Math.min(waitNanos, maxWait - waited);
                }
                if (waitNanos > 0) {
                    changed.awaitNanos(waitNanos);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("the scheduler was interrupted", e);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Since when the pending passes have been waiting for the others (under the lock): since the first arrived, or,
     * if it arrived while the previous step ran, since that step ended. Otherwise a pass that missed a step (and
     * arrived during the next one) would start its own step at once, one step out of phase with the others, and the
     * requests would alternate instead of batching for the rest of their lives.
     */
    private long waitStartNanos() {
        return steps > 0 && lastStepEndNanos - firstPendingNanos > 0 ? lastStepEndNanos : firstPendingNanos;
    }

    /** How long a step waits for missing passes after the first arrived (under the lock). */
    private long currentMaxWaitNanos() {
        if (maxWaitNanos >= 0) {
            return maxWaitNanos;
        }
        long adaptive = Math.round(ADAPTIVE_WAIT_FRACTION * stepNanosAverage);
        return Math.max(MIN_ADAPTIVE_WAIT_NANOS, Math.min(MAX_ADAPTIVE_WAIT_NANOS, adaptive));
    }

    /** Runs one step as one batched forward and hands each worker its result; a failing step fails only its passes. */
    private void run(List<PendingPass> step) {
        List<BatchPass> batch = new ArrayList<>(step.size());
        int stepTokens = 0;
        for (PendingPass p : step) {
            batch.add(p.pass);
            stepTokens += p.pass.size();
        }
        List<PassResult> results;
        long start = System.nanoTime();
        try {
            results = engine.forwardBatch(batch);
        } catch (RuntimeException | Error e) {
            LOG.error("a batched step of {} passes failed", step.size(), e);
            RuntimeException failure = e instanceof RuntimeException re ? re
                    : new IllegalStateException("the batched step failed: " + e, e);
            step.forEach(p -> p.fail(failure));
            return;
        }
        long took = System.nanoTime() - start;
        lock.lock();
        try {
            stepNanosAverage = steps == 0 ? took : Math.round(stepNanosAverage + STEP_AVERAGE_WEIGHT * (took
                    - stepNanosAverage));
            lastStepEndNanos = start + took;
            steps++;
            passes += step.size();
            tokens += stepTokens;
        } finally {
            lock.unlock();
        }
        for (int i = 0; i < step.size(); i++) {
            PassResult r = results.get(i);
            if (r.error() != null) {
                step.get(i).fail(r.error());
            } else {
                step.get(i).complete(r.selected().toArray());
            }
        }
    }

    /** Ends the requests whose deadline has passed; returns the next deadline (under the lock). */
    private long expire(long now) {
        long next = Long.MAX_VALUE;
        for (ActiveRequest r : new ArrayList<>(queue)) {
            next = expireOne(r, now, next);
        }
        for (ActiveRequest r : new ArrayList<>(active)) {
            next = expireOne(r, now, next);
        }
        return next;
    }

    private long expireOne(ActiveRequest r, long now, long next) {
        if (r.settled || r.deadlineNanos == Long.MAX_VALUE) {
            return next;
        }
        if (now - r.deadlineNanos >= 0) {
            abortLocked(r, RequestAbortedException.Reason.TIMEOUT, r + " timed out after "
                    + TimeUnit.NANOSECONDS.toMillis(now - r.submittedNanos) + " ms"
                    + (r.state == ActiveRequest.State.QUEUED ? " waiting in the queue" : " while decoding"));
            return next;
        }
        return Math.min(next, r.deadlineNanos);
    }

    /**
     * Ends a request (cancel, timeout, shutdown): out of the queue, or its worker stops at its next pass.
     *
     * @return whether this ended it (false when its outcome was already decided)
     */
    boolean abort(ActiveRequest r, RequestAbortedException.Reason reason, String message) {
        boolean ended;
        lock.lock();
        try {
            ended = abortLocked(r, reason, message);
        } finally {
            lock.unlock();
        }
        completeAborted();
        return ended;
    }

    /**
     * Marks a request ended and counts it (under the lock); its future is failed by {@link #completeAborted} after the
     * lock is released (a cancelled one by its own {@code cancel}), so that no caller's callback runs under the lock.
     */
    private boolean abortLocked(ActiveRequest r, RequestAbortedException.Reason reason, String message) {
        if (r.settled || r.state == ActiveRequest.State.DONE) {
            return false;                             // decided, or its worker is about to hand in its outcome
        }
        r.settled = true;
        RequestAbortedException e = new RequestAbortedException(reason, message);
        r.aborted = e;
        switch (reason) {
            case TIMEOUT -> timedOut++;
            case CANCELLED -> cancelled++;
            default -> failed++;
        }
        if (reason != RequestAbortedException.Reason.CANCELLED) {
            toFail.add(r);
        }
        if (r.state == ActiveRequest.State.QUEUED) {
            queue.remove(r);
            r.state = ActiveRequest.State.DONE;
        } else if (r.waiting != null && pending.remove(r.waiting)) {
            r.waiting.fail(e);                        // its worker wakes, unwinds and frees its cache
            r.waiting = null;
        }
        changed.signalAll();
        return true;
    }

    /** Fails the futures of the requests ended since the last call (outside the lock). */
    private void completeAborted() {
        List<ActiveRequest> ended;
        lock.lock();
        try {
            if (toFail.isEmpty()) {
                return;
            }
            ended = new ArrayList<>(toFail);
            toFail.clear();
        } finally {
            lock.unlock();
        }
        for (ActiveRequest r : ended) {
            r.future.completeExceptionally(r.aborted);
        }
    }

    // ------------------------------------------------------------------------------------------------ state

    /** A snapshot of the queue, the active requests and the counters. */
    public ServiceStats stats() {
        lock.lock();
        try {
            return new ServiceStats(queue.size(), active.size(), kvInUse, steps, passes, tokens, completed, failed,
                    cancelled, timedOut, rejected);
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------------------------------------ shutdown

    /** Stops accepting requests; those queued and active go on to their results. Idempotent. */
    public void shutdown() {
        lock.lock();
        try {
            shutdown = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops accepting requests and ends every queued and active one with {@link RequestAbortedException}
     * ({@code SHUTDOWN}); active ones stop after their pass in flight. Idempotent.
     *
     * @return the number of requests ended
     */
    public int shutdownNow() {
        lock.lock();
        try {
            shutdown = true;
            List<ActiveRequest> all = new ArrayList<>(queue);
            all.addAll(active);
            int ended = 0;
            for (ActiveRequest r : all) {
                if (abortLocked(r, RequestAbortedException.Reason.SHUTDOWN, r + " was ended: the generation "
                        + "service was shut down before it finished")) {
                    ended++;
                }
            }
            changed.signalAll();
            return ended;
        } finally {
            lock.unlock();
            completeAborted();
        }
    }

    /**
     * Waits until every request has ended after a shutdown.
     *
     * @return whether it terminated within {@code limit}
     */
    public boolean awaitTermination(Duration limit) throws InterruptedException {
        long deadline = System.nanoTime() + limit.toNanos();
        lock.lock();
        try {
            while (!terminated) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                changed.awaitNanos(left);
            }
        } finally {
            lock.unlock();
        }
        scheduler.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
        return !scheduler.isAlive();
    }

    /** Whether the service is shut down and every request has ended. */
    public boolean isTerminated() {
        lock.lock();
        try {
            return terminated;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Shuts down, lets queued and active requests finish for up to the builder's {@code shutdownGrace}, ends the rest
     * with {@code SHUTDOWN}, and waits for their workers. Idempotent. Leaves the model open.
     */
    @Override
    public void close() {
        shutdown();
        boolean interrupted = false;
        try {
            if (!awaitTermination(shutdownGrace)) {
                shutdownNow();
                while (!awaitTermination(Duration.ofSeconds(10))) {
                    LOG.warn("generation service: still waiting for {} requests' passes in flight", stats().active());
                }
            }
        } catch (InterruptedException e) {
            interrupted = true;
            shutdownNow();
        }
        workers.shutdown();
        try {
            workers.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "GenerationService[" + model + ", " + decoder.name() + ", maxActive " + maxActive + "]";
    }

    /** Chat messages as a prompt: the checkpoint's template, or a single user message as plain text. */
    record ChatPrompt(TokenIds ids, Set<Integer> endOfTurnIds) {
        static ChatPrompt of(Tokenizer tokenizer, List<ChatMessage> messages) {
            ChatTemplate template = tokenizer.chatTemplate().orElse(null);
            if (template != null) {
                int[] ids = tokenizer.encodeWithoutSpecialTokens(template.render(messages, true));
                return new ChatPrompt(TokenIds.of(ids), template.endOfTurnIds(tokenizer));
            }
            if (messages.size() != 1 || !messages.get(0).role().equals("user")) {
                throw new IllegalArgumentException("this checkpoint has no chat template, so a chat request must be a "
                        + "single user message, whose text is the prompt; got " + messages.size() + " messages ("
                        + messages.stream().map(ChatMessage::role).toList() + ")");
            }
            return new ChatPrompt(TokenIds.of(tokenizer.encode(messages.get(0).content())), Set.of());
        }
    }

    /** Configures a {@link GenerationService}; {@link #build()} starts it. */
    public static final class Builder {
        private final ConsistencyModel model;
        private BatchedForward engine;
        private Decoder decoder;
        private int maxActive = 16;
        private int maxQueued = 256;
        private int maxNewTokens = Integer.MAX_VALUE;
        private long maxKvBytes = Long.MAX_VALUE;
        private Duration maxWait;                                   // null: adaptive
        private Duration timeout;
        private Duration shutdownGrace = Duration.ofSeconds(30);

        private Builder(ConsistencyModel model) {
            this.model = Objects.requireNonNull(model, "model");
        }

        /** The decoder of requests that name none (default: {@link JacobiDecoder} with its defaults). */
        public Builder decoder(Decoder value) {
            this.decoder = Objects.requireNonNull(value, "decoder");
            return this;
        }

        /**
         * What runs the steps (default: {@link BatchedForward#of} the model: one packed pass on cllm-torch's model,
         * one pass after another on others). {@link BatchedForward#sequential} measures the service without batching.
         */
        public Builder engine(BatchedForward value) {
            this.engine = Objects.requireNonNull(value, "engine");
            return this;
        }

        /** The most requests decoding at once: the most sessions in a step (default 16). */
        public Builder maxActive(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("maxActive must be >= 1, got " + value);
            }
            this.maxActive = value;
            return this;
        }

        /** The most requests waiting for admission; more are rejected (default 256; 0 rejects whatever cannot start
         *  at once). */
        public Builder maxQueued(int value) {
            if (value < 0) {
                throw new IllegalArgumentException("maxQueued must be >= 0, got " + value);
            }
            this.maxQueued = value;
            return this;
        }

        /** The most new tokens a request may ask for ({@link GenerationConfig#maxNewTokens()}); more are rejected
         *  (default: no cap but the model's context). */
        public Builder maxNewTokens(int value) {
            if (value < 1) {
                throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + value);
            }
            this.maxNewTokens = value;
            return this;
        }

        /**
         * The most bytes of KV cache the active requests may reserve together (default: no cap). A request's share is
         * its model's {@link BatchedForward#cacheBytes} for its capacity (unknown, so 0, for engines that cannot
         * tell).
         */
        public Builder maxKvBytes(long value) {
            if (value < 1) {
                throw new IllegalArgumentException("maxKvBytes must be >= 1, got " + value);
            }
            this.maxKvBytes = value;
            return this;
        }

        /**
         * A fixed time a step waits for the active requests that have not handed in their pass yet, after the first one
         * did. By default the wait adapts: a quarter of the recent steps' mean duration, between 0.1 and 50 ms (a
         * pass that misses a step waits a whole step, so the wait pays where steps are long and costs little where
         * they are short). Longer waits batch more when requests' host-side work varies; shorter ones bound what a
         * slow request costs the others.
         */
        public Builder maxWait(Duration value) {
            if (value.isNegative()) {
                throw new IllegalArgumentException("maxWait must be >= 0, got " + value);
            }
            this.maxWait = value;
            return this;
        }

        /** The timeout of requests that set none, from submission (default: none). */
        public Builder timeout(Duration value) {
            if (value.isNegative() || value.isZero()) {
                throw new IllegalArgumentException("timeout must be positive, got " + value);
            }
            this.timeout = value;
            return this;
        }

        /** How long {@link #close()} lets requests finish before ending them (default 30 s). */
        public Builder shutdownGrace(Duration value) {
            if (value.isNegative()) {
                throw new IllegalArgumentException("shutdownGrace must be >= 0, got " + value);
            }
            this.shutdownGrace = value;
            return this;
        }

        /** Starts the service (its scheduler thread). */
        public GenerationService build() {
            return new GenerationService(this);
        }
    }
}
