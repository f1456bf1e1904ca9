package dev.cllm.bench;

import java.util.List;

/** Hand-made results and machine for the writer tests (no JMH run). */
final class Samples {
    private Samples() {
    }

    static BenchResults results() {
        List<BenchResults.ForwardRow> forward = BenchResults.withRatios(List.of(
                new BenchResults.ForwardRow("stories260K", "auto", "default", 128, 1, 0.5, 0.05, null, null),
                new BenchResults.ForwardRow("stories260K", "auto", "default", 128, 4, 1.0, 0.1, null, null),
                new BenchResults.ForwardRow("stories260K", "auto", "default", 128, 16, 1.5, Double.NaN, null, null),
                new BenchResults.ForwardRow("random50M", "auto", "default", 128, 1, 6.0, 0.5, null, null),
                new BenchResults.ForwardRow("random50M", "auto", "default", 128, 4, null, null, null, "failed")));
        List<BenchResults.GenerationRow> generation = BenchResults.withSpeedups(List.of(
                new BenchResults.GenerationRow("stories260K", "auto", "default", "ar", 1, 128,
                        "stories260K reference prompts", 2000.0, 50.0, 1.0, null, null),
                new BenchResults.GenerationRow("stories260K", "auto", "default", "jacobi", 8, 128,
                        "stories260K reference prompts", 1500.0, 40.0, 1.04, null, null),
                new BenchResults.GenerationRow("stories260K", "auto", "default", "jacobi", 16, 128,
                        "stories260K reference prompts", 1000.0, 30.0, 1.05, null, null),
                new BenchResults.GenerationRow("stories260K", "auto", "default", "lookahead", 8, 128,
                        "stories260K reference prompts", 1800.0, 30.0, 1.31, null, null)));
        List<BenchResults.CollectionRow> collection = List.of(new BenchResults.CollectionRow("stories260K", "auto",
                "default", 16, 128, "stories260K reference prompts", 40.0, 700.0, 1.04, null));
        return new BenchResults(forward, generation, collection,
                List.of(new BenchResults.Skipped(List.of("generation"), "sql-cllm", "sql-cllm: no checkpoint")), "1 fork");
    }

    static MachineInfo machine() {
        return new MachineInfo("Test CPU 3000", 2, 2, "Linux 6.1 amd64", "OpenJDK 64-Bit Server VM (Vendor) 17",
                List.of("-Xmx1g", "-Dcllm.home=."), 1L << 30, 1, 2, "library defaults", "Bytedeco pytorch 2.10.0",
                "cpu", "./cllm bench --quick", "2025-01-02T03:04:05Z");
    }
}
