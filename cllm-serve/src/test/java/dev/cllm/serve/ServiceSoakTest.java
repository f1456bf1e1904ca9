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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
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
import java.util.concurrent.ConcurrentHashMap;
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

    /**
     * The long soak ({@code -Pslow}; minutes from {@code -Dcllm.soak.minutes}, default 2): 16 clients, and resident
     * memory sampled every few seconds must be flat after the first fifth of the run (a request leaking its cache or
     * a pass leaking a tensor would grow it by megabytes per second here).
     */
    @Test
    @Tag("slow")
    void sixteenClientsWithFlatMemory() throws Exception {
        double minutes = Double.parseDouble(System.getProperty("cllm.soak.minutes", "2"));
        Soak result = soak(16, Duration.ofMillis(Math.round(minutes * 60_000)), 12);
        List<long[]> rss = result.rss();
        assertThat(rss).as("RSS samples").hasSizeGreaterThan(10);
        int warm = rss.size() / 5;
        int lastQuarter = rss.size() - rss.size() / 4;
        long warmMax = rss.subList(warm, lastQuarter).stream().mapToLong(r -> r[1]).max().orElseThrow();
        long endMax = rss.subList(lastQuarter, rss.size()).stream().mapToLong(r -> r[1]).max().orElseThrow();
        System.out.printf("soak: %d requests in %.1f min (%s); RSS after warm-up %.1f MB, in the last quarter %.1f MB;"
                        + " samples (s: MB) %s%n", result.requests(), minutes, result.fates(), warmMax / 1e6,
                endMax / 1e6, rss.stream().map(r -> r[0] + ": " + r[1] / 1_000_000).toList());
        assertThat(endMax).as("resident bytes in the last quarter against after warm-up (samples: %s)",
                        rss.stream().map(r -> r[0] + "s:" + r[1] / 1_000_000 + "MB").toList())
                .isLessThanOrEqualTo(warmMax + 32L * 1024 * 1024);
    }

    /** What a soak saw: requests ended, by fate, and (seconds since the start, resident bytes) samples. */
    record Soak(long requests, Map<Fate, Integer> fates, List<long[]> rss) {
    }

    private static Soak soak(int clients, Duration length, long seed) throws Exception {
        Map<Fate, Integer> seen = new ConcurrentHashMap<>();
        AtomicInteger rejected = new AtomicInteger();
        AtomicInteger ended = new AtomicInteger();
        GenerationService service = GenerationService.builder(model).maxActive(8).maxQueued(4).build();
        long begin = System.nanoTime();
        long end = begin + length.toNanos();
        List<Thread> threads = new ArrayList<>();
        List<Throwable> clientErrors = Collections.synchronizedList(new ArrayList<>());
        for (int c = 0; c < clients; c++) {
            SplittableRandom rng = new SplittableRandom(seed * 1000 + c);
            Thread t = new Thread(() -> {
                try {
                    while (System.nanoTime() < end) {
                        Fate fate = check(oneRequest(service, rng, rejected));   // checked at once: nothing piles up
                        seen.merge(fate, 1, Integer::sum);
                        ended.incrementAndGet();
                    }
                } catch (Throwable e) {
                    clientErrors.add(e);
                }
            });
            threads.add(t);
            t.start();
        }
        List<long[]> rss = new ArrayList<>();
        long sampleEvery = Math.max(250, length.toMillis() / 60);
        while (System.nanoTime() < end && clientErrors.isEmpty()) {
            Thread.sleep(Math.min(sampleEvery, Math.max(1, (end - System.nanoTime()) / 1_000_000)));
            System.gc();                                 // the heap's own growth is not what this looks for
            rss.add(new long[]{(System.nanoTime() - begin) / 1_000_000_000, residentBytes()});
        }
        for (Thread t : threads) {
            t.join();
        }
        service.close();
        assertThat(clientErrors).isEmpty();

        ServiceStats stats = service.stats();
        assertThat(stats.active()).isZero();
        assertThat(stats.queued()).isZero();
        assertThat(stats.kvBytesInUse()).isZero();
        assertThat(stats.failed()).isZero();
        assertThat(stats.rejected()).isEqualTo((long) rejected.get());
        assertThat(stats.completed() + stats.cancelled() + stats.timedOut()).as("%s", stats)
                .isEqualTo((long) ended.get());
        assertThat(stats.cancelled()).isEqualTo((long) seen.getOrDefault(Fate.CANCEL, 0));
        assertThat(stats.timedOut()).isEqualTo((long) seen.getOrDefault(Fate.TIMEOUT, 0));
        assertThat(seen.getOrDefault(Fate.NORMAL, 0)).as("%s", seen).isPositive();
        assertThat(stats.cancelled() + stats.timedOut()).as("requests ended early: %s", seen).isPositive();
        assertThat(stats.meanBatchSize()).isGreaterThan(1.5);
        return new Soak(ended.get(), Map.copyOf(seen), rss);
    }

    /** Checks one ended request against its solo output and returns how it ended. */
    private static Fate check(Outcome o) {
        List<Integer> alone = ALONE.get(o.key());
        List<Integer> stream = List.copyOf(o.stream());
        assertThat(o.future()).as("%s ended", o).isDone();
        assertThat(stream).as("%s streamed a prefix of its solo output", o.key())
                .isEqualTo(alone.subList(0, Math.min(stream.size(), alone.size())));
        if (o.future().isCancelled()) {
            assertThat(o.fate()).isEqualTo(Fate.CANCEL);
            return Fate.CANCEL;
        }
        if (o.future().isCompletedExceptionally()) {
            try {
                o.future().join();
            } catch (CompletionException e) {
                assertThat(e.getCause()).as("%s: %s", o.key(), e.getCause())
                        .isInstanceOf(RequestAbortedException.class);
                assertThat(((RequestAbortedException) e.getCause()).reason())
                        .isEqualTo(RequestAbortedException.Reason.TIMEOUT);
                assertThat(o.fate()).isEqualTo(Fate.TIMEOUT);
            }
            return Fate.TIMEOUT;
        }
        Generation g = o.future().join();
        List<Integer> ids = g.ids().stream().boxed().toList();
        assertThat(stream).as("%s: the stream is the result", o.key()).isEqualTo(ids);
        if (g.stopReason() == StopReason.CANCELLED) {
            assertThat(o.fate()).isEqualTo(Fate.LISTENER_STOPS);
            assertThat(ids).isEqualTo(alone.subList(0, ids.size()));
            return Fate.LISTENER_STOPS;
        }
        assertThat(ids).as("%s", o.key()).isEqualTo(alone);
        return Fate.NORMAL;
    }

    /** This process's resident set size (Linux {@code /proc/self/status} VmRSS). */
    private static long residentBytes() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no VmRSS in /proc/self/status");
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
