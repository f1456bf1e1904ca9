package dev.cllm.bench;

import dev.cllm.torch.TorchRuntime;

/** Parses a {@code torch/blas} thread setting ({@code default} keeps the library's defaults) and applies it. */
final class Threads {
    private Threads() {
    }

    static void apply(String setting) {
        TorchRuntime.ensureLoaded();
        if (setting.equals("default")) {
            return;
        }
        String[] parts = setting.split("/");
        if (parts.length != 2) {
            throw new IllegalArgumentException("threads must be TORCH/BLAS or default, got '" + setting + "'");
        }
        TorchRuntime.setThreads(Integer.parseInt(parts[0]), Integer.parseInt(parts[1]));
    }

    static String describe() {
        return TorchRuntime.torchThreads() + "/" + TorchRuntime.blasThreads();
    }
}
