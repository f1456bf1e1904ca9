package dev.cllm.examples.demo;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.math.MathEvaluator;
import dev.cllm.examples.math.MathExample;
import dev.cllm.examples.math.MathExample.Split;
import dev.cllm.examples.math.MathTask;
import dev.cllm.examples.math.MathTaskConfig;
import dev.cllm.examples.math.MathTaskConfigFile;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** The arithmetic word problems, scored by the final answer ({@link MathEvaluator}). */
final class MathDemoTask implements DemoTask {
    private static final Logger LOG = LoggerFactory.getLogger(MathDemoTask.class);

    private final MathTask task;
    private final MathTaskConfig config;
    private final boolean fromFile;
    private final List<MathExample> heldOut;

    private final int validation;

    /** {@code validation}: 0 for the held-out questions, else that many validation questions in their place. */
    private MathDemoTask(MathTaskConfig config, boolean fromFile, int validation) {
        long start = System.nanoTime();
        this.task = validation == 0 ? MathTask.generate(config) : MathTask.validation(config, validation);
        this.validation = validation;
        this.config = config;
        this.fromFile = fromFile;
        this.heldOut = task.examples(Split.HELD_OUT);
        LOG.info("generated the math task ({} examples) in {} ms", task.examples().size(),
                (System.nanoTime() - start) / 1_000_000);
    }

    static MathDemoTask forModel(Path baseDir) {
        return forModel(baseDir, 0);
    }

    /** With {@code validation > 0} validation questions ({@link MathTask#validation}) in place of the held-out. */
    static MathDemoTask forModel(Path baseDir, int validation) {
        MathTaskConfig config = MathTaskConfigFile.read(baseDir);
        boolean present = MathTaskConfigFile.present(baseDir);
        if (!present) {
            LOG.warn("{} has no {}: using the default task {}; the held-out split may not be the one the model was "
                    + "trained against", baseDir, MathTaskConfigFile.FILE_NAME, config);
        }
        return new MathDemoTask(config, present, validation);
    }

    @Override
    public String title() {
        return "arithmetic word problems, worked solutions, held-out story and phrasing pairs"
                + (validation == 0 ? "" : ", validation problems");
    }

    @Override
    public String description() {
        return String.format(Locale.ROOT, "seed %d, %d train, %s%s", config.seed(), config.trainExamples(),
                validation == 0 ? config.heldOutExamples() + " held out"
                        : validation + " validation problems in place of the held-out ones",
                fromFile ? "" : ", defaults: no " + MathTaskConfigFile.FILE_NAME);
    }

    @Override
    public int heldOut() {
        return heldOut.size();
    }

    @Override
    public String prompt(int q) {
        return MathTask.prompt(heldOut.get(q));
    }

    @Override
    public String question(int q) {
        return heldOut.get(q).question();
    }

    @Override
    public String source(int q) {
        MathExample e = heldOut.get(q);
        return e.story().name().toLowerCase(Locale.ROOT) + "/" + e.phrasing().name().toLowerCase(Locale.ROOT);
    }

    /** The story: each has one phrasing among the held-out (and validation) problems. */
    @Override
    public String template(int q) {
        return heldOut.get(q).story().name();
    }

    @Override
    public String gold(int q) {
        return MathTask.answer(heldOut.get(q));
    }

    @Override
    public boolean correct(int q, String output) {
        return MathEvaluator.answerMatch(heldOut.get(q), output);
    }

    @Override
    public boolean exact(int q, String output) {
        return MathEvaluator.exactMatch(MathTask.answer(heldOut.get(q)), output);
    }

    @Override
    public String accuracyKey() {
        return "accuracy";
    }

    @Override
    public String accuracyHeader() {
        return "accuracy";
    }

    @Override
    public String accuracyDefinition() {
        return "accuracy: share of problems whose final answer is right; exact: share whose whole worked solution "
                + "equals the gold one; agrees: share of outputs identical to ar's";
    }

    @Override
    public List<TokenIds> trainingAnswers(Tokenizer tokenizer, int stop) {
        List<TokenIds> out = new ArrayList<>();
        for (MathExample e : task.examples(Split.TRAIN)) {
            out.add(SqlDemoTask.ended(tokenizer.encodeWithoutSpecialTokens(MathTask.answer(e)), stop));
        }
        return out;
    }
}
