package dev.cllm.torch;

import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.openblas.global.openblas_full;
import org.bytedeco.openblas.global.openblas_nolapack;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import static org.bytedeco.pytorch.global.torch.fbgemm_linear_fp16_weight_fp32_activation;
import static org.bytedeco.pytorch.global.torch.fbgemm_pack_gemm_matrix_fp16;
import static org.bytedeco.pytorch.global.torch.ones;

/**
 * Process-wide libtorch setup: loads the native libraries once, sets the thread pools once, and keeps libtorch's
 * known-harmless notices off stderr. Applications need no JVM flags.
 *
 * <p><b>Threads.</b> libtorch's OpenMP pool and OpenBLAS's own pool are both sized explicitly; left at their defaults
 * they oversubscribe the cores (a measured 10x slowdown for small models). Both are process-wide, so they are set once
 * per process, by the first of:
 * <ol>
 *   <li>{@link #setThreads} (the application's choice; it may call it again at any time);</li>
 *   <li>the first CPU model load: the system properties {@value #TORCH_THREADS_PROPERTY} and
 *   {@value #BLAS_THREADS_PROPERTY} where set, else the {@link ThreadDefaults} for that model's compute dtype;</li>
 *   <li>{@link #torchThreads()} or {@link #blasThreads()} before any CPU load: as 2., for fp32, so that the answer
 *   stays true.</li>
 * </ol>
 * One INFO line says what was chosen and how to override it. A later load never changes them, even if its dtype's
 * defaults differ (it says so at DEBUG): loading a bf16 model does not slow down an fp32 model already serving.
 *
 * <p><b>JavaCPP's physical-memory check.</b> Unless the application set {@code org.bytedeco.javacpp.maxPhysicalBytes}
 * (or its lower-case spelling) itself, this class sets it to 0 when it initialises: a JVM-wide system property, since
 * JavaCPP reads it once into a constant when its {@code Pointer} class initialises and offers no other switch. With
 * the check on, every native handle costs an RSS read and a model larger than four times the heap fails with
 * "Physical memory usage is too high". Every entry point of this module touches this class before any other Bytedeco
 * class; if the application initialised JavaCPP earlier, the check stays on and a WARN line says how to switch it off.
 *
 * <p><b>libtorch's warnings.</b> c10's warning handler cannot be replaced from Java with these presets (Bytedeco's
 * {@code WarningHandler.process} is not virtual), so warnings libtorch raises print on stderr as before, with one
 * exception: the one-time notices that FBGEMM's fp16 GEMM functions are deprecated ({@link CpuGemm#FBGEMM_FP16} is
 * built on them; libtorch 2.10 still ships them) are raised once, on a tiny matrix, with c10's log level at ERROR for
 * those microseconds, and logged here at DEBUG instead.
 */
public final class TorchRuntime {
    private static final Logger LOG = LoggerFactory.getLogger(TorchRuntime.class);

    /** System property: libtorch intra-op threads. */
    public static final String TORCH_THREADS_PROPERTY = "cllm.torch.threads";
    /** System property: OpenBLAS threads. */
    public static final String BLAS_THREADS_PROPERTY = "cllm.blas.threads";

    private static final String MAX_PHYSICAL_BYTES = "org.bytedeco.javacpp.maxPhysicalBytes";
    /** Whether this class set {@value #MAX_PHYSICAL_BYTES} (false: the application did). */
    private static final boolean SET_MAX_PHYSICAL_BYTES;

    static {
        SET_MAX_PHYSICAL_BYTES = System.getProperty(MAX_PHYSICAL_BYTES) == null
                && System.getProperty(MAX_PHYSICAL_BYTES.toLowerCase(java.util.Locale.ROOT)) == null;
        if (SET_MAX_PHYSICAL_BYTES) {
            System.setProperty(MAX_PHYSICAL_BYTES, "0");
        }
    }

    /** c10's minimum log level for its own messages (0 INFO, 1 WARNING, 2 ERROR), a global int in libc10. */
    private static final String C10_LOG_LEVEL_SYMBOL = "FLAGS_caffe2_log_level";
    private static final int C10_ERROR = 2;

    private static boolean loaded;
    private static boolean threadsSet;
    private static int torchThreads;
    private static int blasThreads;
    private static boolean fbgemmNoticesRaised;
    private static boolean fbgemmFp16;
    private static Boolean fbgemmInt8;
    private static String cpuKernels;

    private TorchRuntime() {
    }

    /** Loads libtorch and OpenBLAS, once. Sets no threads. */
    public static synchronized void ensureLoaded() {
        if (loaded) {
            return;
        }
        long start = System.nanoTime();
        Loader.load(torch.class);
        Loader.load(openblas_nolapack.class); // the same libopenblas that libtorch_cpu links
        loaded = true;
        LOG.debug("libtorch loaded in {} ms", (System.nanoTime() - start) / 1_000_000);
        long limit = Pointer.maxPhysicalBytes();
        if (SET_MAX_PHYSICAL_BYTES && limit == 0) {
            LOG.debug("set {}=0: JavaCPP's physical-memory check is off (it costs an RSS read per native handle and "
                    + "fails models larger than 4x the heap); set the property yourself to keep it", MAX_PHYSICAL_BYTES);
        } else if (SET_MAX_PHYSICAL_BYTES) {
            LOG.warn("JavaCPP was initialised before {}, so its physical-memory check stays on (limit {} bytes): "
                    + "every native handle reads the RSS and native memory above the limit fails; pass -D{}=0, or "
                    + "load a model before using other Bytedeco classes", TorchRuntime.class.getSimpleName(), limit,
                    MAX_PHYSICAL_BYTES);
        } else {
            LOG.debug("{} set by the application: {} bytes", MAX_PHYSICAL_BYTES, limit);
        }
    }

    /**
     * Sets libtorch's intra-op thread count and OpenBLAS's thread count (both process-wide). Model loads never change
     * them afterwards.
     *
     * @throws IllegalArgumentException if a count is below 1
     */
    public static synchronized void setThreads(int torchThreadCount, int blasThreadCount) {
        ensureLoaded();
        apply(torchThreadCount, blasThreadCount);
        threadsSet = true;
        LOG.info("threads set by the application: libtorch {}, OpenBLAS {}", torchThreads, blasThreads);
    }

    /**
     * For a CPU model about to load in {@code dtype}: the first one sets the threads (unless the application did);
     * later ones keep them.
     */
    static synchronized void threadsForLoad(ScalarType dtype) {
        ensureLoaded();
        int cores = Runtime.getRuntime().availableProcessors();
        if (!threadsSet) {
            setFromPropertiesOrDefaults(dtype, "the first model load (" + name(dtype) + ")");
            return;
        }
        int preferredTorch = ThreadDefaults.torchThreads(cores, dtype);
        int preferredBlas = ThreadDefaults.blasThreads(cores, dtype);
        if (preferredTorch != torchThreads || preferredBlas != blasThreads) {
            LOG.debug("a model computing in {} would run best with libtorch {} / OpenBLAS {} threads on {} cores; "
                            + "keeping {} / {}: threads are set once per process ({} changes them)", name(dtype),
                    preferredTorch, preferredBlas, cores, torchThreads, blasThreads, "TorchRuntime.setThreads");
        }
    }

    private static void setFromPropertiesOrDefaults(ScalarType dtype, String when) {
        int cores = Runtime.getRuntime().availableProcessors();
        Integer torchProperty = Integer.getInteger(TORCH_THREADS_PROPERTY);
        Integer blasProperty = Integer.getInteger(BLAS_THREADS_PROPERTY);
        apply(torchProperty != null ? torchProperty : ThreadDefaults.torchThreads(cores, dtype),
                blasProperty != null ? blasProperty : ThreadDefaults.blasThreads(cores, dtype));
        threadsSet = true;
        String defaults = "the defaults for " + name(dtype) + " on " + cores + " cores";
        String source = torchProperty != null && blasProperty != null ? "from the system properties"
                : torchProperty != null ? "libtorch from its system property, OpenBLAS " + defaults
                : blasProperty != null ? "OpenBLAS from its system property, libtorch " + defaults
                : defaults;
        LOG.info("threads for this process: libtorch {}, OpenBLAS {} ({}, chosen at {}; later loads keep them). "
                        + "Choose with -D{}=N -D{}=N or TorchRuntime.setThreads before the first load", torchThreads,
                blasThreads, source, when, TORCH_THREADS_PROPERTY, BLAS_THREADS_PROPERTY);
    }

    private static void apply(int torchThreadCount, int blasThreadCount) {
        if (torchThreadCount < 1 || blasThreadCount < 1) {
            throw new IllegalArgumentException("thread counts must be >= 1, got torch=" + torchThreadCount
                    + " blas=" + blasThreadCount);
        }
        if (torchThreadCount > 1 && blasThreadCount > 1 && (torchThreadCount != torchThreads
                || blasThreadCount != blasThreads)) {
            // libtorch's threads call OpenBLAS, whose own threads then wait on cores the OpenMP pool holds
            LOG.warn("libtorch {} and OpenBLAS {} threads: with both pools above one thread they oversubscribe the "
                    + "cores (a training step of the math recipe took 13.1 s with 2 and 2 on 2 cores, 0.35 s with 2 "
                    + "and 1); give one of them 1", torchThreadCount, blasThreadCount);
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

    private static String name(ScalarType dtype) {
        return switch (dtype.intern()) {
            case BFloat16 -> "bf16";
            case Half -> "f16";
            case Double -> "f64";
            default -> "fp32";
        };
    }

    /** libtorch's intra-op thread count. Asking before any CPU model load sets the threads (see above). */
    public static synchronized int torchThreads() {
        ensureLoaded();
        if (!threadsSet) {
            setFromPropertiesOrDefaults(ScalarType.Float, "a query before any model load");
        }
        return torchThreads;
    }

    /** OpenBLAS's thread count. Asking before any CPU model load sets the threads (see above). */
    public static synchronized int blasThreads() {
        ensureLoaded();
        if (!threadsSet) {
            setFromPropertiesOrDefaults(ScalarType.Float, "a query before any model load");
        }
        return blasThreads;
    }

    /**
     * The CPU kernels this process computes with, which decide the rounding of every fp32 result: libtorch's vector
     * instruction set for its own kernels (the {@code ATEN_CPU_CAPABILITY} environment variable can lower it) and
     * OpenBLAS's kernel family for matrix products ({@code OPENBLAS_CORETYPE} can choose another), e.g.
     * {@code "ATen AVX512, OpenBLAS Haswell"}. Training on two machines whose kernels differ gives other bytes from the
     * same command (docs/training.md); the pipeline records this with each step. The first call loads the JNI part
     * of the presets' full OpenBLAS binding (about 0.1 s; the only one that exposes the kernel's name), which calls into
     * the same native library and changes none of its settings.
     */
    public static synchronized String cpuKernels() {
        ensureLoaded();
        if (cpuKernels == null) {
            String blas;
            try {
                blas = openblas_full.openblas_get_corename().getString();
            } catch (LinkageError | RuntimeException e) {   // a platform without that binding: say so, do not fail
                LOG.debug("OpenBLAS's kernel name is unavailable", e);
                blas = "(kernel unknown: " + e + ")";
            }
            cpuKernels = "ATen " + torch.get_cpu_capability().getString() + ", OpenBLAS " + blas;
        }
        return cpuKernels;
    }

    /** Whether this libtorch build sees a CUDA device (the CPU build always answers false). */
    public static boolean cudaAvailable() {
        ensureLoaded();
        return torch.cuda_is_available();
    }

    /**
     * Before the first use of FBGEMM's fp16 functions: raises their one-time deprecation notices on an 8x8 matrix with
     * c10's log level at ERROR, so they never reach stderr; logs them at DEBUG. Other threads' c10 warnings in those
     * microseconds are lost with them. Without the level's symbol (another libtorch build) the notices print as
     * before.
     */
    static synchronized void raiseFbgemmNotices() {
        if (fbgemmNoticesRaised) {
            return;
        }
        fbgemmNoticesRaised = true;
        ensureLoaded();
        Pointer symbol = Loader.addressof(C10_LOG_LEVEL_SYMBOL);
        if (symbol == null) {
            LOG.debug("c10's {} not found: FBGEMM's deprecation notices go to stderr", C10_LOG_LEVEL_SYMBOL);
            fbgemmFp16 = probe(() -> fbgemm_linear_fp16_weight_fp32_activation(ones(new long[]{1, 8}),
                    fbgemm_pack_gemm_matrix_fp16(ones(new long[]{8, 8})), new TensorOptional()));
            return;
        }
        IntPointer level = new IntPointer(symbol);
        int previous = level.get();
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            level.put(Math.max(previous, C10_ERROR));
            try {
                fbgemm_linear_fp16_weight_fp32_activation(ones(new long[]{1, 8}),
                        fbgemm_pack_gemm_matrix_fp16(ones(new long[]{8, 8})), new TensorOptional());
            } finally {
                level.put(previous);
            }
            fbgemmFp16 = true;
            LOG.debug("libtorch notes once per process that fbgemm_pack_gemm_matrix_fp16 and "
                    + "fbgemm_linear_fp16_weight_fp32_activation are deprecated; they are the FBGEMM fp16 kernel of "
                    + "CpuGemm.FBGEMM_FP16 (CpuGemm.BLAS avoids them). Kept off stderr.");
        } catch (RuntimeException e) {
            LOG.debug("FBGEMM fp16 unavailable: {}", e.getMessage());
        }
    }

    /**
     * Whether the FBGEMM kernel of {@code gemm} ({@link CpuGemm#FBGEMM_FP16} or {@link CpuGemm#FBGEMM_INT8}) runs in
     * this process (tried once on a tiny matrix; FBGEMM needs an x86-64 CPU with AVX2).
     */
    static synchronized boolean fbgemmAvailable(CpuGemm gemm) {
        raiseFbgemmNotices();
        if (gemm == CpuGemm.FBGEMM_FP16 || gemm == CpuGemm.FBGEMM_FP16_ONLY) {
            return fbgemmFp16;
        }
        if (fbgemmInt8 == null) {
            fbgemmInt8 = probe(() -> {
                try (Int8Linear int8 = Int8Linear.pack(ones(new long[]{8, 8}))) {
                    int8.apply(ones(new long[]{1, 8}));
                }
            });
        }
        return fbgemmInt8;
    }

    private static boolean probe(Runnable kernel) {
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            kernel.run();
            return true;
        } catch (RuntimeException e) {
            LOG.debug("FBGEMM kernel unavailable: {}", e.getMessage());
            return false;
        }
    }
}
