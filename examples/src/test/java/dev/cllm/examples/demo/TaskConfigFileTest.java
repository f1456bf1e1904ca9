package dev.cllm.examples.demo;

import dev.cllm.examples.sql.SqlTaskConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code sql-task.json} in a checkpoint directory. */
class TaskConfigFileTest {
    @TempDir
    Path dir;

    @Test
    void readsTheFourFields() throws Exception {
        Files.writeString(dir.resolve("sql-task.json"), "{\"seed\":7,\"train_examples\":16000,"
                + "\"held_out_examples\":200,\"examples_per_database\":8}");
        assertThat(TaskConfigFile.present(dir)).isTrue();
        assertThat(TaskConfigFile.read(dir)).isEqualTo(new SqlTaskConfig(7, 16000, 200, 8));
    }

    @Test
    void writeThenReadGivesTheSameConfig() {
        SqlTaskConfig config = new SqlTaskConfig(7, 1234, 56, 4);
        TaskConfigFile.write(dir, config);
        assertThat(TaskConfigFile.present(dir)).isTrue();
        assertThat(TaskConfigFile.read(dir)).isEqualTo(config);
    }

    @Test
    void aMissingFileOrFieldMeansTheDefaults() throws Exception {
        assertThat(TaskConfigFile.present(dir)).isFalse();
        assertThat(TaskConfigFile.read(dir)).isEqualTo(SqlTaskConfig.defaults());
        Files.writeString(dir.resolve("sql-task.json"), "{\"train_examples\":16000}");
        assertThat(TaskConfigFile.read(dir)).isEqualTo(SqlTaskConfig.defaults().withTrainExamples(16000));
    }

    @Test
    void badContentIsNamedWithTheFile() throws Exception {
        Path file = dir.resolve("sql-task.json");
        Files.writeString(file, "{\"seed\":\"zero\"}");
        assertThatThrownBy(() -> TaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("'seed' must be an integer");
        Files.writeString(file, "{\"held_out_examples\":0}");
        assertThatThrownBy(() -> TaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("heldOutExamples must be >= 1");
        Files.writeString(file, "[1, 2");
        assertThatThrownBy(() -> TaskConfigFile.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not valid JSON");
    }
}
