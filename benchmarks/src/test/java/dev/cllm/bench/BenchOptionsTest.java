package dev.cllm.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Options: defaults of the full and quick runs, validation, the model plan. The command-line syntax is
 * {@code ./cllm bench}'s (BenchCommandTest in cllm-cli).
 */
class BenchOptionsTest {
    @Test
    void defaultsRunForwardAndGenerationOnTheirModels() {
        BenchOptions o = BenchOptions.builder().build();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.FORWARD, BenchOptions.Part.GENERATION);
        assertThat(o.modelsFor(BenchOptions.Part.FORWARD)).containsExactly("stories260K", "random50M");
        assertThat(o.modelsFor(BenchOptions.Part.GENERATION)).containsExactly("stories260K", "sql-base", "sql-cllm");
        assertThat(o.forwardN()).containsExactly(1, 2, 4, 8, 16, 32, 64);
        assertThat(o.generationBlockSizes()).containsExactly(1, 4, 8, 16, 32);
        assertThat(o.contexts()).containsExactly(128);
        assertThat(o.threads()).containsExactly("default");
        assertThat(o.dtypes()).containsExactly("auto");
        assertThat(o.maxNewTokens()).isEqualTo(128);

        BenchOptions quick = BenchOptions.builder().quick(true).build();
        assertThat(quick.forwardN()).containsExactly(1, 4, 16, 64);
        assertThat(quick.generationBlockSizes()).containsExactly(1, 8, 16);
        assertThat(quick.describeJmh()).contains("1 warm-up and 3 measured iterations of 1 s");
    }

    @Test
    void arAndOneTokenAreAlwaysMeasured() {
        BenchOptions o = BenchOptions.builder().n(List.of(16, 4)).blockSizes(List.of(16)).build();
        assertThat(o.forwardN()).containsExactly(1, 4, 16);
        assertThat(o.generationBlockSizes()).containsExactly(1, 16);
        assertThat(o.collectionBlockSizes()).containsExactly(16);
        assertThat(BenchOptions.builder().blockSizes(List.of(1)).build().collectionBlockSizes()).containsExactly(16);
    }

    @Test
    void rejectsBadValues() {
        assertThatThrownBy(() -> BenchOptions.builder().blockSizes(List.of(0))).hasMessageContaining(">= 1");
        assertThatThrownBy(() -> BenchOptions.builder().threads(List.of("2"))).hasMessageContaining("TORCH/BLAS");
        assertThatThrownBy(() -> BenchOptions.builder().dtypes(List.of("f64"))).hasMessageContaining("dtype");
    }

    @Test
    void planSkipsAbsentSqlModelsAndRejectsOthers() {
        BenchSuite.Plan plan = BenchSuite.plan(BenchOptions.builder().part(BenchOptions.Part.GENERATION).build());
        List<String> models = plan.models().get(BenchOptions.Part.GENERATION);
        assertThat(models).startsWith("stories260K");
        for (String sql : List.of("sql-base", "sql-cllm")) {
            boolean skipped = plan.skipped().stream().anyMatch(s -> s.model().equals(sql)
                    && s.reason().contains("no checkpoint") && s.benchmarks().equals(List.of("generation")));
            assertThat(models.contains(sql) != skipped).as(sql + " runs or is skipped").isTrue();
        }
        assertThatThrownBy(() -> BenchSuite.plan(BenchOptions.builder().models(List.of("stories1M")).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("unknown benchmark model");
        assertThatThrownBy(() -> BenchSuite.plan(BenchOptions.builder().models(List.of("dir:no-such-dir")).build()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no checkpoint at no-such-dir");
    }
}
