package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm export}: Hugging Face directories and GGUF files; {@code ./cllm average}. */
class ExportCommandTest {

    @Test
    void ggufExportWritesOneFileForLlamaCpp(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("stories.gguf");
        CliRunner.Run r = CliRunner.run("export", "--model", Stories260K.dir().toString(), "--to", "gguf", "--type",
                "q8_0", "--out", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("architecture").asText()).isEqualTo("llama");
        assertThat(o.get("type").asText()).isEqualTo("q8_0");
        assertThat(o.get("vocabulary").asText()).isEqualTo("synthetic");
        assertThat(Files.size(out)).isEqualTo(o.get("bytes").asLong());
        byte[] magic = new byte[4];
        try (var in = Files.newInputStream(out)) {
            assertThat(in.read(magic)).isEqualTo(4);
        }
        assertThat(new String(magic, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("GGUF");
    }

    @Test
    void badChoicesAreBadInputNamingThem(@TempDir Path dir) {
        CliRunner.Run r = CliRunner.run("export", "--model", Stories260K.dir().toString(), "--to", "onnx", "--out",
                dir.resolve("x").toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--to onnx");
        r = CliRunner.run("export", "--model", Stories260K.dir().toString(), "--to", "gguf", "--type", "q4", "--out",
                dir.resolve("x.gguf").toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("q4");
    }

    @Test
    void averageWritesTheMeanCheckpointAndRefusesModelsOfAnotherShape(@TempDir Path dir) throws Exception {
        Path stories = Stories260K.dir();
        Path half = dir.resolve("half");
        // stories260K's weights halved: the mean of it and its half is three quarters of it
        CliRunner.Run e = CliRunner.run("export", "--model", stories.toString(), "--out", half.toString(), "--dtype",
                "f32");
        assertThat(e.status()).as(e.err()).isZero();
        scale(half, 0.5f);
        Path out = dir.resolve("average");
        CliRunner.Run r = CliRunner.run("average", "--model", stories.toString(), "--model", half.toString(),
                "--out", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        assertThat(o.get("models").asInt()).isEqualTo(2);
        assertThat(o.get("dtype").asText()).isEqualTo("f32");
        Path threeQuarters = dir.resolve("three-quarters");
        assertThat(CliRunner.run("export", "--model", stories.toString(), "--out", threeQuarters.toString(),
                "--dtype", "f32").status()).isZero();
        scale(threeQuarters, 0.75f);
        assertThat(dev.cllm.torch.fixtures.TinyCheckpoints.maxAbsDifference(out, threeQuarters)).isLessThan(1e-6);
        assertThat(out.resolve("config.json")).exists();
        // weights 1,3 on (stories, its half): 1/4 + 3/8 = 5/8 of it
        Path weighted = dir.resolve("weighted");
        CliRunner.Run w = CliRunner.run("average", "--model", stories.toString(), "--model", half.toString(),
                "--weights", "1,3", "--out", weighted.toString());
        assertThat(w.status()).as(w.err()).isZero();
        assertThat(new ObjectMapper().readTree(w.out()).get("weights").toString()).isEqualTo("[1.0,3.0]");
        Path fiveEighths = dir.resolve("five-eighths");
        assertThat(CliRunner.run("export", "--model", stories.toString(), "--out", fiveEighths.toString(),
                "--dtype", "f32").status()).isZero();
        scale(fiveEighths, 0.625f);
        assertThat(dev.cllm.torch.fixtures.TinyCheckpoints.maxAbsDifference(weighted, fiveEighths)).isLessThan(1e-6);
        CliRunner.Run count = CliRunner.run("average", "--model", stories.toString(), "--model", half.toString(),
                "--weights", "1", "--out", dir.resolve("w").toString());
        assertThat(count.status()).isEqualTo(2);
        assertThat(count.err()).contains("--weights: 1 weights for 2 models");

        Path other = dir.resolve("other");
        assertThat(CliRunner.run("init-random", "--out", other.toString(), "--shape", "d32-l2-h4-f48-v97").status())
                .isZero();
        CliRunner.Run bad = CliRunner.run("average", "--model", stories.toString(), "--model", other.toString(),
                "--out", dir.resolve("x").toString());
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains(other.toString()).contains("config differs");
        CliRunner.Run one = CliRunner.run("average", "--model", stories.toString(), "--out",
                dir.resolve("y").toString());
        assertThat(one.status()).isEqualTo(2);
        assertThat(one.err()).contains("at least two models");
    }

    /** Multiplies every weight of the f32 checkpoint {@code dir} by {@code factor}, in place. */
    private static void scale(Path dir, float factor) throws Exception {
        Path file = dir.resolve("model.safetensors");
        byte[] b = Files.readAllBytes(file);
        java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int start = 8 + (int) buf.getLong(0);
        for (int i = start; i + 4 <= b.length; i += 4) {
            buf.putFloat(i, buf.getFloat(i) * factor);
        }
        Files.write(file, b);
    }
}
