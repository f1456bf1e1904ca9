package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.torch.fixtures.RepositoryModels;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.stream.Stream;

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
        List<String> names = new ArrayList<>(List.of("task", "pretrain", "export-base", "collect", "train"));
        names.addAll(continueSteps(recipe));
        names.add("export-cllm");
        assertThat(steps).extracting(TaskPipeline.Step::name).containsExactlyElementsOf(names);
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
     * The CLLM steps are the shipped CLLMs' recipes: SQL by Jacobi Forcing with seed 4, anchored to the base model with
     * weight 10; math by Jacobi Forcing with seed 2 and no anchor, 8 answers per step for 3,000 steps and then stages
     * of 1,500 more, each from the previous stage's checkpoint, on the trajectories of the first 8,000 training
     * problems, exported from the last stage; each in two data-parallel processes of one libtorch and one OpenBLAS
     * thread (fixed: the processes and threads change the result); only the training steps pin threads, and the
     * pipeline restores them after them.
     */
    @Test
    void theCllmStepsAreTheShippedModelsRecipes(@TempDir Path work) {
        String sql = String.join(" ", new TaskPipeline(TaskPipeline.Recipe.SQL, work).steps().get(4).args());
        assertThat(sql).contains("--objective jacobi-forcing --noise-schedule random --noise-window 4 "
                + "--ar-on-prompt false --ar-weight 10 --seed 4 --local-processes 2 --threads 1 --blas-threads 1 "
                + "--anchor-weight 10")
                .contains("--lr 5e-4 --batch 16 --steps 1500 --label-smoothing 0");
        List<TaskPipeline.Step> mathSteps = new TaskPipeline(TaskPipeline.Recipe.MATH, work).steps();
        String math = String.join(" ", mathSteps.get(4).args());
        String stage = "--objective jacobi-forcing --noise-schedule random --noise-window 4 "
                + "--ar-on-prompt false --ar-weight 10 --seed 2 --local-processes 2 --threads 1 --blas-threads 1";
        assertThat(math).contains("--model " + work.resolve("math-base") + " ")
                .contains("--out " + work.resolve("cllm-f32") + " ").contains(stage)
                .contains("--lr 5e-4 --batch 8 --steps 3000 --label-smoothing 0")
                .doesNotContain("--anchor-weight");
        int stages = TaskPipeline.Recipe.MATH.continueStages;
        assertThat(stages).isPositive();
        String from = "cllm-f32";
        for (int i = 1; i <= stages; i++) {
            String out = "cllm-f32-continued" + (i == 1 ? "" : "-" + i);
            String continued = String.join(" ", mathSteps.get(4 + i).args());
            assertThat(continued).as("stage " + (i + 1)).contains("--model " + work.resolve(from) + " ")
                    .contains("--out " + work.resolve(out) + " ").contains(stage)
                    .contains("--lr 5e-4 --batch 8 --steps 1500 --label-smoothing 0");
            from = out;
        }
        assertThat(String.join(" ", mathSteps.get(5 + stages).args()))
                .startsWith("export --model " + work.resolve(from) + " ");
        assertThat(String.join(" ", new TaskPipeline(TaskPipeline.Recipe.SQL, work).steps().get(5).args()))
                .startsWith("export --model " + work.resolve("cllm-f32") + " ");
        assertThat(String.join(" ", new TaskPipeline(TaskPipeline.Recipe.MATH, work).steps().get(3).args()))
                .contains("--block-size 16 --max-new-tokens 128 --limit 8000 --no-clean --seed 0 --local-processes 2");
        for (TaskPipeline.Recipe recipe : TaskPipeline.Recipe.values()) {
            assertThat(new TaskPipeline(recipe, work).steps()).filteredOn(TaskPipeline.Step::pinsThreads)
                    .extracting(TaskPipeline.Step::name).containsExactlyElementsOf(
                            Stream.concat(Stream.of("train"), continueSteps(recipe).stream()).toList());
        }
    }

    /** The names of a recipe's training stages after the first. */
    private static List<String> continueSteps(TaskPipeline.Recipe recipe) {
        List<String> names = new ArrayList<>();
        for (int i = 1; i <= recipe.continueStages; i++) {
            names.add("continue" + (i == 1 ? "" : "-" + i));
        }
        return names;
    }

    @Test
    void allTasksRecordEachTotalAndTheirSum(@TempDir Path work) throws Exception {
        ObjectMapper json = new ObjectMapper();
        ArrayNode pipelines = json.createArrayNode();
        for (String task : List.of("sql", "math")) {
            Path record = work.resolve(task + ".json");
            json.writeValue(record.toFile(), json.createObjectNode().put("total_elapsed_ms",
                    task.equals("sql") ? 60_000 : 3_600_000));
            pipelines.addObject().put("task", task).put("record", record.toString());
        }
        Path all = work.resolve("pipeline.json");
        PipelineCommand.writeTotal(all, pipelines);
        JsonNode total = json.readTree(all.toFile());
        assertThat(total.path("total_elapsed_ms").asLong()).isEqualTo(3_660_000);
        assertThat(total.path("total").asText()).isEqualTo("PT1H1M");
        assertThat(total.path("tasks").path("math").path("total_elapsed_ms").asLong()).isEqualTo(3_600_000);
        assertThat(total.path("tasks").path("sql").path("record").asText()).isEqualTo(work.resolve("sql.json")
                .toString());

        json.writeValue(work.resolve("sql.json").toFile(), json.createObjectNode());
        assertThatThrownBy(() -> PipelineCommand.writeTotal(all, pipelines)).hasMessageContaining("sql.json")
                .hasMessageContaining("total_elapsed_ms");
    }

    /**
     * Each shipped pair's model cards name exactly the commands the pipeline runs (with the card's working directory,
     * the pipeline's default: {@code pipeline-work}, {@code pipeline-work-math}): what ships is what
     * {@code ./cllm pipeline} makes from the shipped base model.
     */
    @ParameterizedTest
    @EnumSource(TaskPipeline.Recipe.class)
    void theShippedCardsNameThePipelinesCommands(TaskPipeline.Recipe recipe) throws Exception {
        String task = recipe.task();
        Path models = RepositoryModels.require(task + "-cllm/README.md").getParent().getParent();
        String base = Files.readString(models.resolve(task + "-base/README.md"));
        String cllm = Files.readString(models.resolve(task + "-cllm/README.md"));
        for (TaskPipeline.Step step : new TaskPipeline(recipe, PipelineCommand.defaultWork(recipe)).steps()) {
            String card = List.of("task", "pretrain", "export-base").contains(step.name()) ? base : cllm;
            assertThat(card).as(task + " " + step.name())
                    .contains("| " + step.name() + " | `" + step.commandLine() + "` |");
        }
    }

    /**
     * A finished step whose recorded command is another recipe's (here an older seed) stops the resume before anything
     * runs, naming the step and both commands; a moved working directory alone does not.
     */
    @Test
    void aResumePastAStepOfAnotherRecipeIsRefused(@TempDir Path work) throws Exception {
        TaskPipeline pipeline = new TaskPipeline(TaskPipeline.Recipe.SQL, work);
        TaskPipeline.Step task = pipeline.steps().get(0);
        String other = task.commandLine().replace("--seed 0", "--seed 7");
        Files.createDirectories(task.done().getParent());
        Files.writeString(task.done(), "{}");
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode().put("work", work.toString());
        root.putObject("steps").putObject("task").put("command", other).put("elapsed_ms", 1000);
        json.writeValue(work.resolve("pipeline.json").toFile(), root);

        assertThatThrownBy(pipeline::run).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("step 'task'").hasMessageContaining(other)
                .hasMessageContaining(task.commandLine()).hasMessageContaining("another --work");
        assertThat(Files.exists(work.resolve("base-f32"))).as("nothing ran").isFalse();

        Path record = work.resolve("pipeline.json");
        Path moved = Path.of("/elsewhere/work");
        String there = task.commandLine().replace(work.toString(), moved.toString());
        assertThatCode(() -> pipeline.checkRecordedCommand(record, task, there, moved.toString()))
                .doesNotThrowAnyException();
        assertThatCode(() -> pipeline.checkRecordedCommand(record, task, task.commandLine(), null))
                .doesNotThrowAnyException();
        assertThatCode(() -> pipeline.checkRecordedCommand(record, task, "", null)).doesNotThrowAnyException();
        assertThatThrownBy(() -> pipeline.checkRecordedCommand(record, task, other, null))
                .hasMessageContaining(record.toString());
    }

    /**
     * A step's recorded wall time counts every sitting: a sitting that fails, or is killed (the record its heartbeat
     * left), leaves its time in the record's {@code unfinished} entry, and the rerun that finishes the step adds it and
     * counts the sittings; an unfinished step recorded with another recipe's command is refused before anything runs.
     */
    @Test
    void aStepResumedAfterAnInterruptionCountsTheTimeOfEverySitting(@TempDir Path work) throws Exception {
        ObjectMapper json = new ObjectMapper();
        Path record = work.resolve("pipeline.json");
        TaskPipeline.Step task = new TaskPipeline(TaskPipeline.Recipe.SQL, work).steps().get(0);
        AtomicReference<JsonNode> seenWhileRunning = new AtomicReference<>();
        Function<String[], String> interrupted = args -> {
            sleep(400);   // several heartbeats of 50 ms
            try {
                seenWhileRunning.set(json.readTree(record.toFile()));
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            throw new IllegalStateException("the machine went away");
        };
        assertThatThrownBy(new TaskPipeline(TaskPipeline.Recipe.SQL, work)
                .withRunner(interrupted, Duration.ofMillis(50))::run).hasMessageContaining("went away");
        JsonNode killed = seenWhileRunning.get();
        assertThat(killed.path("unfinished").path("elapsed_ms").asLong()).as("the heartbeat")
                .isGreaterThanOrEqualTo(50);
        JsonNode first = json.readTree(record.toFile());
        assertThat(first.path("steps").has("task")).isFalse();
        assertThat(first.path("unfinished").path("step").asText()).isEqualTo("task");
        assertThat(first.path("unfinished").path("command").asText()).isEqualTo(task.commandLine());
        long firstSitting = first.path("unfinished").path("elapsed_ms").asLong();
        assertThat(firstSitting).isGreaterThanOrEqualTo(400);
        assertThat(first.path("total_elapsed_ms").asLong()).isEqualTo(firstSitting);

        // a kill leaves the heartbeat's record, not the failure's: resume from that
        json.writeValue(record.toFile(), killed);
        firstSitting = killed.path("unfinished").path("elapsed_ms").asLong();
        // the rerun finishes the task step, then stops at pretraining
        Function<String[], String> resumed = args -> {
            if (!args[0].equals("pretrain")) {
                sleep(100);
                try {
                    Files.createDirectories(task.done().getParent());
                    Files.writeString(task.done(), "{}");
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
                return "{\"ok\":true}\n";
            }
            throw new IllegalStateException("stop here");
        };
        assertThatThrownBy(new TaskPipeline(TaskPipeline.Recipe.SQL, work)
                .withRunner(resumed, Duration.ofMillis(50))::run).hasMessageContaining("stop here");
        JsonNode second = json.readTree(record.toFile());
        JsonNode done = second.path("steps").path("task");
        assertThat(done.path("elapsed_ms").asLong()).isGreaterThanOrEqualTo(firstSitting + 100);
        assertThat(done.path("sittings").asInt()).isEqualTo(2);
        assertThat(done.path("result").path("ok").asBoolean()).isTrue();
        assertThat(second.path("unfinished").path("step").asText()).as("the step under way now").isEqualTo("pretrain");
        assertThat(second.path("unfinished").path("sittings").asInt()).isEqualTo(1);
        assertThat(second.path("total_elapsed_ms").asLong()).isEqualTo(done.path("elapsed_ms").asLong()
                + second.path("unfinished").path("elapsed_ms").asLong());

        // pretraining unfinished under another recipe's command (an older seed): refused, nothing runs
        String other = second.path("unfinished").path("command").asText().replace("--seed 1", "--seed 7");
        ((ObjectNode) second.path("unfinished")).put("command", other);
        json.writeValue(record.toFile(), second);
        Function<String[], String> mustNotRun = args -> {
            throw new AssertionError("ran " + String.join(" ", args));
        };
        assertThatThrownBy(new TaskPipeline(TaskPipeline.Recipe.SQL, work)
                .withRunner(mustNotRun, Duration.ofMillis(50))::run).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("step 'pretrain'").hasMessageContaining(other);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void anUnknownTaskIsNamed() {
        assertThatThrownBy(() -> TaskPipeline.Recipe.of("code")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("'code'").hasMessageContaining("sql or math");
    }
}
