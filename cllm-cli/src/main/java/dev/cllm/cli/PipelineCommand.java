package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ./cllm pipeline}: reproduces a task's shipped models from nothing ({@link TaskPipeline}). */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = {"Reproduce a task's shipped base model and its CLLM from nothing: generate the task, "
                + "pretrain, export bf16, collect Jacobi trajectories, consistency-train (math: in stages, "
                + "train then continue, continue-2, ...), export, and measure with the demo. Rerunning resumes where "
                + "it stopped.",
                "Writes WORK/TASK-base and WORK/TASK-cllm (with model cards) and WORK/pipeline.json (commands, wall "
                        + "times, results); with --task all, each task's in DIR/TASK and DIR/pipeline.json with "
                        + "their wall times and the total."})
final class PipelineCommand implements Callable<Integer> {
    @Option(names = "--task", paramLabel = "sql|math|all", defaultValue = "sql",
            description = "which shipped models to rebuild: sql (text-to-SQL, the default), math (arithmetic word "
                    + "problems) or all (one after the other)")
    String task;

    @Option(names = "--work", paramLabel = "DIR",
            description = "working directory (default: pipeline-work for sql, pipeline-work-math for math; with "
                    + "--task all, DIR/sql and DIR/math); reuse it to resume")
    Path work;

    @Override
    public Integer call() throws Exception {
        List<TaskPipeline.Recipe> recipes = task.equals("all")
                ? List.of(TaskPipeline.Recipe.values()) : List.of(TaskPipeline.Recipe.of(task));
        ObjectMapper json = new ObjectMapper();
        ArrayNode results = json.createArrayNode();
        for (TaskPipeline.Recipe recipe : recipes) {
            TaskPipeline pipeline = new TaskPipeline(recipe, workFor(recipe));
            pipeline.run();
            results.addObject().put("task", recipe.task()).put("base", pipeline.baseModel().toString())
                    .put("cllm", pipeline.cllmModel().toString())
                    .put("record", workFor(recipe).resolve("pipeline.json").toString());
        }
        if (results.size() == 1) {
            System.out.println(json.writeValueAsString(results.get(0)));
        } else {
            Path record = allTasksWork().resolve("pipeline.json");
            writeTotal(record, results);
            System.out.println(json.writeValueAsString(json.createObjectNode().put("record", record.toString())
                    .set("pipelines", results)));
        }
        return 0;
    }

    /**
     * Writes the record of {@code --task all}: each task's record and total wall time (the sum of its steps' times,
     * as its own {@code pipeline.json} gives it, so a resumed run counts each step once) and their sum.
     */
    static void writeTotal(Path record, ArrayNode pipelines) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        ObjectNode tasks = root.putObject("tasks");
        long total = 0;
        for (JsonNode p : pipelines) {
            Path taskRecord = Path.of(p.path("record").asText());
            long millis = json.readTree(taskRecord.toFile()).path("total_elapsed_ms").asLong(-1);
            if (millis < 0) {
                throw new IllegalStateException(taskRecord + ": no total_elapsed_ms");
            }
            tasks.putObject(p.path("task").asText()).put("record", taskRecord.toString())
                    .put("total_elapsed_ms", millis).put("total", Duration.ofMillis(millis).toString());
            total += millis;
        }
        TaskPipeline.writeWithTotal(record, root, total);
    }

    /** The working directory of {@code --task all}: each task's below it, and the total record in it. */
    private Path allTasksWork() {
        return work != null ? work : Path.of("pipeline-work");
    }

    private Path workFor(TaskPipeline.Recipe recipe) {
        if (task.equals("all")) {
            return allTasksWork().resolve(recipe.task());
        }
        return work != null ? work : defaultWork(recipe);
    }

    /** A task's working directory without {@code --work}: the one its model cards name. */
    static Path defaultWork(TaskPipeline.Recipe recipe) {
        return Path.of(recipe == TaskPipeline.Recipe.SQL ? "pipeline-work" : "pipeline-work-" + recipe.task());
    }
}
