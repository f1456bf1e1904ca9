package dev.cllm.cli;

import dev.cllm.examples.math.MathTask;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code math-task}: the task and its tokenizer in one directory. */
class MathTaskCommandTest {
    @Test
    void theCommandWritesTheTaskAndTokenizer(@TempDir Path dir) {
        CliRunner.Run r = CliRunner.run("math-task", "--out", dir.toString(), "--seed", "5", "--train", "40",
                "--held-out", "10");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(MathTask.read(dir).examples()).hasSize(50);
        assertThat(dir.resolve("tokenizer.json")).isRegularFile();
        assertThat(dir.resolve("tokenizer_config.json")).isRegularFile();
    }
}
