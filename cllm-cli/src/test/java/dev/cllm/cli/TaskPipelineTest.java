package dev.cllm.cli;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The recipes of the shipped models: every step is a valid command line, in the order the data flows. */
class TaskPipelineTest {
    @ParameterizedTest
    @EnumSource(TaskPipeline.Recipe.class)
    void everyStepParsesAsACommandLineAndStaysInsideTheWorkingDirectory(TaskPipeline.Recipe recipe,
                                                                       @TempDir Path work) {
        TaskPipeline pipeline = new TaskPipeline(recipe, work);
        List<TaskPipeline.Step> steps = pipeline.steps();
        assertThat(steps).extracting(TaskPipeline.Step::name)
                .containsExactly("task", "pretrain", "export-base", "collect", "train", "export-cllm");
        for (TaskPipeline.Step step : steps) {
            assertThatCode(() -> new CommandLine(new Cli()).parseArgs(step.args())).as(step.commandLine())
                    .doesNotThrowAnyException();
            assertThat(step.done()).startsWithRaw(work);
            assertThat(step.commandLine()).startsWith("./cllm " + step.args()[0]);
        }
        assertThat(steps.get(0).args()[0]).isEqualTo(recipe.task() + "-task");
        assertThat(String.join(" ", steps.get(3).args())).contains("--block-size " + recipe.blockSize());
        assertThatCode(() -> new CommandLine(new Cli()).parseArgs(pipeline.demoArgs())).doesNotThrowAnyException();
        assertThat(String.join(" ", pipeline.demoArgs())).contains("--task " + recipe.task())
                .contains("--block-size " + recipe.blockSize());
        assertThat(pipeline.baseModel()).isEqualTo(work.resolve(recipe.task() + "-base"));
    }

    /**
     * The CLLM steps are the commands that made the shipped CLLMs: SQL by Jacobi Forcing with seed 3 on one libtorch
     * and one OpenBLAS thread (the threads change the result), math by Jacobi Forcing with seed 1, 8 answers per step
     * for 3,000 steps, on the trajectories of the first 8,000 training problems, also on one thread each; only the
     * training steps pin threads, and the pipeline restores them after them.
     */
    @Test
    void theCllmStepsAreTheShippedModelsCommands(@TempDir Path work) {
        String sql = String.join(" ", new TaskPipeline(TaskPipeline.Recipe.SQL, work).steps().get(4).args());
        assertThat(sql).contains("--objective jacobi-forcing --noise-schedule random --noise-window 4 "
                + "--ar-on-prompt false --ar-weight 10 --seed 3 --threads 1 --blas-threads 1")
                .contains("--lr 5e-4 --batch 16 --steps 1500 --label-smoothing 0");
        String math = String.join(" ", new TaskPipeline(TaskPipeline.Recipe.MATH, work).steps().get(4).args());
        assertThat(math).contains("--objective jacobi-forcing --noise-schedule random --noise-window 4 "
                + "--ar-on-prompt false --ar-weight 10 --seed 1 --threads 1 --blas-threads 1")
                .contains("--lr 5e-4 --batch 8 --steps 3000 --label-smoothing 0");
        assertThat(String.join(" ", new TaskPipeline(TaskPipeline.Recipe.MATH, work).steps().get(3).args()))
                .contains("--block-size 16 --max-new-tokens 128 --limit 8000 --no-clean --seed 0");
        for (TaskPipeline.Recipe recipe : TaskPipeline.Recipe.values()) {
            assertThat(new TaskPipeline(recipe, work).steps()).filteredOn(TaskPipeline.Step::pinsThreads)
                    .extracting(TaskPipeline.Step::name).containsExactly("train");
        }
    }

    @Test
    void anUnknownTaskIsNamed() {
        assertThatThrownBy(() -> TaskPipeline.Recipe.of("code")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'code'").hasMessageContaining("sql or math");
    }
}
