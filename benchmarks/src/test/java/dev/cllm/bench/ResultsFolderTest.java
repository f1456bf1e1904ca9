package dev.cllm.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** A results folder holds the JSON, the Markdown, the machine and the charts. */
class ResultsFolderTest {
    @TempDir
    Path dir;

    @Test
    void writesEveryFile() throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        List<Path> files = ResultsFolder.write(dir.resolve("run"), Samples.results(), Samples.machine(),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        assertThat(files).extracting(p -> p.getFileName().toString()).containsExactly("results.json", "results.md",
                "machine.json", BenchCharts.SPEEDUP, BenchCharts.FORWARD);
        assertThat(log.toString(StandardCharsets.UTF_8)).isEmpty();
        Path run = dir.resolve("run");
        assertThat(new ObjectMapper().readTree(run.resolve("results.json").toFile()).get("results_dir").asText())
                .isEqualTo(run.toString());
        assertThat(Files.readString(run.resolve("results.md"))).contains("![" + BenchCharts.SPEEDUP + "]");
        assertThat(new ObjectMapper().readTree(run.resolve("machine.json").toFile()).get("cpu_model").asText())
                .isEqualTo("Test CPU 3000");
        assertThat(ImageIO.read(run.resolve(BenchCharts.FORWARD).toFile()).getWidth())
                .isEqualTo(ResultsFolder.CHART_WIDTH);
    }

    @Test
    void timestampedFoldersDoNotCollide() throws Exception {
        LocalDateTime t = LocalDateTime.of(2025, 1, 2, 3, 4, 5);
        Path first = ResultsFolder.timestamped(dir, t);
        assertThat(first.getFileName().toString()).isEqualTo("20250102-030405");
        Files.createDirectories(first);
        assertThat(ResultsFolder.timestamped(dir, t).getFileName().toString()).isEqualTo("20250102-030405-2");
    }

    @Test
    void teeWritesToBoth() throws Exception {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        Path file = dir.resolve("log.txt");
        try (PrintStream tee = ResultsFolder.tee(new PrintStream(console, true, StandardCharsets.UTF_8), file)) {
            tee.println("hello");
        }
        assertThat(console.toString(StandardCharsets.UTF_8)).isEqualTo("hello" + System.lineSeparator());
        assertThat(Files.readString(file)).isEqualTo("hello" + System.lineSeparator());
    }
}
