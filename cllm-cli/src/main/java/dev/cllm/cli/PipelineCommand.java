package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ./cllm pipeline}: reproduces the shipped text-to-SQL models from nothing ({@link SqlPipeline}). */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = {"Reproduce the shipped text-to-SQL base model and its CLLM from nothing: generate the task, "
                + "pretrain, export bf16, collect Jacobi trajectories, consistency-train, export, and measure with "
                + "the demo. Rerunning resumes where it stopped.",
                "Writes WORK/sql-base and WORK/sql-cllm (with model cards) and WORK/pipeline.json (commands, wall "
                        + "times, results)."})
final class PipelineCommand implements Callable<Integer> {
    @Option(names = "--work", defaultValue = "pipeline-work", paramLabel = "DIR",
            description = "working directory (default: ${DEFAULT-VALUE}); reuse it to resume")
    Path work;

    @Override
    public Integer call() throws Exception {
        SqlPipeline pipeline = new SqlPipeline(work);
        pipeline.run();
        System.out.println(new ObjectMapper().createObjectNode().put("base", pipeline.baseModel().toString())
                .put("cllm", pipeline.cllmModel().toString())
                .put("record", work.resolve("pipeline.json").toString()));
        return 0;
    }
}
