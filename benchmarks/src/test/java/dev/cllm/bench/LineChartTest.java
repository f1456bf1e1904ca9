package dev.cllm.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The PNG chart writer. */
class LineChartTest {
    @TempDir
    Path dir;

    @Test
    void writesADecodablePngOfTheRequestedSize() throws Exception {
        LineChart chart = new LineChart("Speedup", "block size", "speedup").logX().subtitle("test machine")
                .horizontalLine(1, "AR")
                .add("stories260K", new double[]{1, 4, 8, 16, 32}, new double[]{1, 0.84, 0.77, 0.69, 0.55})
                .add("sql-cllm", new double[]{1, 4, 8, 16}, new double[]{1, 1.6, Double.NaN, 2.4});
        Path file = dir.resolve("sub").resolve("chart.png");
        chart.writePng(file, 640, 400);
        BufferedImage read = ImageIO.read(file.toFile());
        assertThat(read).isNotNull();
        assertThat(read.getWidth()).isEqualTo(640);
        assertThat(read.getHeight()).isEqualTo(400);
        assertThat(colours(read)).as("lines and text in several colours on white").isGreaterThan(5);
        assertThat(read.getRGB(0, 0) & 0xFFFFFF).isEqualTo(0xFFFFFF);
    }

    @Test
    void drawsWithoutDataAndWithASinglePoint() {
        assertThat(new LineChart("empty", "x", "y").render(300, 200).getWidth()).isEqualTo(300);
        assertThat(new LineChart("one", "x", "y").logX().add("a", new double[]{8}, new double[]{2})
                .render(300, 200).getHeight()).isEqualTo(200);
        assertThat(new LineChart("linear", "x", "y").add("a", new double[]{0, 0.5}, new double[]{-1, 3})
                .render(300, 200)).isNotNull();
    }

    @Test
    void rejectsMismatchedSeriesAndTinyImages() {
        assertThatThrownBy(() -> new LineChart("t", "x", "y").add("a", new double[]{1}, new double[]{1, 2}))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new LineChart("t", "x", "y").render(10, 10))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void ticksAreRoundNumbersOrPowersOfTwo() {
        LineChart.Ticks nice = LineChart.Ticks.nice(0, 3.4);
        assertThat(nice.values).containsExactly(0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5);
        assertThat(nice.label(0.5)).isEqualTo("0.5");
        assertThat(LineChart.Ticks.nice(0, 2200).values).contains(0.0, 500.0, 2500.0);
        assertThat(LineChart.Ticks.powersOfTwo(1, 64).values).containsExactly(1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0);
        assertThat(LineChart.Ticks.powersOfTwo(3, 20).values).containsExactly(2.0, 4.0, 8.0, 16.0, 32.0);
        assertThat(LineChart.Ticks.powersOfTwo(1, 64).label(16)).isEqualTo("16");
    }

    @Test
    void chartsOfARunHaveOneSeriesPerModelAndDecoder() {
        LineChart speedup = BenchCharts.speedup(Samples.results(), null).orElseThrow();
        assertThat(speedup.series()).extracting(LineChart.Series::name)
                .containsExactly("stories260K, jacobi", "stories260K, lookahead");
        // both lines start from AR at block size 1
        assertThat(speedup.series()).allSatisfy(s -> assertThat(s.x()[0]).isEqualTo(1.0));
        LineChart forward = BenchCharts.forwardRatio(Samples.results(), null).orElseThrow();
        assertThat(forward.series()).extracting(LineChart.Series::name).containsExactly("stories260K", "random50M");
        BenchResults none = new BenchResults(List.of(), List.of(), List.of(), List.of(), "x");
        assertThat(BenchCharts.speedup(none, null)).isEmpty();
    }

    @Test
    void peerChartHasOneLinePerEngineOtherThanQ8AndStartsAtTheArStep() {
        BenchResults.PeerRow f16 = new BenchResults.PeerRow("cllm-java", "f16", 2.0, Map.of(1, 2.0, 8, 3.0),
                1.25, orderedRatios(0.8, 0.6), List.of());
        BenchResults.PeerRow q8 = new BenchResults.PeerRow("llama.cpp", "Q8_0", 1.6, Map.of(1, 2.5, 8, 5.0),
                1.0, orderedRatios(1.0, 1.0), List.of());
        BenchResults.PeerRow failed = new BenchResults.PeerRow("cllm-java", "int8", null, Map.of(), null,
                Map.of(), List.of());
        BenchResults.PeerRun run = new BenchResults.PeerRun("random50M", "1/1", "1/1", 1, 3, 128, 64, 64, "1", "1",
                List.of(f16, q8, failed), null);
        BenchResults results = new BenchResults(List.of(), List.of(), List.of(), List.of(run), List.of(), "x");

        LineChart chart = BenchCharts.peers(results, "test machine").orElseThrow();
        assertThat(chart.series()).extracting(LineChart.Series::name).containsExactly("cllm-java f16");
        LineChart.Series line = chart.series().get(0);
        assertThat(line.x()).containsExactly(0.5, 1.0, 8.0);
        assertThat(line.y()).containsExactly(1.25, 0.8, 0.6);
        assertThat(colours(chart.render(900, 560))).isGreaterThan(3);

        // two models: each line names its model; two thread settings: each names its threads
        BenchResults.PeerRun other = new BenchResults.PeerRun("sql-cllm", "1/1", "1/1", 1, 3, 128, 64, 64, "1", "1",
                List.of(f16), null);
        LineChart both = BenchCharts.peers(new BenchResults(List.of(), List.of(), List.of(), List.of(run, other),
                List.of(), "x"), null).orElseThrow();
        assertThat(both.series()).extracting(LineChart.Series::name)
                .containsExactly("random50M, cllm-java f16", "sql-cllm, cllm-java f16");
        BenchResults.PeerRun twoThreads = new BenchResults.PeerRun("random50M", "2/2", "2/2", 2, 3, 128, 64, 64, "1",
                "1", List.of(f16), null);
        LineChart threads = BenchCharts.peers(new BenchResults(List.of(), List.of(), List.of(),
                List.of(run, twoThreads), List.of(), "x"), null).orElseThrow();
        assertThat(threads.series()).extracting(LineChart.Series::name)
                .containsExactly("threads 1/1, cllm-java f16", "threads 2/2, cllm-java f16");
        assertThat(BenchCharts.peers(new BenchResults(List.of(), List.of(), List.of(), List.of(), "x"), null))
                .isEmpty();
    }

    private static Map<Integer, Double> orderedRatios(double t1, double t8) {
        Map<Integer, Double> m = new LinkedHashMap<>();
        m.put(1, t1);
        m.put(8, t8);
        return m;
    }

    private static int colours(BufferedImage image) {
        java.util.Set<Integer> seen = new java.util.HashSet<>();
        for (int y = 0; y < image.getHeight(); y += 3) {
            for (int x = 0; x < image.getWidth(); x += 3) {
                seen.add(image.getRGB(x, y));
            }
        }
        return seen.size();
    }
}
