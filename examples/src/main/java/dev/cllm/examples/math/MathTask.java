package dev.cllm.examples.math;

import dev.cllm.examples.math.MathExample.Split;

import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * A generated task of grade-school arithmetic word problems with worked solutions, split into training and held-out
 * sets. Held-out problems use (story, phrasing) pairs no training problem uses; every story, every phrasing and every
 * word of them occurs in training ({@link MathTaskGenerator} says exactly how the split is made).
 *
 * <p>The model sees {@link #prompt(MathExample)}, the question then a cue, and must continue with
 * {@link #answer(MathExample)}, the worked solution; it is scored by its final answer ({@link MathEvaluator}):
 * <pre>
 * question : tom has 12 apples . then he buys 5 more apples . then he eats 3 apples . then he shares the apples
 * equally among 2 friends . how many apples does each friend get ? answer :
 * tom has 12 apples . he buys 5 more . 12 + 5 = 17 . he eats 3 . 17 - 3 = 14 . he shares them among 2 friends .
 * 14 / 2 = 7 . final answer 7
 * </pre>
 * Numbers are written as usual here; the tokenizer reads them digit by digit ({@link MathTokenizerFiles}).
 * Immutable.
 */
public final class MathTask {
    private final MathTaskConfig config;
    private final List<MathExample> examples;

    MathTask(MathTaskConfig config, List<MathExample> examples) {
        this.config = Objects.requireNonNull(config, "config");
        this.examples = List.copyOf(examples);
    }

    /** Generates the task {@code config} describes; the same config gives the same task on any machine. */
    public static MathTask generate(MathTaskConfig config) {
        return MathTaskGenerator.generate(config);
    }

    /**
     * The task {@code config} describes with {@code count} validation problems in place of its held-out ones
     * ({@link #examples(Split) examples(HELD_OUT)} returns them): drawn the same way as the held-out problems, from
     * a random stream of their own, never with a held-out problem's question. For choosing settings without looking
     * at the held-out problems. The training examples are those of {@link #generate}.
     */
    public static MathTask validation(MathTaskConfig config, int count) {
        return MathTaskGenerator.validation(config, count);
    }

    /**
     * Reads a task {@link #write} wrote.
     *
     * @throws java.io.UncheckedIOException if a file cannot be read
     * @throws IllegalArgumentException     naming the file if its content is malformed
     */
    public static MathTask read(Path dir) {
        return MathTaskFiles.read(dir);
    }

    public MathTaskConfig config() {
        return config;
    }

    /** Every example, training ones first. */
    public List<MathExample> examples() {
        return examples;
    }

    /** The examples of {@code split}, in order. */
    public List<MathExample> examples(Split split) {
        return examples.stream().filter(e -> e.split() == split).toList();
    }

    /** The model's prompt for {@code example}: {@code question : <question> answer :}. */
    public static String prompt(MathExample example) {
        return prompt(example.question());
    }

    /** {@code question : <question> answer :}. */
    public static String prompt(String question) {
        return "question : " + question + " answer :";
    }

    /** What the model must continue the prompt with: the worked solution, ending in {@code final answer <n>}. */
    public static String answer(MathExample example) {
        return example.solution();
    }

    /**
     * Writes the task to {@code dir} (created if absent; files replaced):
     * <ul>
     *   <li>{@code train.prompts.jsonl}, {@code heldout.prompts.jsonl}: one {@code {"prompt": ..., "answer": ...}}
     *       line per example, as {@link dev.cllm.data.PromptFile} reads them (it rejects other fields);</li>
     *   <li>{@code train.examples.jsonl}, {@code heldout.examples.jsonl}: line i describes prompt i:
     *       {@code {"question", "solution", "final_answer", "story", "phrasing"}};</li>
     *   <li>{@code task.json}: the config.</li>
     * </ul>
     * The bytes depend only on the task.
     *
     * @throws java.io.UncheckedIOException if a file cannot be written
     */
    public void write(Path dir) {
        MathTaskFiles.write(this, dir);
    }

    /** {@code dir/train.prompts.jsonl} or {@code dir/heldout.prompts.jsonl}. */
    public static Path promptsFile(Path dir, Split split) {
        return dir.resolve(MathTaskFiles.prefix(split) + ".prompts.jsonl");
    }

    /** {@code dir/train.examples.jsonl} or {@code dir/heldout.examples.jsonl}, line-aligned with the prompts. */
    public static Path examplesFile(Path dir, Split split) {
        return dir.resolve(MathTaskFiles.prefix(split) + ".examples.jsonl");
    }

    @Override
    public String toString() {
        return "MathTask[" + config + ", " + examples.size() + " examples]";
    }
}
