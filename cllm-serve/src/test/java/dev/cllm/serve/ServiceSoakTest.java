package dev.cllm.serve;

import dev.cllm.api.Decoder;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Many clients, random cancellations, timeouts and listeners that stop early, on stories260K: every request ends with
 * its result or a named error, every stream is exactly its result (or a prefix of its solo output when ended early),
 * nothing is lost or repeated, the counters add up and no cache stays reserved.
 */
class ServiceSoakTest {
    private static TorchConsistencyModel model;
    private static final List<Decoder> DECODERS = List.of(
            JacobiDecoder.autoregressive(GenerationConfig.DEFAULT_MAX_NEW_TOKENS),
            JacobiDecoder.builder().blockSize(8).build(),
            LookaheadDecoder.builder().window(5).fixedTreeSize(12).build());
    private static final int PROMPTS = 5;
    private static final int[] NEW_TOKENS = {16, 48};
    private static final Map<String, List<Integer>> ALONE = new HashMap<>();

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
        for (int p = 0; p < PROMPTS; p++) {
            for (int d = 0; d < DECODERS.size(); d++) {
                for (int n : NEW_TOKENS) {
                    ALONE.put(p + "/" + d + "/" + n, DECODERS.get(d).generate(model, prompt(p), config(n),
                            GenerationListener.NONE).ids().stream().boxed().toList());
                }
            }
        }
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    static TokenIds prompt(int p) {
        return TokenIds.of(1, 300 + 17 * p, 404, 475 - p, 464, 454, 275);
    }

    static GenerationConfig config(int newTokens) {
        return GenerationConfig.builder().maxNewTokens(newTokens).noStop().build();
    }

    enum Fate { NORMAL, CANCEL, TIMEOUT, LISTENER_STOPS }

    record Outcome(String key, Fate fate, CompletableFuture<Generation> future, List<Integer> stream, int stopAfter) {
    }

    @Test
    void twelveClientsForFiveSeconds() throws Exception {
        soak(12, Duration.ofSeconds(5), 11);
    }

    @Test
    @Tag("slow")
    void sixteenClientsForTwoMinutes() throws Exception {
        soak(16, Duration.ofMinutes(2), 12);
    }

    private static void soak(int clients, Duration length, long seed) throws Exception {
        List<Outcome> outcomes = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger rejected = new AtomicInteger();
        GenerationService service = GenerationService.builder(model).maxActive(8).maxQueued(4).build();
        long end = System.nanoTime() + length.toNanos();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> clientErrors = Collections.synchronizedList(new ArrayList<>());
        for (int c = 0; c < clients; c++) {
            SplittableRandom rng = new SplittableRandom(seed * 1000 + c);
            Thread t = new Thread(() -> {
                try {
                    while (System.nanoTime() < end) {
                        outcomes.add(oneRequest(service, rng, rejected));
                    }
                } catch (Throwable e) {
                    clientErrors.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        for (Thread t : threads) {
            t.join();
        }
        service.close();
        assertThat(clientErrors).isEmpty();

        Map<Fate, Integer> seen = new HashMap<>();
        for (Outcome o : outcomes) {
            List<Integer> alone = ALONE.get(o.key());
            List<Integer> stream = List.copyOf(o.stream());
            assertThat(o.future()).as("%s ended", o).isDone();
            assertThat(stream).as("%s streamed a prefix of its solo output", o.key())
                    .isEqualTo(alone.subList(0, Math.min(stream.size(), alone.size())));
            if (o.future().isCancelled()) {
                assertThat(o.fate()).isEqualTo(Fate.CANCEL);
            } else if (o.future().isCompletedExceptionally()) {
                try {
                    o.future().join();
                } catch (CompletionException e) {
                    assertThat(e.getCause()).as("%s: %s", o.key(), e.getCause())
                            .isInstanceOf(RequestAbortedException.class);
                    assertThat(((RequestAbortedException) e.getCause()).reason())
                            .isEqualTo(RequestAbortedException.Reason.TIMEOUT);
                    assertThat(o.fate()).isEqualTo(Fate.TIMEOUT);
                }
            } else {
                Generation g = o.future().join();
                List<Integer> ids = g.ids().stream().boxed().toList();
                assertThat(stream).as("%s: the stream is the result", o.key()).isEqualTo(ids);
                if (g.stopReason() == StopReason.CANCELLED) {
                    assertThat(o.fate()).isEqualTo(Fate.LISTENER_STOPS);
                    assertThat(ids).isEqualTo(alone.subList(0, ids.size()));
                } else {
                    assertThat(ids).as("%s", o.key()).isEqualTo(alone);
                }
            }
            seen.merge(o.future().isCancelled() ? Fate.CANCEL : o.future().isCompletedExceptionally() ? Fate.TIMEOUT
                    : o.fate() == Fate.LISTENER_STOPS ? Fate.LISTENER_STOPS : Fate.NORMAL, 1, Integer::sum);
        }
        ServiceStats stats = service.stats();
        assertThat(stats.active()).isZero();
        assertThat(stats.queued()).isZero();
        assertThat(stats.kvBytesInUse()).isZero();
        assertThat(stats.failed()).isZero();
        assertThat(stats.rejected()).isEqualTo((long) rejected.get());
        assertThat(stats.completed() + stats.cancelled() + stats.timedOut()).as("%s", stats)
                .isEqualTo((long) outcomes.size());
        assertThat(stats.cancelled()).isEqualTo((long) seen.getOrDefault(Fate.CANCEL, 0));
        assertThat(stats.timedOut()).isEqualTo((long) seen.getOrDefault(Fate.TIMEOUT, 0));
        assertThat(seen.getOrDefault(Fate.NORMAL, 0)).as("%s", seen).isPositive();
        assertThat(stats.cancelled() + stats.timedOut()).as("requests ended early: %s", seen).isPositive();
        assertThat(stats.meanBatchSize()).isGreaterThan(1.5);
    }

    private static Outcome oneRequest(GenerationService service, SplittableRandom rng, AtomicInteger rejected)
            throws InterruptedException {
        int p = rng.nextInt(PROMPTS);
        int d = rng.nextInt(DECODERS.size());
        int n = NEW_TOKENS[rng.nextInt(NEW_TOKENS.length)];
        Fate fate = Fate.values()[rng.nextInt(10) < 6 ? 0 : 1 + rng.nextInt(3)];
        int stopAfter = 1 + rng.nextInt(n);
        List<Integer> stream = Collections.synchronizedList(new ArrayList<>());
        GenerationListener listener = accepted -> {
            accepted.stream().forEach(stream::add);
            return fate != Fate.LISTENER_STOPS || stream.size() < stopAfter;
        };
        GenerationRequest.Builder request = GenerationRequest.ids(prompt(p)).decoder(DECODERS.get(d)).config(config(n))
                .listener(listener);
        if (fate == Fate.TIMEOUT) {
            request.timeout(Duration.ofMillis(1 + rng.nextInt(40)));
        }
        while (true) {
            try {
                CompletableFuture<Generation> f = service.submit(request.build());
                if (fate == Fate.CANCEL) {
                    Thread.sleep(rng.nextInt(30));
                    f.cancel(true);
                }
                try {
                    f.join();
                } catch (CancellationException | CompletionException e) {
                    // checked by the caller
                }
                return new Outcome(p + "/" + d + "/" + n, fate, f, stream, stopAfter);
            } catch (RequestRejectedException e) {
                assertThat(e.limit()).isEqualTo(RequestRejectedException.Limit.QUEUE_FULL);
                rejected.incrementAndGet();
                Thread.sleep(5);
            }
        }
    }
}
