package dev.cllm.serve;

import dev.cllm.api.BatchPass;
import dev.cllm.api.BatchedForward;
import dev.cllm.api.Decoder;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.PassResult;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The service's limits and failure behaviour on a real checkpoint (stories260K): rejections name their limit, a
 * cancelled, timed-out or failing request ends alone and frees its cache, and closing the service with requests in
 * flight ends each with its result or a {@link RequestAbortedException}, never another error. Requests are held at a
 * known point by listeners that wait on latches.
 */
class ServiceLimitsTest {
    private static TorchConsistencyModel model;
    private static final Decoder AR = JacobiDecoder.autoregressive(GenerationConfig.DEFAULT_MAX_NEW_TOKENS);
    private static final Decoder JACOBI = JacobiDecoder.builder().blockSize(8).build();

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    static TokenIds prompt(int i) {
        return TokenIds.of(1, 404 + i, 475, 464 - i, 454, 275);
    }

    static GenerationConfig tokens(int n) {
        return GenerationConfig.builder().maxNewTokens(n).noStop().build();
    }

    static GenerationRequest request(int i, int newTokens, GenerationListener listener) {
        return GenerationRequest.ids(prompt(i)).decoder(JACOBI).config(tokens(newTokens)).listener(listener).build();
    }

    static Generation alone(int i, int newTokens) {
        return JACOBI.generate(model, prompt(i), tokens(newTokens), GenerationListener.NONE);
    }

    /** A listener that signals its first delivery, then waits for {@code release}. */
    static GenerationListener heldAfterFirst(CountDownLatch started, CountDownLatch release) {
        return accepted -> {
            started.countDown();
            ServedEqualsAloneTest.await(release);
            return true;
        };
    }

    static void await(CountDownLatch latch) throws InterruptedException {
        assertThat(latch.await(60, TimeUnit.SECONDS)).as("latch released within a minute").isTrue();
    }

    @Test
    void aFullQueueRejectsNamingTheLimitAndTheOthersGoOn() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (GenerationService service = GenerationService.builder(model).maxActive(1).maxQueued(1).build()) {
            CompletableFuture<Generation> a = service.submit(request(0, 24, heldAfterFirst(started, release)));
            await(started);
            CompletableFuture<Generation> b = service.submit(request(1, 24, GenerationListener.NONE));
            assertThat(service.stats().queued()).isEqualTo(1);
            assertThatThrownBy(() -> service.submit(request(2, 24, GenerationListener.NONE)))
                    .isInstanceOfSatisfying(RequestRejectedException.class,
                            e -> assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.QUEUE_FULL))
                    .hasMessageContaining("queue is full").hasMessageContaining("maxQueued 1")
                    .hasMessageContaining("maxActive 1");
            release.countDown();
            assertThat(a.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(0, 24).ids());
            assertThat(b.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(1, 24).ids());
            assertThat(service.stats().rejected()).isEqualTo(1);
        }
    }

    @Test
    void withoutAQueueWhatCannotStartAtOnceIsRejected() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (GenerationService service = GenerationService.builder(model).maxActive(1).maxQueued(0).build()) {
            CompletableFuture<Generation> a = service.submit(request(0, 16, heldAfterFirst(started, release)));
            await(started);
            assertThatThrownBy(() -> service.submit(request(1, 16, GenerationListener.NONE)))
                    .isInstanceOfSatisfying(RequestRejectedException.class,
                            e -> assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.QUEUE_FULL))
                    .hasMessageContaining("maxQueued 0");
            release.countDown();
            assertThat(a.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(0, 16).ids());
            CompletableFuture<Generation> b = service.submit(request(1, 16, GenerationListener.NONE));
            assertThat(b.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(1, 16).ids());
        }
    }

    @Test
    void tooManyNewTokensAndTooMuchKvMemoryAreRejectedNamingTheLimit() throws Exception {
        BatchedForward engine = BatchedForward.of(model);
        long oneRequest = engine.cacheBytes(prompt(0).size() + 24 + JACOBI.scratchPositions());
        assertThat(oneRequest).as("the torch model reports its cache size").isPositive();
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (GenerationService service = GenerationService.builder(model).maxNewTokens(100)
                .maxKvBytes(oneRequest + oneRequest / 2).build()) {
            assertThatThrownBy(() -> service.submit(request(0, 101, GenerationListener.NONE)))
                    .isInstanceOfSatisfying(RequestRejectedException.class,
                            e -> assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.MAX_NEW_TOKENS))
                    .hasMessageContaining("max_new_tokens 101").hasMessageContaining("cap of 100 (maxNewTokens)");
            assertThatThrownBy(() -> service.submit(request(0, 100, GenerationListener.NONE)))
                    .isInstanceOfSatisfying(RequestRejectedException.class,
                            e -> assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.KV_MEMORY))
                    .hasMessageContaining("bytes of KV cache").hasMessageContaining("(maxKvBytes)");

            // two requests that fit one at a time: the second waits in the queue for the first's cache
            CompletableFuture<Generation> a = service.submit(request(0, 24, heldAfterFirst(started, release)));
            await(started);
            CompletableFuture<Generation> b = service.submit(request(1, 24, GenerationListener.NONE));
            Thread.sleep(50);
            assertThat(service.stats().active()).isEqualTo(1);
            assertThat(service.stats().queued()).isEqualTo(1);
            assertThat(service.stats().kvBytesInUse()).isEqualTo(oneRequest);
            release.countDown();
            assertThat(a.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(0, 24).ids());
            assertThat(b.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(1, 24).ids());
            assertThat(service.stats().rejected()).isEqualTo(2);
        }
    }

    @Test
    void aCancelledRequestEndsAloneAndFreesItsCache() throws Exception {
        CountDownLatch started = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        List<Integer> streamed = Collections.synchronizedList(new ArrayList<>());
        GenerationService service = GenerationService.builder(model).build();
        CompletableFuture<Generation> victim = service.submit(request(0, 100, accepted -> {
            accepted.stream().forEach(streamed::add);
            started.countDown();
            ServedEqualsAloneTest.await(release);
            return true;
        }));
        CompletableFuture<Generation> other = service.submit(request(1, 60, GenerationListener.NONE));
        await(started);
        assertThat(victim.cancel(true)).isTrue();
        release.countDown();
        assertThat(other.get(60, TimeUnit.SECONDS).ids()).isEqualTo(alone(1, 60).ids());
        service.close();
        assertThat(victim).isCancelled();
        assertThatThrownBy(victim::join).isInstanceOf(CancellationException.class);
        ServiceStats stats = service.stats();
        assertThat(stats.cancelled()).isEqualTo(1);
        assertThat(stats.completed()).isEqualTo(1);
        assertThat(stats.active()).isZero();
        assertThat(stats.kvBytesInUse()).isZero();
        List<Integer> full = alone(0, 100).ids().stream().boxed().toList();
        assertThat(streamed).as("what the cancelled request streamed is a prefix of its output")
                .isNotEmpty().hasSizeLessThan(full.size()).isEqualTo(full.subList(0, streamed.size()));
    }

    @Test
    void aRequestPastItsTimeoutFailsNamingTheTimeout() {
        try (GenerationService service = GenerationService.builder(model).build()) {
            CompletableFuture<Generation> slow = service.submit(GenerationRequest.ids(prompt(0)).decoder(AR)
                    .config(tokens(200)).timeout(Duration.ofMillis(300)).listener(accepted -> {
                        sleep(20);
                        return true;
                    }).build());
            CompletableFuture<Generation> fast = service.submit(request(1, 20, GenerationListener.NONE));
            assertThatThrownBy(() -> slow.get(60, TimeUnit.SECONDS)).hasCauseInstanceOf(RequestAbortedException.class)
                    .cause().satisfies(e -> assertThat(((RequestAbortedException) e).reason())
                            .isEqualTo(RequestAbortedException.Reason.TIMEOUT))
                    .hasMessageContaining("timed out after").hasMessageContaining("while decoding");
            assertThat(fast.join().ids()).isEqualTo(alone(1, 20).ids());
            assertThat(service.stats().timedOut()).isEqualTo(1);
        }
    }

    /**
     * Steps made slow (60 ms, as on a real-size model) and one request whose listener takes 3 ms per delivery: the
     * adaptive wait (a quarter of a step) keeps that request in the others' steps, where a 0 ms wait leaves it out.
     */
    @Test
    void theAdaptiveWaitKeepsASlowishRequestInTheStepsOfLongSteps() {
        BatchedForward slow = sixtyMillisecondSteps();
        double adaptive = meanBatch(GenerationService.builder(model).engine(slow).decoder(AR),
                GenerationListener.NONE, sleeping(3));
        double none = meanBatch(GenerationService.builder(model).engine(slow).decoder(AR).maxWait(Duration.ZERO),
                GenerationListener.NONE, sleeping(3));
        System.out.printf("mean batch: adaptive wait %.2f, no wait %.2f%n", adaptive, none);
        assertThat(adaptive).as("mean batch with the adaptive wait (no wait: %.2f)", none).isGreaterThan(1.6)
                .isGreaterThan(none + 0.2);
    }

    /**
     * Steps of 60 ms and a request whose listener stalls 40 ms once (longer than the 15 ms wait): it misses one step
     * and arrives while the next one runs. It must join the other request again in the step after, not start its own
     * step as soon as that one ends (it has waited long enough by then) and stay out of phase, the two alternating
     * single-pass steps for the rest of the run.
     */
    @Test
    void aRequestThatMissesOneStepJoinsTheOthersAgainInTheNext() {
        AtomicInteger deliveries = new AtomicInteger();
        // the steady request takes 2 ms per delivery: the scheduler is always back before its next pass
        double mean = meanBatch(GenerationService.builder(model).engine(sixtyMillisecondSteps()).decoder(AR),
                sleeping(2), accepted -> {
                    if (deliveries.incrementAndGet() == 6) {
                        sleep(40);
                    }
                    return true;
                });
        System.out.printf("mean batch with one stall: %.2f%n", mean);
        // one stall costs about two single-pass steps (about 1.9); out of phase for good it would be about 1.1
        assertThat(mean).as("mean batch after one stalled delivery").isGreaterThan(1.7);
    }

    /** The model's batched forward made slow: 60 ms per step, as on a real-size model. */
    private static BatchedForward sixtyMillisecondSteps() {
        BatchedForward real = BatchedForward.of(model);
        return new BatchedForward() {
            @Override
            public List<PassResult> forwardBatch(List<BatchPass> passes) {
                ServiceLimitsTest.sleep(60);
                return real.forwardBatch(passes);
            }

            @Override
            public long cacheBytes(int capacity) {
                return real.cacheBytes(capacity);
            }
        };
    }

    /**
     * Two 32-token requests with these listeners through the service; each must give its tokens decoded alone.
     * Returns the service's mean batch.
     */
    private static double meanBatch(GenerationService.Builder builder, GenerationListener first,
                                    GenerationListener second) {
        try (GenerationService service = builder.build()) {
            CompletableFuture<Generation> a = service.submit(GenerationRequest.ids(prompt(0)).config(tokens(32))
                    .listener(first).build());
            CompletableFuture<Generation> b = service.submit(GenerationRequest.ids(prompt(1)).config(tokens(32))
                    .listener(second).build());
            assertThat(a.join().ids()).isEqualTo(alone(0, 32).ids());
            assertThat(b.join().ids()).isEqualTo(alone(1, 32).ids());
            return service.stats().meanBatchSize();
        }
    }

    /** A listener that takes {@code millis} per delivery. */
    private static GenerationListener sleeping(long millis) {
        return accepted -> {
            sleep(millis);
            return true;
        };
    }

    @Test
    void aFailingListenerFailsOnlyItsOwnRequest() {
        try (GenerationService service = GenerationService.builder(model).build()) {
            CompletableFuture<Generation> bad = service.submit(request(0, 40, accepted -> {
                throw new IllegalStateException("listener broke");
            }));
            CompletableFuture<Generation> good = service.submit(request(1, 40, GenerationListener.NONE));
            assertThatThrownBy(bad::join).isInstanceOf(CompletionException.class)
                    .hasRootCauseMessage("listener broke");
            assertThat(good.join().ids()).isEqualTo(alone(1, 40).ids());
            assertThat(service.stats().failed()).isEqualTo(1);
        }
    }

    @Test
    void closingWithRequestsInFlightEndsEachWithItsResultOrShutdown() throws Exception {
        int count = 8;
        List<CompletableFuture<Generation>> futures = new ArrayList<>();
        List<List<Integer>> streams = new ArrayList<>();
        CountDownLatch someStarted = new CountDownLatch(2);
        GenerationService service = GenerationService.builder(model).maxActive(4).shutdownGrace(Duration.ZERO)
                .build();
        for (int i = 0; i < count; i++) {
            List<Integer> stream = Collections.synchronizedList(new ArrayList<>());
            streams.add(stream);
            futures.add(service.submit(GenerationRequest.ids(prompt(i)).decoder(i % 2 == 0 ? AR : JACOBI)
                    .config(tokens(i < 2 ? 8 : 300)).listener(accepted -> {
                        accepted.stream().forEach(stream::add);
                        someStarted.countDown();
                        return true;
                    }).build()));
        }
        await(someStarted);
        service.close();
        assertThat(service.isTerminated()).isTrue();
        assertThatThrownBy(() -> service.submit(request(0, 8, GenerationListener.NONE)))
                .isInstanceOfSatisfying(RequestRejectedException.class,
                        e -> assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.SHUT_DOWN))
                .hasMessageContaining("shut down");
        int aborted = 0;
        for (int i = 0; i < count; i++) {
            CompletableFuture<Generation> f = futures.get(i);
            assertThat(f).as("request %d ended", i).isDone();
            Decoder d = i % 2 == 0 ? AR : JACOBI;
            List<Integer> full = d.generate(model, prompt(i), tokens(i < 2 ? 8 : 300), GenerationListener.NONE).ids()
                    .stream().boxed().toList();
            List<Integer> stream = streams.get(i);
            if (f.isCompletedExceptionally()) {
                try {
                    f.join();
                    fail("request %d: expected an exception", i);
                } catch (CompletionException e) {
                    assertThat(e.getCause()).as("request %d", i).isInstanceOf(RequestAbortedException.class);
                    assertThat(((RequestAbortedException) e.getCause()).reason())
                            .isEqualTo(RequestAbortedException.Reason.SHUTDOWN);
                }
                aborted++;
                assertThat(stream).as("request %d streamed a prefix of its output", i)
                        .isEqualTo(full.subList(0, stream.size()));
            } else {
                assertThat(f.join().ids().stream().boxed().toList()).as("request %d", i).isEqualTo(full);
                assertThat(stream).isEqualTo(full);
            }
        }
        assertThat(aborted).as("requests of 300 tokens ended by a close without grace").isPositive();
        assertThat(service.stats().kvBytesInUse()).isZero();
    }

    @Test
    void closingWithGraceFinishesEveryRequest() {
        List<CompletableFuture<Generation>> futures = new ArrayList<>();
        GenerationService service = GenerationService.builder(model).maxActive(3).build();
        for (int i = 0; i < 6; i++) {
            futures.add(service.submit(request(i, 30, GenerationListener.NONE)));
        }
        service.close();
        for (int i = 0; i < 6; i++) {
            assertThat(futures.get(i)).isCompleted();
            assertThat(futures.get(i).join().ids()).isEqualTo(alone(i, 30).ids());
        }
        assertThat(service.stats().completed()).isEqualTo(6);
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
