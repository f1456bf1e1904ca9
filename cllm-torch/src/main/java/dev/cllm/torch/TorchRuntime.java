package dev.cllm.torch;

import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Process-wide libtorch setup: loads the native libraries once and sets the thread pools.
 *
 * <p>Two settings matter on CPU and are applied here so that applications need no JVM flags:
 * <ul>
 *   <li>JavaCPP's physical-memory check is switched off ({@code org.bytedeco.javacpp.maxPhysicalBytes=0}) unless the
 *   application set that property itself. With the check on, every native handle costs an RSS read and a model
 *   larger than four times the heap fails with "Physical memory usage is too high". The property is read once when
 *   JavaCPP initialises, so this class must be touched before any other Bytedeco class: every entry point of this
 *   module does that.</li>
 *   <li>libtorch's OpenMP pool and OpenBLAS's own pool are both sized explicitly; left at their defaults they
 *   oversubscribe the cores (a measured 10x slowdown for small models).</li>
 * </ul>
 */
public final class TorchRuntime {
    private static final Logger LOG = LoggerFactory.getLogger(TorchRuntime.class);

    /** System property: libtorch intra-op threads. */
    public static final String TORCH_THREADS_PROPERTY = "cllm.torch.threads";
    /** System property: OpenBLAS threads. */
    public static final String BLAS_THREADS_PROPERTY = "cllm.blas.threads";

    private static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxPhysicalBytes";

    static {
        if (System.getProperty(MAX_PHYSICAL_BYTES) == null) {
            System.setProperty(MAX_PHYSICAL_BYTES, "0");
        }
    }

    private static boolean loaded;
    private static boolean pinned; // threads set by the application: defaults no longer apply
    private static int torchThreads;
    private static int blasThreads;

    private TorchRuntime() {
    }

    /**
     * Loads libtorch and OpenBLAS (once) and applies the thread settings: the system properties
     * {@value #TORCH_THREADS_PROPERTY} and {@value #BLAS_THREADS_PROPERTY} if set (they pin the threads), else the
     * fp32 {@link ThreadDefaults}.
     */
    public static synchronized void ensureLoaded() {
        if (loaded) {
            return;
        }
        long start = System.nanoTime();
        Loader.load(torch.class);
        Loader.load(openblas_nolapack.class); // the same libopenblas that libtorch_cpu links
        loaded = true;
        int cores = Runtime.getRuntime().availableProcessors();
        Integer torchProperty = Integer.getInteger(TORCH_THREADS_PROPERTY);
        Integer blasProperty = Integer.getInteger(BLAS_THREADS_PROPERTY);
        apply(torchProperty != null ? torchProperty : ThreadDefaults.torchThreads(cores, ScalarType.Float),
                blasProperty != null ? blasProperty : ThreadDefaults.blasThreads(cores, ScalarType.Float));
        pinned = torchProperty != null || blasProperty != null;
        LOG.debug("libtorch loaded in {} ms; torch threads {}, OpenBLAS threads {}",
                (System.nanoTime() - start) / 1_000_000, torchThreads, blasThreads);
    }

    /**
     * Sets libtorch's intra-op thread count and OpenBLAS's thread count. Both are process-wide, and from now on the
     * per-dtype defaults no longer change them when a model loads.
     *
     * @throws IllegalArgumentException if a count is below 1
     */
    public static synchronized void setThreads(int torchThreadCount, int blasThreadCount) {
        ensureLoaded();
        apply(torchThreadCount, blasThreadCount);
        pinned = true;
    }

    /** Applies the {@link ThreadDefaults} for a CPU model computing in {@code dtype}, unless threads are pinned. */
    static synchronized void useDefaultsFor(ScalarType dtype) {
        ensureLoaded();
        if (!pinned) {
            int cores = Runtime.getRuntime().availableProcessors();
            apply(ThreadDefaults.torchThreads(cores, dtype), ThreadDefaults.blasThreads(cores, dtype));
        }
    }

    private static void apply(int torchThreadCount, int blasThreadCount) {
        if (torchThreadCount < 1 || blasThreadCount < 1) {
            throw new IllegalArgumentException("thread counts must be >= 1, got torch=" + torchThreadCount
                    + " blas=" + blasThreadCount);
        }
        if (torchThreadCount != torchThreads) {
            torch.set_num_threads(torchThreadCount);
            torchThreads = torchThreadCount;
        }
        if (blasThreadCount != blasThreads) {
            openblas_nolapack.blas_set_num_threads(blasThreadCount);
            blasThreads = blasThreadCount;
        }
    }

    /** libtorch's intra-op thread count as last set. */
    public static synchronized int torchThreads() {
        ensureLoaded();
        return torchThreads;
    }

    /** OpenBLAS's thread count as last set. */
    public static synchronized int blasThreads() {
        ensureLoaded();
        return blasThreads;
    }

    /** Whether this libtorch build sees a CUDA device (the CPU build always answers false). */
    public static boolean cudaAvailable() {
        ensureLoaded();
        return torch.cuda_is_available();
    }
}
