package dev.cllm.torch;

/**
 * Default thread counts for libtorch and OpenBLAS (process-wide; override with the system properties named in
 * {@link TorchRuntime}).
 */
final class ThreadDefaults {
    private ThreadDefaults() {
    }

    static int torchThreads(int cores) {
        return Math.max(1, cores);
    }

    static int blasThreads(int cores) {
        return 1;
    }
}
