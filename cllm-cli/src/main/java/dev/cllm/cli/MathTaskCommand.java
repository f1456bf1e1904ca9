package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.examples.math.MathEvaluator;
import dev.cllm.examples.math.MathExample.Split;
import dev.cllm.examples.math.MathTask;
import dev.cllm.examples.math.MathTaskConfig;
import dev.cllm.examples.math.MathTokenizerFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code math-task}: writes the arithmetic word-problem task and its tokenizer to a directory: the prompts files to
 * pretrain on and evaluate with, the line-aligned example files for {@link MathEvaluator}, and {@code tokenizer.json}.
 */
@Command(name = "math-task", mixinStandardHelpOptions = true,
        description = "Write the arithmetic word-problem task (prompts, worked solutions) and its tokenizer to a "
                + "directory.")
public final class MathTaskCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the directory to write")
    Path out;

    @Option(names = "--seed", paramLabel = "N", description = "the generator's seed (default: ${DEFAULT-VALUE})")
    long seed = MathTaskConfig.defaults().seed();

    @Option(names = "--train", paramLabel = "N", description = "training problems (default: ${DEFAULT-VALUE})")
    int train = MathTaskConfig.defaults().trainExamples();

    @Option(names = "--held-out", paramLabel = "N", description = "held-out problems (default: ${DEFAULT-VALUE})")
    int heldOut = MathTaskConfig.defaults().heldOutExamples();

    @Override
    public Integer call() {
        MathTask task = MathTask.generate(new MathTaskConfig(seed, train, heldOut));
        task.write(out);
        Path tokenizer = MathTokenizerFiles.write(out);
        System.out.println(new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("train", task.examples(Split.TRAIN).size()).put("held_out", task.examples(Split.HELD_OUT).size())
                .put("train_prompts", MathTask.promptsFile(out, Split.TRAIN).toString())
                .put("held_out_prompts", MathTask.promptsFile(out, Split.HELD_OUT).toString())
                .put("tokenizer", tokenizer.toString()).put("vocab_size", MathTokenizerFiles.vocabulary().size()));
        return 0;
    }
}
