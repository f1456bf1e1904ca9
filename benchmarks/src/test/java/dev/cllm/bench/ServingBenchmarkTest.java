package dev.cllm.bench;

import dev.cllm.api.Decoder;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.TorchConsistencyModel;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link ServingBenchmark} on stories260K with 1 and 3 clients: a row per mode and client count, every request checked
 * against decoding alone, batching seen in service mode, and the percentiles ordered.
 */
class ServingBenchmarkTest {

    @Test
    void measuresBothModesAndChecksEveryRequestAgainstDecodingAlone() {
        assumeTrue(BenchModels.missing(BenchModels.STORIES_260K).isEmpty(), "stories260K absent; skipping");
        try (TorchConsistencyModel model = BenchModels.load(BenchModels.STORIES_260K, "auto")) {
            TokenIds[] prompts = Prompts.forModel(BenchModels.STORIES_260K, model);
            Decoder decoder = ServingBenchmark.decoder("jacobi");
            GenerationConfig config = GenerationConfig.builder().maxNewTokens(24).noStop().build();
            Generation[] alone = ServingBenchmark.alone(model, prompts, decoder, config);
            List<ServingBenchmark.Row> rows = ServingBenchmark.run("stories260K", model, prompts, alone, "jacobi",
                    decoder, config, List.of(1, 3), 2);
            assertThat(rows).extracting(ServingBenchmark.Row::clients).containsExactly(1, 1, 3, 3);
            assertThat(rows).extracting(ServingBenchmark.Row::mode).containsExactly(ServingBenchmark.Mode.SERVICE,
                    ServingBenchmark.Mode.PER_THREAD, ServingBenchmark.Mode.SERVICE, ServingBenchmark.Mode.PER_THREAD);
            for (ServingBenchmark.Row r : rows) {
                assertThat(r.identicalToAlone()).as(r.toJson()).isTrue();
                assertThat(r.requests()).isEqualTo(2 * r.clients());
                assertThat(r.newTokens()).isEqualTo(24L * r.requests());
                assertThat(r.aggregateTokensPerS()).isPositive();
                assertThat(r.ttftP50Ms()).isPositive().isLessThanOrEqualTo(r.ttftP99Ms());
                assertThat(r.latencyP50Ms()).isGreaterThanOrEqualTo(r.ttftP50Ms()).isLessThanOrEqualTo(r.latencyP99Ms());
                assertThat(r.toJson()).contains("\"clients\":" + r.clients(), "\"identical_to_alone\":true");
            }
            assertThat(rows.get(2).meanBatchSize()).as("3 clients share steps").isGreaterThan(1.0);
        }
    }

    @Test
    void percentilesAreNearestRank() {
        long[] nanos = {5_000_000, 1_000_000, 3_000_000, 2_000_000, 4_000_000};
        assertThat(ServingBenchmark.percentileMs(nanos, 50)).isEqualTo(3.0);
        assertThat(ServingBenchmark.percentileMs(nanos, 99)).isEqualTo(5.0);
        assertThat(ServingBenchmark.percentileMs(nanos, 1)).isEqualTo(1.0);
    }
}
