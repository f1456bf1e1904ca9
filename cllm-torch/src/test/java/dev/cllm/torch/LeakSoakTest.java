package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import javax.management.JMException;
import javax.management.ObjectName;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Native memory stays flat over thousands of decoding steps, session open/close cycles and model load/close cycles.
 *
 * <p>Measured as resident memory ({@code VmRSS} in {@code /proc/self/status}) after a warm-up and at the end, with no
 * {@code System.gc()} in between: tensor memory never triggers a collection, so anything freed only by the garbage
 * collector counts as a leak here, which is the failure mode the {@code PointerScope} per step exists to prevent.
 * The assertion is on the part of VmRSS outside the Java heap (the heap's resident pages, located through
 * {@code /proc/self/smaps} and HotSpot's {@code GC.heap_info}, are subtracted): when earlier test classes in the same
 * JVM have grown the committed heap, the collector touching more of it moved VmRSS by up to +50 MB in one soak, which
 * says nothing about native memory. Both numbers are printed.
 *
 * <p>The bound, {@value #RSS_GROWTH_BOUND_MB} MB, sits between the noise and the leaks it guards against. Noise:
 * glibc arenas settling, JIT code, metaspace; a few MB either way on the 2-core test machine. Leaks, for the small
 * random model (vocab 4096, d 128): a step whose temporaries escape its scope loses at least its logits, 128 KB per
 * 8-token block, over 300 MB over the 2,500 such steps; a session whose KV cache is not freed loses 256 KB
 * (capacity 256), 51 MB over 200 sessions (measured: 52-56 MB); a model whose weights are not freed loses 5.4 MB,
 * 107 MB over 20 loads. On stories260K (512-token vocabulary, 1 MB of weights) only a leak per step is certain to
 * cross the bound.
 */
@SuppressWarnings("try") // PointerScopes are opened only to free what the block allocates
class LeakSoakTest {
    static final long RSS_GROWTH_BOUND_MB = 32;

    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");

    /** 2 layers, d 128, vocab 4096: 5.4 MB of fp32 weights, 256 KB of KV cache at capacity 256. */
    private static LlamaConfig smallConfig() {
        return TinyCheckpoints.base().vocabSize(4096).hiddenSize(128).intermediateSize(256).numHeads(4)
                .numKvHeads(2).maxPositions(512).build();
    }

    /** What one soak does. */
    record Plan(int steps, int sessionCycles, int loadCycles) {
        Plan scaled(double f) {
            return new Plan((int) (steps * f), (int) (sessionCycles * f), Math.max(1, (int) (loadCycles * f)));
        }
    }

    private static final Plan DEFAULT = new Plan(5_000, 200, 20);
    private static final Plan LONG = new Plan(100_000, 2_000, 200);

    @Test
    void smallRandomModel(@TempDir Path dir) {
        soak("small random model", writeSmall(dir), DEFAULT);
    }

    @Test
    void stories260K() {
        soak("stories260K", Stories260K.dir(), DEFAULT);
    }

    @Test
    @Tag("slow")
    void smallRandomModelLong(@TempDir Path dir) {
        soak("small random model, long", writeSmall(dir), LONG);
    }

    @Test
    @Tag("slow")
    void stories260KLong() {
        soak("stories260K, long", Stories260K.dir(), LONG);
    }

    /**
     * A load that fails half-way (here: on an int64 {@code lm_head.weight}, checked only when it is read) must
     * release the weights it already converted. 20 such loads of the small model leave ~88 MB more resident memory
     * on the 2-core test machine today (~4.4 MB each: the embedding and both layers), reclaimed only once a garbage
     * collection happens to run.
     */
    @Test
    void failedLoadsReleaseTheWeightsTheyRead(@TempDir Path dir) {
        assumeTrue(Rss.available(), "no /proc/self/status VmRSS on this system: cannot measure resident memory");
        Path bad = writeSmall(dir);
        try (PointerScope scope = new PointerScope();
             SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(bad)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : weights.names()) {
                tensors.put(name, weights.read(name));
            }
            tensors.put("lm_head.weight", tensors.get("lm_head.weight").to(ScalarType.Long));
            SafetensorsCheckpoint.writeSharded(bad, tensors, Long.MAX_VALUE);
        }
        for (int i = 0; i < 3; i++) {
            assertThatThrownBy(() -> TorchConsistencyModel.load(bad, CPU)).isInstanceOf(CheckpointException.class);
        }
        Rss before = Rss.now();
        for (int i = 0; i < 20; i++) {
            assertThatThrownBy(() -> TorchConsistencyModel.load(bad, CPU)).isInstanceOf(CheckpointException.class)
                    .hasMessageContaining("lm_head.weight");
        }
        Rss after = Rss.now();
        System.out.println("20 failed loads of the small model:");
        report("20 failed loads of the small model", before, after);
    }

    private static Path writeSmall(Path dir) {
        return new TinyCheckpoints.Variant("small", smallConfig(), ComputeDtype.F32, Long.MAX_VALUE).write(dir, 1);
    }

    private static void soak(String name, Path checkpoint, Plan plan) {
        assumeTrue(Rss.available(), "no /proc/self/status VmRSS on this system: cannot measure resident memory");
        long start = System.nanoTime();
        try (TorchConsistencyModel model = TorchConsistencyModel.load(checkpoint, CPU)) {
            run(model, checkpoint, plan.scaled(0.2), 1);           // warm-up: allocator, JIT, heap, code pages
            Rss before = Rss.now();
            run(model, checkpoint, plan, 2);
            Rss after = Rss.now();
            System.out.printf("%s: %,d steps, %,d session cycles, %,d load cycles in %.1f s (warm-up included)%n",
                    name, plan.steps, plan.sessionCycles, plan.loadCycles, (System.nanoTime() - start) / 1e9);
            assertThat(model.openSessions()).isZero();
            report(name, before, after);
        }
    }

    /** Prints both measurements and asserts that resident memory outside the Java heap grew less than the bound. */
    private static void report(String name, Rss before, Rss after) {
        long vmRssGrowthKb = after.vmRssKb() - before.vmRssKb();
        long nativeGrowthKb = after.outsideJavaHeapKb() - before.outsideJavaHeapKb();
        System.out.printf("  before: %s%n  after:  %s%n  growth: VmRSS %+,d KB, outside the Java heap %+,d KB "
                + "(bound %,d KB)%n", before, after, vmRssGrowthKb, nativeGrowthKb, RSS_GROWTH_BOUND_MB * 1024);
        assertThat(nativeGrowthKb).as("growth of resident memory outside the Java heap, in KB, over %s", name)
                .isLessThan(RSS_GROWTH_BOUND_MB * 1024);
    }

    /** The soak: one long session, then short sessions, then whole models. */
    private static void run(TorchConsistencyModel model, Path checkpoint, Plan plan, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int vocab = model.config().vocabSize();
        int capacity = Math.min(256, model.config().contextLength());
        try (DecodingSession session = model.newSession(capacity)) {
            int next = session.prefill(randomTokens(rng, vocab, 8));
            for (int step = 0; step < plan.steps; step++) {
                int length = step % 2 == 0 ? 1 : 8;
                if (session.position() + length > capacity) {
                    session.rewind(rng.nextInt(session.position() / 2)); // the position cycles
                }
                int[] block = randomTokens(rng, vocab, length);
                block[0] = next;
                if (step % 100 == 99) {
                    Logits logits = session.forwardLogits(block);
                    next = logits.argmax(0);
                } else {
                    next = session.forward(block)[0];
                }
                session.commit(length == 1 ? 1 : rng.nextInt(length + 1)); // some blocks rejected outright
            }
        }
        for (int i = 0; i < plan.sessionCycles; i++) {
            try (DecodingSession session = model.newSession(capacity)) {
                session.prefill(randomTokens(rng, vocab, 2));
            }
        }
        for (int i = 0; i < plan.loadCycles; i++) {
            try (TorchConsistencyModel other = TorchConsistencyModel.load(checkpoint, CPU);
                 DecodingSession session = other.newSession(16)) {
                session.prefill(randomTokens(rng, vocab, 4));
                session.forward(new int[]{1});
            }
        }
    }

    private static int[] randomTokens(SplittableRandom rng, int vocab, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = rng.nextInt(vocab);
        }
        return out;
    }

    /**
     * Resident memory in KB: {@code VmRSS}, its anonymous and file-backed parts from {@code /proc/self/status}, and the
     * part of it that lies in the Java heap's address range (from {@code /proc/self/smaps}, with the range reported by
     * HotSpot's {@code GC.heap_info} diagnostic command; -1 where either is unavailable).
     */
    record Rss(long vmRssKb, long rssAnonKb, long rssFileKb, long javaHeapRssKb, long heapCommittedKb,
               long heapUsedKb) {
        private static final Path STATUS = Path.of("/proc/self/status");
        private static final Path SMAPS = Path.of("/proc/self/smaps");
        private static final Pattern HEAP_RANGE = Pattern.compile("\\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)");
        private static final Pattern MAPPING = Pattern.compile("^([0-9a-f]+)-([0-9a-f]+) ");

        static boolean available() {
            return Files.isReadable(STATUS) && field("VmRSS:") > 0;
        }

        static Rss now() {
            Runtime rt = Runtime.getRuntime();
            return new Rss(field("VmRSS:"), field("RssAnon:"), field("RssFile:"), javaHeapResidentKb(),
                    rt.totalMemory() / 1024, (rt.totalMemory() - rt.freeMemory()) / 1024);
        }

        /**
         * Resident memory outside the Java heap: VmRSS minus the heap's resident pages. The Java heap's share moves
         * by tens of MB whenever the collector starts using committed regions it had not touched before, which says
         * nothing about native memory; where the heap cannot be located this is plain VmRSS.
         */
        long outsideJavaHeapKb() {
            return javaHeapRssKb < 0 ? vmRssKb : vmRssKb - javaHeapRssKb;
        }

        /** A field of /proc/self/status in KB, or -1. */
        private static long field(String key) {
            try {
                for (String line : Files.readAllLines(STATUS)) {
                    if (line.startsWith(key)) {
                        return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
                    }
                }
            } catch (IOException | RuntimeException e) {
                return -1;
            }
            return -1;
        }

        private static long javaHeapResidentKb() {
            long[] heap = javaHeapRange();
            if (heap == null || !Files.isReadable(SMAPS)) {
                return -1;
            }
            try {
                long total = 0;
                boolean inHeap = false;
                for (String line : Files.readAllLines(SMAPS)) {
                    Matcher m = MAPPING.matcher(line);
                    if (m.find()) {
                        long start = Long.parseUnsignedLong(m.group(1), 16);
                        long end = Long.parseUnsignedLong(m.group(2), 16);
                        inHeap = start >= heap[0] && end <= heap[1];
                    } else if (inHeap && line.startsWith("Rss:")) {
                        total += Long.parseLong(line.substring(4).trim().split("\\s+")[0]);
                    }
                }
                return total;
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        /** {@code [start, end)} of the reserved Java heap, as HotSpot's GC.heap_info prints it; null if unknown. */
        private static long[] javaHeapRange() {
            try {
                Object info = ManagementFactory.getPlatformMBeanServer().invoke(
                        new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcHeapInfo",
                        new Object[]{null}, new String[]{String[].class.getName()});
                Matcher m = HEAP_RANGE.matcher(String.valueOf(info));
                return m.find() ? new long[]{Long.parseUnsignedLong(m.group(1), 16),
                        Long.parseUnsignedLong(m.group(2), 16)} : null;
            } catch (JMException | RuntimeException e) {
                return null;
            }
        }

        @Override
        public String toString() {
            return String.format("VmRSS %,d KB (anon %,d, file %,d; in the Java heap %,d, outside %,d); "
                            + "Java heap committed %,d KB, used %,d KB", vmRssKb, rssAnonKb, rssFileKb,
                    javaHeapRssKb, outsideJavaHeapKb(), heapCommittedKb, heapUsedKb);
        }
    }
}
