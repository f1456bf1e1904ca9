package dev.cllm.cli;

import dev.cllm.examples.sql.SqlEvaluator;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTokenizerFiles;
import dev.cllm.examples.sql.SqlTaskConfig;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.examples.sql.SqlExample.Split;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code sql-task}: writes the text-to-SQL task and its tokenizer to a directory: the prompts files to pretrain on
 * and evaluate with, the line-aligned example files and databases for {@link SqlEvaluator}, and
 * {@code tokenizer.json}.
 */
@Command(name = "sql-task", mixinStandardHelpOptions = true,
        description = "Write the text-to-SQL task (prompts, databases) and its tokenizer to a directory.")
final class SqlTaskCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the directory to write")
    Path out;

    @Option(names = "--seed", paramLabel = "N", description = "the generator's seed (default: ${DEFAULT-VALUE})")
    long seed = SqlTaskConfig.defaults().seed();

    @Option(names = "--train", paramLabel = "N", description = "training questions (default: ${DEFAULT-VALUE})")
    int train = SqlTaskConfig.defaults().trainExamples();

    @Option(names = "--held-out", paramLabel = "N", description = "held-out questions (default: ${DEFAULT-VALUE})")
    int heldOut = SqlTaskConfig.defaults().heldOutExamples();

    @Option(names = "--per-database", paramLabel = "N",
            description = "questions per database (default: ${DEFAULT-VALUE})")
    int perDatabase = SqlTaskConfig.defaults().examplesPerDatabase();

    @Override
    public Integer call() {
        SqlTask task = SqlTask.generate(new SqlTaskConfig(seed, train, heldOut, perDatabase));
        task.write(out);
        Path tokenizer = SqlTokenizerFiles.write(out);
        System.out.println(new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("databases", task.databases().size())
                .put("train", task.examples(Split.TRAIN).size()).put("held_out", task.examples(Split.HELD_OUT).size())
                .put("train_prompts", SqlTask.promptsFile(out, Split.TRAIN).toString())
                .put("held_out_prompts", SqlTask.promptsFile(out, Split.HELD_OUT).toString())
                .put("tokenizer", tokenizer.toString()).put("vocab_size", SqlTokenizerFiles.vocabulary().size()));
        return 0;
    }
}
