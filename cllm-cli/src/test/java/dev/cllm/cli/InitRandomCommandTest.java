package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.cli.CliRunner.Run;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.cllm.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm init-random}: a random checkpoint that loads and decodes, and bad input named. */
class InitRandomCommandTest {
    @Test
    void writesACheckpointThatGenerateLoadsAndDecodes(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("model");
        Run init = run("init-random", "--shape", "d64-l2-h4-kv2-f96-v300", "--out", out.toString(),
                "--max-shard-gb", "0.0001", "--seed", "3");
        assertThat(init.status()).as(init.err()).isZero();
        JsonNode summary = new ObjectMapper().readTree(init.out());
        assertThat(summary.get("dtype").asText()).isEqualTo("bf16");
        assertThat(summary.get("bytes").asLong()).isGreaterThan(2 * summary.get("parameters").asLong());
        assertThat(out.resolve("config.json")).exists();
        assertThat(out.resolve("model.safetensors.index.json")).exists();

        Run generate = run("generate", "--model", out.toString(), "--prompt-ids", "1,5,9,12", "--max-new-tokens",
                "12", "--no-stop", "--decoder", "jacobi", "--block-size", "4");
        assertThat(generate.status()).as(generate.err()).isZero();
        assertThat(generate.out()).startsWith("ids: [");
    }

    @Test
    void badInputNamesTheField(@TempDir Path tmp) throws Exception {
        String out = tmp.resolve("m").toString();
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-q3-f96-v300", "--out", out),
                "--shape: shape 'd64-l2-h4-q3-f96-v300': unknown field 'q3'");
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-f96", "--out", out), "missing field 'v'");
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-f-v300", "--out", out),
                "field 'f' needs a positive whole number");
        assertBadInput(run("init-random", "--shape", "llama-13b", "--out", out), "unknown field 'llama'");
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-f96-v300", "--out", out, "--dtype", "int8"),
                "--dtype must be bf16, f16 or f32, got 'int8'");
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-f96-v300", "--out", out, "--max-shard-gb", "0"),
                "--max-shard-gb must be a positive number");
        Files.createDirectories(tmp.resolve("full"));
        Files.writeString(tmp.resolve("full").resolve("x"), "x");
        assertBadInput(run("init-random", "--shape", "d64-l2-h4-f96-v300", "--out", tmp.resolve("full").toString()),
                "exists and is not an empty directory");
        assertThat(tmp.resolve("m")).doesNotExist();
    }

    private static void assertBadInput(Run r, String message) {
        assertThat(r.status()).as(r.err()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains(message);
    }
}
