package dev.cllm.examples.math;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code math-task.json} in a checkpoint directory. */
class MathTaskConfigFileTest {
    @TempDir
    Path dir;

    @Test
    void readsTheThreeFields() throws Exception {
        Files.writeString(dir.resolve("math-task.json"), "{\"seed\":7,\"train_examples\":16000,"
                + "\"held_out_examples\":200}");
        assertThat(MathTaskConfigFile.present(dir)).isTrue();
        assertThat(MathTaskConfigFile.read(dir)).isEqualTo(new MathTaskConfig(7, 16000, 200));
    }

    @Test
    void writeThenReadGivesTheSameConfig() {
        MathTaskConfig config = new MathTaskConfig(7, 1234, 56);
        MathTaskConfigFile.write(dir, config);
        assertThat(MathTaskConfigFile.present(dir)).isTrue();
        assertThat(MathTaskConfigFile.read(dir)).isEqualTo(config);
    }

    @Test
    void aMissingFileOrFieldMeansTheDefaults() throws Exception {
        assertThat(MathTaskConfigFile.present(dir)).isFalse();
        assertThat(MathTaskConfigFile.read(dir)).isEqualTo(MathTaskConfig.defaults());
        Files.writeString(dir.resolve("math-task.json"), "{\"train_examples\":8000}");
        assertThat(MathTaskConfigFile.read(dir)).isEqualTo(MathTaskConfig.defaults().withTrainExamples(8000));
    }

    @Test
    void badContentIsNamedWithTheFile() throws Exception {
        Path file = dir.resolve("math-task.json");
        Files.writeString(file, "{\"seed\":\"zero\"}");
        assertThatThrownBy(() -> MathTaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'seed' must be an integer");
        Files.writeString(file, "{\"held_out_examples\":0}");
        assertThatThrownBy(() -> MathTaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("heldOutExamples must be >= 1");
        Files.writeString(file, "{\"train_examples\":3000000000}");
        assertThatThrownBy(() -> MathTaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too large");
        Files.writeString(file, "[1, 2");
        assertThatThrownBy(() -> MathTaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not valid JSON");
    }
}
