package dev.cllm.examples.demo;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.math.MathTaskConfigFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A task the demo runs its decoders on: held-out questions with their prompts and gold answers, how outputs are scored,
 * and the training answers that fill the candidate decoders' n-gram pool. The task is regenerated in memory from the
 * config file the base model was trained against ({@code sql-task.json}, {@code math-task.json}).
 */
public interface DemoTask extends AutoCloseable {

    /** What the demo's header calls the task, e.g. {@code text-to-SQL on held-out questions}. */
    String title();

    /** How the task was generated, e.g. {@code seed 0, 16000 train, 200 held out}. */
    String description();

    /** The held-out questions the task has. */
    int heldOut();

    /** The prompt text of held-out question {@code q}. */
    String prompt(int q);

    /** The question alone (for the trajectory view). */
    String question(int q);

    /** Where question {@code q} comes from, for the trajectory view (a database id); may be empty. */
    String source(int q);

    /**
     * The template question {@code q} was made from, for intervals that treat templates rather than questions as
     * the independent draws (questions of one unseen template tend to succeed or fail together); empty: unknown.
     */
    default String template(int q) {
        return "";
    }

    /** The templates of the first {@code n} questions, in order; null when any is unknown. */
    default List<String> templates(int n) {
        List<String> out = new ArrayList<>(n);
        for (int q = 0; q < n; q++) {
            String t = template(q);
            if (t.isEmpty()) {
                return null;
            }
            out.add(t);
        }
        return out;
    }

    /** The gold answer text of question {@code q}. */
    String gold(int q);

    /** Whether {@code output} answers question {@code q} correctly (the accuracy's notion of correct). */
    boolean correct(int q, String output);

    /** Whether {@code output} equals the gold answer token for token. */
    boolean exact(int q, String output);

    /** The JSON name and the table header of the accuracy column: {@code exec_accuracy}/{@code exec acc}. */
    String accuracyKey();

    String accuracyHeader();

    /** What the accuracy column means, for the table's footnotes. */
    String accuracyDefinition();

    /** The training answers as token ids, each ended by {@code stop} (-1: none), for the n-gram pool. */
    List<TokenIds> trainingAnswers(Tokenizer tokenizer, int stop);

    @Override
    default void close() {
    }

    /** The task {@code name} ({@code sql} or {@code math}) as the base model in {@code baseDir} was trained on it. */
    static DemoTask of(String name, Path baseDir) {
        return switch (name) {
            case "sql" -> SqlDemoTask.forModel(baseDir);
            case "math" -> MathDemoTask.forModel(baseDir);
            default -> throw new IllegalArgumentException("--task " + name + ": unknown task (sql or math)");
        };
    }

    /**
     * The task {@code name} with {@code count} validation questions in place of its held-out ones: drawn like them,
     * never equal to one ({@code SqlTask.validation}, {@code MathTask.validation}), for choosing settings without
     * looking at the held-out questions. {@link #heldOut()} and the per-question methods then address the validation
     * questions.
     */
    static DemoTask validation(String name, Path baseDir, int count) {
        if (count < 1) {
            throw new IllegalArgumentException("validation questions must be >= 1, got " + count);
        }
        return switch (name) {
            case "sql" -> SqlDemoTask.forModel(baseDir, count);
            case "math" -> MathDemoTask.forModel(baseDir, count);
            default -> throw new IllegalArgumentException("--task " + name + ": unknown task (sql or math)");
        };
    }

    /** Whether {@code baseDir} holds the config file of task {@code name} ({@link #configFileName}). */
    static boolean hasConfig(String name, Path baseDir) {
        return switch (name) {
            case "sql" -> TaskConfigFile.present(baseDir);
            case "math" -> MathTaskConfigFile.present(baseDir);
            default -> throw new IllegalArgumentException("--task " + name + ": unknown task (sql or math)");
        };
    }

    /** The file a base model's directory names its task's generator config in: {@code sql-task.json} and so on. */
    static String configFileName(String name) {
        return switch (name) {
            case "sql" -> TaskConfigFile.FILE_NAME;
            case "math" -> MathTaskConfigFile.FILE_NAME;
            default -> throw new IllegalArgumentException("--task " + name + ": unknown task (sql or math)");
        };
    }

    /** The task names {@link #of} knows. */
    Set<String> NAMES = Set.of("sql", "math");
}
