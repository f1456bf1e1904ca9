package dev.cllm.cli;

import dev.cllm.examples.demo.TaskConfigFile;
import dev.cllm.examples.sql.SqlTokenizerFiles;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.fixtures.TinyCheckpoints;

import java.nio.file.Files;
import java.nio.file.Path;

/** Tiny random checkpoints that carry the text-to-SQL task's tokenizer and a small task config, for CLI tests. */
final class SqlCheckpoints {
    /** A small task, so that generating it takes well under a second. */
    static final String TASK = "{\"seed\":3,\"train_examples\":1000,\"held_out_examples\":12,"
            + "\"examples_per_database\":6}";

    private SqlCheckpoints() {
    }

    /** The tiny shape with the task's vocabulary and room for its prompts. */
    static LlamaConfig.Builder shape() {
        return TinyCheckpoints.base().vocabSize(SqlTokenizerFiles.vocabulary().size()).maxPositions(160);
    }

    /** Writes random f32 weights of {@code config} (drawn from {@code seed}), the tokenizer and the task config. */
    static Path write(Path dir, LlamaConfig config, String name, long seed) throws Exception {
        Path d = new TinyCheckpoints.Variant(name, config, ComputeDtype.F32, Long.MAX_VALUE)
                .write(dir.resolve(name), seed);
        SqlTokenizerFiles.write(d);
        Files.writeString(d.resolve(TaskConfigFile.FILE_NAME), TASK);
        return d;
    }
}
