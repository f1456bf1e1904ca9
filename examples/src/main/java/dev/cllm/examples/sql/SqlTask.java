package dev.cllm.examples.sql;

import dev.cllm.examples.sql.SqlExample.Split;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A generated text-to-SQL task: databases, and questions about them with their canonical SQL, split into training
 * and held-out sets. Held-out questions are about databases whose tables have column combinations no training
 * table has, and use (pattern, phrasing) pairs no training question uses; every pattern and every word of them
 * occurs in training ({@link SqlTaskGenerator} says exactly how the split is made).
 *
 * <p>The model sees {@link #prompt(SqlExample)}, the schema then the question then a cue, and must continue with
 * the example's SQL:
 * <pre>
 * schema : singer ( id , name , age , country ) concert ( id , name , year , singer_id )
 * question : how many singers have country france ? sql :
 * SELECT COUNT ( * ) FROM singer WHERE country = 'france'
 * </pre>
 * Immutable.
 */
public final class SqlTask {
    private final SqlTaskConfig config;
    private final List<SqlDatabase> databases;
    private final List<SqlExample> examples;
    private final Map<String, SqlDatabase> byId = new LinkedHashMap<>();

    SqlTask(SqlTaskConfig config, List<SqlDatabase> databases, List<SqlExample> examples) {
        this.config = Objects.requireNonNull(config, "config");
        this.databases = List.copyOf(databases);
        this.examples = List.copyOf(examples);
        for (SqlDatabase db : this.databases) {
            if (byId.put(db.id(), db) != null) {
                throw new IllegalArgumentException("duplicate database id " + db.id());
            }
        }
        for (SqlExample e : this.examples) {
            if (!byId.containsKey(e.db())) {
                throw new IllegalArgumentException("example about unknown database " + e.db() + ": " + e);
            }
        }
    }

    /** Generates the task {@code config} describes; the same config gives the same task on any machine. */
    public static SqlTask generate(SqlTaskConfig config) {
        return SqlTaskGenerator.generate(config);
    }

    /**
     * The task {@code config} describes with {@code count} validation questions in place of its held-out ones
     * ({@link #examples(Split) examples(HELD_OUT)} returns them): drawn the same way as the held-out questions, from
     * a random stream of their own, never with a training or held-out question's prompt. For choosing settings
     * (a checkpoint, how far to move a CLLM toward its base model) without looking at the held-out questions. The
     * training examples are those of {@link #generate}; the held-out ones are not included.
     */
    public static SqlTask validation(SqlTaskConfig config, int count) {
        return SqlTaskGenerator.validation(config, count);
    }

    /**
     * Reads a task {@link #write} wrote.
     *
     * @throws java.io.UncheckedIOException if a file cannot be read
     * @throws IllegalArgumentException     naming the file if its content is malformed
     */
    public static SqlTask read(Path dir) {
        return SqlTaskFiles.read(dir);
    }

    public SqlTaskConfig config() {
        return config;
    }

    /** Every database, training ones first. */
    public List<SqlDatabase> databases() {
        return databases;
    }

    /** Every example, training ones first. */
    public List<SqlExample> examples() {
        return examples;
    }

    /** The examples of {@code split}, in order. */
    public List<SqlExample> examples(Split split) {
        return examples.stream().filter(e -> e.split() == split).toList();
    }

    /** The database called {@code id}. */
    public SqlDatabase database(String id) {
        SqlDatabase db = byId.get(id);
        if (db == null) {
            throw new IllegalArgumentException("no database " + id);
        }
        return db;
    }

    /** The model's prompt for {@code example}; the answer is {@link SqlExample#sql()}. */
    public String prompt(SqlExample example) {
        return prompt(database(example.db()), example.question());
    }

    /** {@code schema : <tables> question : <question> sql :}. */
    public static String prompt(SqlDatabase db, String question) {
        return "schema : " + db.schemaText() + " question : " + question + " sql :";
    }

    /**
     * Writes the task to {@code dir} (created if absent; files replaced):
     * <ul>
     *   <li>{@code train.prompts.jsonl}, {@code heldout.prompts.jsonl}: one {@code {"prompt": ..., "answer": ...}}
     *       line per example, as {@link dev.cllm.data.PromptFile} reads them (it rejects other fields);</li>
     *   <li>{@code train.examples.jsonl}, {@code heldout.examples.jsonl}: line i describes prompt i:
     *       {@code {"db", "question", "sql", "pattern", "phrasing"}};</li>
     *   <li>{@code databases.jsonl}: one database per line, schema and rows; {@code task.json}: the config.</li>
     * </ul>
     * The bytes depend only on the task.
     *
     * @throws java.io.UncheckedIOException if a file cannot be written
     */
    public void write(Path dir) {
        SqlTaskFiles.write(this, dir);
    }

    /** {@code dir/train.prompts.jsonl} or {@code dir/heldout.prompts.jsonl}. */
    public static Path promptsFile(Path dir, Split split) {
        return dir.resolve(SqlTaskFiles.prefix(split) + ".prompts.jsonl");
    }

    /** {@code dir/train.examples.jsonl} or {@code dir/heldout.examples.jsonl}, line-aligned with the prompts. */
    public static Path examplesFile(Path dir, Split split) {
        return dir.resolve(SqlTaskFiles.prefix(split) + ".examples.jsonl");
    }

    @Override
    public String toString() {
        return "SqlTask[" + config + ", " + databases.size() + " databases, " + examples.size() + " examples]";
    }
}
