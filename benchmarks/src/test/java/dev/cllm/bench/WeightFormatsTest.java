package dev.cllm.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link WeightFormats}: one row per format, ratios to the first, the greedy tokens compared. */
class WeightFormatsTest {

    @Test
    void measuresEveryFormatOfTheSameWeights() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<WeightFormats.Row> rows = WeightFormats.run(BenchModels.STORIES_260K, List.of("f32", "f16", "int8"), 2,
                12, List.of(1, 4), 16, "default", new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(rows).extracting(WeightFormats.Row::weights).containsExactly("f32", "f16", "int8");
        assertThat(rows).extracting(WeightFormats.Row::kernel).containsExactly("BLAS", "FBGEMM_FP16", "FBGEMM_INT8");
        WeightFormats.Row f32 = rows.get(0);
        assertThat(f32.arRatio()).isEqualTo(1.0);
        assertThat(f32.passRatio()).containsEntry(1, 1.0).containsEntry(4, 1.0);
        assertThat(f32.agreePrefix()).isEqualTo(12);
        for (WeightFormats.Row r : rows) {
            assertThat(r.arMsPerToken()).isPositive();
            assertThat(r.passMs()).containsOnlyKeys(1, 4);
            assertThat(r.passMs().values()).allSatisfy(ms -> assertThat(ms).isPositive());
            assertThat(r.agreePrefix()).isBetween(0, 12);
        }
        // stories260K's first greedy token after this prompt is far from a tie: fp16 weights agree on it
        assertThat(rows.get(1).agreePrefix()).isPositive();
        assertThat(log.toString(StandardCharsets.UTF_8)).contains("round 1 of 2").contains("round 2 of 2");
        String md = WeightFormats.markdown(rows);
        assertThat(md).contains("| stories260K | int8 | FBGEMM_INT8 |").contains("t(4) ms (ratio)");
        assertThat(WeightFormats.json(rows).get(2).get("t4_ratio").isNumber()).isTrue();
    }

    @Test
    void badArgumentsFailBeforeLoading() {
        PrintStream none = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> WeightFormats.run(BenchModels.STORIES_260K, List.of("f32", "int4"), 1, 1, List.of(1),
                4, "default", none)).hasMessageContaining("unknown weight format 'int4'");
        assertThatThrownBy(() -> WeightFormats.run("nope", List.of("f32"), 1, 1, List.of(1), 4, "default", none))
                .hasMessageContaining("unknown benchmark model 'nope'");
        assertThatThrownBy(() -> WeightFormats.run(BenchModels.STORIES_260K, List.of("f32"), 0, 1, List.of(1), 4,
                "default", none)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theMedianOfOddAndEvenCounts() {
        assertThat(WeightFormats.median(new double[]{3, 1, 2})).isEqualTo(2.0);
        assertThat(WeightFormats.median(new double[]{4, 1, 3, 2})).isEqualTo(2.5);
    }
}
