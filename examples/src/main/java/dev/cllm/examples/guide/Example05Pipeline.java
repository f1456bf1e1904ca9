package dev.cllm.examples.guide;

import dev.cllm.examples.SqlPipeline;

import java.nio.file.Path;

/**
 * Example 05: the whole text-to-SQL pipeline, reproducing the shipped {@code models/sql-base} and
 * {@code models/sql-cllm} from nothing: generate the task, pretrain the base model from scratch, export it in bf16,
 * collect its Jacobi trajectories, consistency-train the CLLM, export it, and measure both with the demo.
 *
 * <p>The same as {@code ./cllm pipeline --work DIR}. It takes about an hour on 2 CPU cores (the model cards list
 * each step's wall time); rerunning with the same directory resumes where it stopped.
 *
 * <pre>./cllm example 05 [WORK_DIR]</pre>
 */
public final class Example05Pipeline {
    private Example05Pipeline() {
    }

    public static void main(String[] args) throws Exception {
        Path work = Path.of(args.length > 0 ? args[0] : "pipeline-work");
        SqlPipeline pipeline = new SqlPipeline(work);
        System.out.println("demo report: " + pipeline.run());
        System.out.println("models: " + pipeline.baseModel() + " and " + pipeline.cllmModel()
                + "; commands and wall times: " + work.resolve("pipeline.json"));
    }
}
