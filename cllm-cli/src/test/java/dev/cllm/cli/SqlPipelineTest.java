package dev.cllm.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

/** The recipe of the shipped models: every step is a valid command line, in the order the data flows. */
class SqlPipelineTest {
    @Test
    void everyStepParsesAsACommandLineAndStaysInsideTheWorkingDirectory(@TempDir Path work) {
        List<SqlPipeline.Step> recipe = new SqlPipeline(work).recipe();
        assertThat(recipe).extracting(SqlPipeline.Step::name)
                .containsExactly("task", "pretrain", "export-base", "collect", "train", "export-cllm");
        for (SqlPipeline.Step step : recipe) {
            assertThatCode(() -> new CommandLine(new Cli()).parseArgs(step.args())).as(step.commandLine())
                    .doesNotThrowAnyException();
            assertThat(step.done()).startsWithRaw(work);
            assertThat(step.commandLine()).startsWith("./cllm " + step.args()[0]);
        }
        assertThat(String.join(" ", recipe.get(3).args())).contains("--block-size " + SqlPipeline.BLOCK_SIZE);
    }
}
