package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm export}: Hugging Face directories and GGUF files. */
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
}
