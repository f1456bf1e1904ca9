package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Tokenizer;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One model shared by eight decoding threads and closed by another thread while they run: every thread either
 * finishes with exactly the tokens it decodes alone or gets {@link IllegalStateException}, nothing else (no crash, no
 * other exception, no corrupted output), over many rounds; and native memory stays flat over many such rounds.
 *
 * <p>The threads run a minimal greedy Jacobi loop on the session protocol (prefill, forward a block of guesses, commit
 * the verified prefix), with block sizes 1 to 32, on stories260K's reference prompts.
 */
class SharedModelCloseTest {
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");
    private static final int THREADS = 8;
    private static final int[] BLOCK_SIZES = {1, 2, 3, 4, 8, 16, 32, 5};

    private static Path stories;
    private static List<Stories260K.GreedyCase> cases;
    /** What each thread decodes when nothing interrupts it (thread index -> ids). */
    private static final Map<Integer, int[]> alone = new HashMap<>();

    @BeforeAll
    static void decodeAlone() {
        stories = Stories260K.dir();
        cases = Stories260K.greedyCases();
        try (TorchConsistencyModel model = TorchConsistencyModel.load(stories, CPU)) {
            for (int t = 0; t < THREADS; t++) {
                alone.put(t, decode(model, t, new AtomicInteger()));
            }
        }
    }

    @Test
    void closingASharedModelMidwayStopsEveryThreadWithIllegalStateOrLetsItFinish() throws Exception {
        closeWhileDecodingRounds(12, 12);
    }

    @Test
    @Tag("slow")
    void closingASharedModelMidwayManyTimes() throws Exception {
        closeWhileDecodingRounds(200, 7);
    }

    private static void closeWhileDecodingRounds(int rounds, long seed) throws InterruptedException {
        SplittableRandom rng = new SplittableRandom(seed);
        int finished = 0;
        int stopped = 0;
        for (int round = 0; round < rounds; round++) {
            // anywhere from before the first pass to after the last (about 1,000 passes in all)
            Outcomes o = closeWhileDecoding(round % 6 == 0 ? 0 : rng.nextInt(1200), round);
            finished += o.finished;
            stopped += o.stopped;
        }
        System.out.printf("%d rounds x %d threads: %d finished, %d stopped by the close%n", rounds, THREADS, finished,
                stopped);
        assertThat(finished + stopped).isEqualTo(rounds * THREADS);
        assertThat(stopped).as("the close interrupted some decoding").isPositive();
        assertThat(finished).as("some decoding finished before the close").isPositive();
    }

    /** Tokenizer calls race the close too: they answer, or throw IllegalStateException once the model is closed. */
    @Test
    void theTokenizerOfAClosedModelThrowsIllegalStateAndNeverCrashes(@TempDir Path dir) throws Exception {
        Path checkpoint = withTokenizer(dir);
        SplittableRandom rng = new SplittableRandom(5);
        for (int round = 0; round < 30; round++) {
            TorchConsistencyModel model = TorchConsistencyModel.load(checkpoint, CPU);
            Tokenizer tokenizer = model.tokenizer().orElseThrow();
            List<Throwable> unexpected = new ArrayList<>();
            CountDownLatch started = new CountDownLatch(THREADS);
            List<Thread> threads = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int index = t;
                threads.add(start("tokenizer-" + t, () -> {
                    started.countDown();
                    try {
                        for (int i = 0; i < 200; i++) {
                            int[] ids = tokenizer.encode("the cat sat on the mat and the dog ran to the park");
                            assertThat(tokenizer.decode(ids)).isEqualTo("the cat sat on the mat and the dog ran to "
                                    + "the park");
                            if (index % 2 == 0) {
                                try (DecodingSession s = model.newSession(32)) {
                                    s.prefill(Arrays.copyOf(ids, 8));
                                }
                            }
                        }
                    } catch (IllegalStateException expected) {
                        // closed under us
                    } catch (Throwable e) {
                        synchronized (unexpected) {
                            unexpected.add(e);
                        }
                    }
                }));
            }
            started.await();
            Thread.sleep(rng.nextInt(10));
            model.close();
            for (Thread thread : threads) {
                thread.join(TimeUnit.MINUTES.toMillis(2));
            }
            assertThat(unexpected).as("round %d: exceptions other than IllegalStateException", round).isEmpty();
            assertThat(model.openSessions()).isZero();
        }
    }

    @Test
    void nativeMemoryStaysFlatOverManyCloseWhileDecodingRounds() throws Exception {
        assumeTrue(LeakSoakTest.Rss.available(), "no /proc/self/status VmRSS: cannot measure resident memory");
        SplittableRandom rng = new SplittableRandom(3);
        for (int round = 0; round < 10; round++) {                  // warm-up: allocator, JIT, code pages
            closeWhileDecoding(rng.nextInt(200), round);
        }
        LeakSoakTest.Rss before = LeakSoakTest.Rss.now();
        int rounds = 40;
        for (int round = 0; round < rounds; round++) {
            closeWhileDecoding(rng.nextInt(200), round);
        }
        LeakSoakTest.Rss after = LeakSoakTest.Rss.now();
        long growthKb = after.outsideJavaHeapKb() - before.outsideJavaHeapKb();
        System.out.printf("%d close-while-decoding rounds:%n  before: %s%n  after:  %s%n  growth outside the Java heap "
                + "%+,d KB (bound %,d KB)%n", rounds, before, after, growthKb, LeakSoakTest.RSS_GROWTH_BOUND_MB * 1024);
        // rounds that leaked their weights (1 MB each) or their eight KV caches (~0.3 MB each) would cross the bound
        assertThat(growthKb).as("growth of resident memory outside the Java heap, in KB")
                .isLessThan(LeakSoakTest.RSS_GROWTH_BOUND_MB * 1024);
    }

    record Outcomes(int finished, int stopped) {
    }

    /**
     * Loads the model, starts the threads, closes the model from this thread once they have run {@code passes} forward
     * passes in all (or all finished), and checks every thread's outcome.
     */
    private static Outcomes closeWhileDecoding(int passes, int round) throws InterruptedException {
        AtomicInteger done = new AtomicInteger();
        TorchConsistencyModel model = TorchConsistencyModel.load(stories, CPU);
        int[][] results = new int[THREADS][];
        Throwable[] failures = new Throwable[THREADS];
        CountDownLatch started = new CountDownLatch(THREADS);
        List<Thread> threads = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            int index = t;
            threads.add(start("decoder-" + t, () -> {
                started.countDown();
                try {
                    results[index] = decode(model, index, done);
                } catch (Throwable e) {
                    failures[index] = e;
                }
            }));
        }
        started.await();
        while (done.get() < passes && threads.stream().anyMatch(Thread::isAlive)) {
            Thread.sleep(0, 100_000);
        }
        model.close();
        int finished = 0;
        int stopped = 0;
        for (int t = 0; t < THREADS; t++) {
            threads.get(t).join(TimeUnit.MINUTES.toMillis(2));
            assertThat(threads.get(t).isAlive()).as("round %d, thread %d still running", round, t).isFalse();
            if (failures[t] == null) {
                assertThat(results[t]).as("round %d, thread %d: finished with what it decodes alone", round, t)
                        .containsExactly(alone.get(t));
                finished++;
            } else {
                assertThat(failures[t]).as("round %d, thread %d failed with", round, t)
                        .isInstanceOf(IllegalStateException.class).hasMessageContaining("closed");
                stopped++;
            }
        }
        assertThat(model.openSessions()).isZero();
        return new Outcomes(finished, stopped);
    }

    /**
     * Thread {@code index}'s job: greedy Jacobi decoding of one reference prompt with block size
     * {@code BLOCK_SIZES[index]}: the block is the certain token and the previous pass's predictions as guesses; a
     * pass commits the guesses its own predictions confirm, plus the certain token.
     */
    private static int[] decode(TorchConsistencyModel model, int index, AtomicInteger passes) {
        Stories260K.GreedyCase c = cases.get(index % cases.size());
        int n = BLOCK_SIZES[index % BLOCK_SIZES.length];
        int max = c.maxNewTokens();
        int[] out = new int[max];
        int produced = 0;
        try (DecodingSession session = model.newSession(c.promptIds().length + max + n)) {
            int next = session.prefill(c.promptIds());
            int[] guesses = new int[0];
            while (produced < max) {
                int length = Math.min(n, max - produced);
                int[] block = new int[length];
                block[0] = next;
                for (int i = 1; i < length; i++) {
                    block[i] = i - 1 < guesses.length ? guesses[i - 1] : next;
                }
                int[] predicted = session.forward(block);        // predicted[i]: the token after block[0..i]
                passes.incrementAndGet();
                int accepted = 1;
                while (accepted < length && block[accepted] == predicted[accepted - 1]) {
                    accepted++;
                }
                session.commit(accepted);
                System.arraycopy(block, 0, out, produced, accepted);
                produced += accepted;
                next = predicted[accepted - 1];
                guesses = Arrays.copyOfRange(predicted, accepted, length);
            }
        }
        return out;
    }

    private static Thread start(String name, Runnable body) {
        Thread thread = new Thread(body, name);
        thread.start();
        return thread;
    }

    /** A tiny random checkpoint with the test word-level tokenizer beside it. */
    private static Path withTokenizer(Path dir) {
        new TinyCheckpoints.Variant("with-tokenizer", TinyCheckpoints.base().build(), ComputeDtype.F32, Long.MAX_VALUE)
                .write(dir, 4);
        for (String name : new String[]{"tokenizer.json", "tokenizer_config.json"}) {
            try (InputStream in = SharedModelCloseTest.class.getResourceAsStream("/tokenizers/wordlevel/" + name)) {
                assertThat(in).as(name).isNotNull();
                Files.copy(in, dir.resolve(name));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return dir;
    }
}
