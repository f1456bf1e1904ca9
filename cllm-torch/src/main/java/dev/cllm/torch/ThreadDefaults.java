package dev.cllm.torch;

import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * Default thread counts for libtorch's OpenMP pool and OpenBLAS's pool, per compute dtype (both are process-wide;
 * override with the system properties named in {@link TorchRuntime} or {@link TorchRuntime#setThreads}).
 *
 * <p>Chosen by measurement ({@code ./cllm bench --benchmarks forward --threads 1/1,1/2,2/1,2/2}, 2-core AMD EPYC, Java
 * 17; see docs/performance.md): fp32 matrix products run in OpenBLAS, and with libtorch at 1 thread and OpenBLAS on
 * every core the forward pass of stories260K and of a 51.7M-parameter LLaMA was fastest at every block size; both
 * pools at 2 threads oversubscribe the cores and were 3-10x slower. bf16 and fp16 matrix products run in libtorch's
 * own kernels (oneDNN), which use the OpenMP pool, so there libtorch gets the cores and OpenBLAS one thread.
 */
final class ThreadDefaults {
    private ThreadDefaults() {
    }

    static int torchThreads(int cores, ScalarType dtype) {
        return dtype == ScalarType.Float || dtype == ScalarType.Double ? 1 : Math.max(1, cores);
    }

    static int blasThreads(int cores, ScalarType dtype) {
        return dtype == ScalarType.Float || dtype == ScalarType.Double ? Math.max(1, cores) : 1;
    }
}
