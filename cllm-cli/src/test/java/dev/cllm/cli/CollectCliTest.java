package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.Trajectory;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.data.TrajectoryReader;
import dev.cllm.data.TrajectoryRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm collect} and {@code ./cllm convert} on the embedded model. */
class CollectCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void collectsConvertsAndConvertsBack() throws Exception {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(1);
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, "{\"prompt_ids\":" + Arrays.toString(c.promptIds()) + "}\n"
                + "{\"prompt_ids\":[1,300,301],\"answer_ids\":[5,6]}\n");
        Path out = dir.resolve("traj.jsonl");
        CliRunner.Run r = CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts",
                prompts.toString(), "--out", out.toString(), "--block-size", "8", "--max-new-tokens", "64",
                "--no-stop", "--no-clean");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode summary = JSON.readTree(r.out());
        assertThat(summary.get("prompts").asInt()).isEqualTo(2);
        assertThat(summary.get("skipped").asInt()).isZero();
        assertThat(summary.get("dropped_repetitive").asInt()).isZero();
        assertThat(summary.has("tokens_per_pass")).isTrue();
        assertThat(summary.has("elapsed_ms")).isTrue();

        List<TrajectoryRecord> records = TrajectoryReader.readAll(out);
        assertThat(records).hasSize(summary.get("records").asInt());
        int[] fixedPoints = records.stream().map(TrajectoryRecord::trajectory)
                .filter(t -> t.promptIndex() == 0).map(Trajectory::fixedPoint)
                .flatMapToInt(ids -> ids.stream()).toArray();
        assertThat(fixedPoints).containsExactly(Arrays.copyOf(c.greedyIds(), fixedPoints.length));
        assertThat(fixedPoints.length).isEqualTo(64);   // 1 + 63 rounded up to 8 blocks of 8

        Path authors = dir.resolve("authors.json");
        Path back = dir.resolve("back.jsonl");
        assertThat(CliRunner.run("convert", "--in", out.toString(), "--out", authors.toString(), "--to", "authors")
                .status()).isZero();
        assertThat(JSON.readTree(authors.toFile()).get(0).get("data_id").asText()).isEqualTo("data_0");
        assertThat(CliRunner.run("convert", "--in", authors.toString(), "--out", back.toString(), "--to", "cllm")
                .status()).isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(out));

        // the same command again resumes a complete dataset: nothing new
        CliRunner.Run again = CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts",
                prompts.toString(), "--out", out.toString(), "--block-size", "8", "--max-new-tokens", "64",
                "--no-stop", "--no-clean");
        assertThat(again.status()).isZero();
        assertThat(Files.readAllBytes(back)).isEqualTo(Files.readAllBytes(out));
    }

    @Test
    void badInputIsOneLine() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt_ids\":[1,2]}\n{\"prompt\": \"needs a tokenizer\"}\n");
        CliRunner.Run r = CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts",
                prompts.toString(), "--out", dir.resolve("o.jsonl").toString());
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("p.jsonl:2");
        CliRunner.Run convert = CliRunner.run("convert", "--in", prompts.toString(), "--out",
                dir.resolve("x.json").toString(), "--to", "elsewhere");
        assertThat(convert.status()).isEqualTo(Cli.BAD_INPUT);
    }
}
