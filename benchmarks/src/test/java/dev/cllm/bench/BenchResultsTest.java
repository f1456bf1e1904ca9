package dev.cllm.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** Ratios and speedups are taken within a group, against its n = 1 or AR row. */
class BenchResultsTest {
    @Test
    void ratiosAreAgainstTheOneTokenPassOfTheSameGroup() {
        List<BenchResults.ForwardRow> rows = Samples.results().forwardCost();
        assertThat(rows.get(0).ratioTo1()).isEqualTo(1.0);
        assertThat(rows.get(1).ratioTo1()).isCloseTo(2.0, within(1e-12));
        assertThat(rows.get(2).ratioTo1()).isCloseTo(3.0, within(1e-12));
        assertThat(rows.get(2).msPerToken()).isCloseTo(1.5 / 16, within(1e-12));
        assertThat(rows.get(3).ratioTo1()).isEqualTo(1.0);
        assertThat(rows.get(4).ratioTo1()).isNull();   // failed
    }

    @Test
    void speedupsAreAgainstArOfTheSameModel() {
        List<BenchResults.GenerationRow> rows = BenchResults.withSpeedups(List.of(
                new BenchResults.GenerationRow(
                        "a", "auto", "default", "ar", 1, 128, "p", 100.0, null, 1.0, null, null),
                new BenchResults.GenerationRow(
                        "a", "auto", "default", "jacobi", 16, 128, "p", 150.0, null, 2.0, null, null),
                new BenchResults.GenerationRow(
                        "b", "auto", "default", "jacobi", 16, 128, "p", 80.0, null, 1.0, null, null),
                new BenchResults.GenerationRow(
                        "b", "auto", "default", "ar", 1, 128, "p", 40.0, null, 1.0, null, null),
                new BenchResults.GenerationRow(
                        "c", "auto", "default", "jacobi", 16, 128, "p", 80.0, null, 1.0, null, null)));
        assertThat(rows).extracting(BenchResults.GenerationRow::speedup).containsExactly(1.0, 1.5, 2.0, 1.0, null);
        assertThat(rows).extracting(BenchResults.GenerationRow::decoder)
                .containsExactly("ar", "jacobi", "jacobi", "ar", "jacobi");
    }
}
