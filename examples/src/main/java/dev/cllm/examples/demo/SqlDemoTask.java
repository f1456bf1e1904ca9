package dev.cllm.examples.demo;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.sql.SqlEvaluator;
import dev.cllm.examples.sql.SqlExample;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTaskConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The text-to-SQL task, scored by execution on SQLite ({@link SqlEvaluator}). */
final class SqlDemoTask implements DemoTask {
    private static final Logger LOG = LoggerFactory.getLogger(SqlDemoTask.class);

    private final SqlTask task;
    private final SqlTaskConfig config;
    private final boolean fromFile;
    private final List<SqlExample> heldOut;
    private final SqlEvaluator evaluator;

    private final int validation;

    /** {@code validation}: 0 for the held-out questions, else that many validation questions in their place. */
    private SqlDemoTask(SqlTaskConfig config, boolean fromFile, int validation) {
        long start = System.nanoTime();
        this.task = validation == 0 ? SqlTask.generate(config) : SqlTask.validation(config, validation);
        this.validation = validation;
        this.config = config;
        this.fromFile = fromFile;
        this.heldOut = task.examples(Split.HELD_OUT);
        this.evaluator = SqlEvaluator.open(task.databases());
        LOG.info("generated {} in {} ms", task, (System.nanoTime() - start) / 1_000_000);
    }

    static SqlDemoTask forModel(Path baseDir) {
        return forModel(baseDir, 0);
    }

    /** {@code validation > 0}: that many validation questions ({@link SqlTask#validation}) in place of the held-out. */
    static SqlDemoTask forModel(Path baseDir, int validation) {
        SqlTaskConfig config = TaskConfigFile.read(baseDir);
        boolean present = TaskConfigFile.present(baseDir);
        if (!present) {
            LOG.warn("{} has no {}: using the default task {}; the held-out split may not be the one the model was "
                    + "trained against", baseDir, TaskConfigFile.FILE_NAME, config);
        }
        return new SqlDemoTask(config, present, validation);
    }

    @Override
    public String title() {
        return validation == 0 ? "text-to-SQL on held-out questions (unseen schemas and phrasings)"
                : "text-to-SQL on validation questions (unseen schemas and phrasings, drawn like the held-out ones)";
    }

    @Override
    public String description() {
        return String.format(Locale.ROOT, "seed %d, %d train, %s, %d per database%s", config.seed(),
                config.trainExamples(), validation == 0 ? config.heldOutExamples() + " held out"
                        : validation + " validation questions in place of the held-out ones",
                config.examplesPerDatabase(), fromFile ? "" : ", defaults: no " + TaskConfigFile.FILE_NAME);
    }

    @Override
    public int heldOut() {
        return heldOut.size();
    }

    @Override
    public String prompt(int q) {
        return task.prompt(heldOut.get(q));
    }

    @Override
    public String question(int q) {
        return heldOut.get(q).question();
    }

    @Override
    public String source(int q) {
        return heldOut.get(q).db();
    }

    /** The SQL pattern: each has one phrasing among the held-out (and validation) questions. */
    @Override
    public String template(int q) {
        return heldOut.get(q).pattern().name();
    }

    @Override
    public String gold(int q) {
        return heldOut.get(q).sql();
    }

    @Override
    public boolean correct(int q, String output) {
        return evaluator.executionMatch(heldOut.get(q), output);
    }

    @Override
    public boolean exact(int q, String output) {
        return SqlEvaluator.exactMatch(heldOut.get(q).sql(), output);
    }

    @Override
    public String accuracyKey() {
        return "exec_accuracy";
    }

    @Override
    public String accuracyHeader() {
        return "exec acc";
    }

    @Override
    public String accuracyDefinition() {
        return "exec acc: share of questions whose predicted SQL returns the gold SQL's result on SQLite; exact: share "
                + "equal to the gold SQL; agrees: share of outputs identical to ar's";
    }

    @Override
    public List<TokenIds> trainingAnswers(Tokenizer tokenizer, int stop) {
        List<TokenIds> out = new ArrayList<>();
        for (SqlExample e : task.examples(Split.TRAIN)) {
            out.add(ended(tokenizer.encodeWithoutSpecialTokens(e.sql()), stop));
        }
        return out;
    }

    static TokenIds ended(int[] ids, int stop) {
        if (stop < 0) {
            return TokenIds.of(ids);
        }
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = stop;
        return TokenIds.of(out);
    }

    @Override
    public void close() {
        evaluator.close();
    }
}
