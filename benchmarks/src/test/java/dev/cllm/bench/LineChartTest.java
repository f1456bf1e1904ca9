package dev.cllm.bench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.List;

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
