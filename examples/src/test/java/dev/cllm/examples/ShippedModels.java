package dev.cllm.examples;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The shipped model pairs under the repository's {@code models/} (tests run in the module directory). */
final class ShippedModels {
    private ShippedModels() {
    }

    /** A task's base model and its CLLM. */
    record Pair(Path base, Path cllm) {
    }

    /** {@code models/TASK-base} and {@code models/TASK-cllm}; skips the calling test when either is absent. */
    static Pair pair(String task) {
        Path base = Path.of("..", "models", task + "-base");
        Path cllm = Path.of("..", "models", task + "-cllm");
        assumeTrue(Files.isRegularFile(base.resolve("config.json")) && Files.isRegularFile(
                cllm.resolve("config.json")), "shipped " + task + " models absent");
        return new Pair(base, cllm);
    }
}
