package dev.cllm.examples.guide;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.data.CollectionJob;
import dev.cllm.data.CollectionSummary;
import dev.cllm.train.JacobiEvaluator;
import dev.cllm.train.TorchConsistencyTrainer;
import dev.cllm.data.TrajectoryReader;
import dev.cllm.data.TrajectoryRecord;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Example 04: consistency training, a tiny run. Collect stories260K's own Jacobi trajectories, fine-tune it on them
 * with the CLLM loss (consistency + ω · AR, Kou et al. 2024, equation 7), load the checkpoint it saves, and compare
 * Jacobi decoding before and after on held-out prompts.
 *
 * <pre>
 * ./cllm example 04 [OUT_DIR [STEPS [TRAJECTORIES.jsonl [MODEL_DIR]]]]
 * </pre>
 *
 * <p>{@code OUT_DIR} (default: a new temporary directory) receives {@code trajectories.jsonl} (unless a file from
 * example 03 or {@code ./cllm collect} is given as {@code TRAJECTORIES.jsonl}), the checkpoint {@code cllm/} (a
 * Hugging Face directory that {@link TorchConsistencyModel#load} and {@code ./cllm generate --model} read) and its
 * metrics {@code cllm.metrics.jsonl}. {@code STEPS} defaults to {@value #DEFAULT_STEPS}. {@code -} keeps an
 * argument's default. Running it again with the same arguments resumes: collection and training both pick up where
 * they stopped (and do nothing when they are done).
 *
 * <p><b>This is a demonstration of the API, not a recipe.</b> {@value #DEFAULT_STEPS} steps on the trajectories of
 * {@value #TRAIN_PROMPTS} prompts take about a minute on 2 CPU cores and do not make a CLLM: tokens per pass barely
 * moves, while the weights already change enough to alter part of stories260K's greedy output (a 260K-parameter model
 * is often nearly undecided between its two best tokens, and one changed token changes everything after it). Real
 * consistency training needs far more data and far more steps (the paper trains on the Jacobi trajectories of
 * thousands of prompts per task): see {@code docs/training.md} for real runs with {@code ./cllm collect} and
 * {@code ./cllm train}, including longer ones on stories260K, and example 05 for the text-to-SQL CLLM.
 */
public final class Example04TrainCllm {
    static final int DEFAULT_STEPS = 40;
    static final int BLOCK_SIZE = 16;
    /** New tokens per training prompt: 4 blocks of 16 after the prefill's token. */
    static final int MAX_NEW_TOKENS = 64;
    static final int TRAIN_PROMPTS = 32;
    static final int HELD_OUT_PROMPTS = 4;
    /** Tokens generated per held-out prompt for the before/after comparison. */
    static final int EVAL_NEW_TOKENS = 64;

    /**
     * What the example produced.
     *
     * @param trajectories the training data file
     * @param records      records trained on
     * @param summary      what the trainer reports
     * @param checkpoint   the trained model's directory
     * @param before       {@link JacobiEvaluator} metrics of the base model
     * @param after        the same metrics of the trained model, loaded from {@code checkpoint}
     */
    public record Result(Path trajectories, int records, TrainingSummary summary, Path checkpoint,
                         Map<String, Double> before, Map<String, Double> after) {
    }

    private Example04TrainCllm() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length > 4) {
            throw new IllegalArgumentException(
                    "usage: Example04TrainCllm [OUT_DIR [STEPS [TRAJECTORIES.jsonl [MODEL_DIR]]]]");
        }
        Path outDir = given(args, 0) ? Path.of(args[0]) : Files.createTempDirectory("cllm-example04-");
        int steps = given(args, 1) ? count(args[1], "STEPS") : DEFAULT_STEPS;
        Path trajectories = given(args, 2) ? Path.of(args[2]) : null;
        Path modelDir = given(args, 3) ? Path.of(args[3])
                : Path.of(System.getProperty("cllm.home", ".")).resolve("models").resolve("stories260K");
        run(modelDir, outDir, steps, trajectories, System.out);
    }

    /** Parses a count given on the command line. */
    private static int count(String value, String name) {
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(name + " must be a whole number, got '" + value + "'");
        }
    }

    private static boolean given(String[] args, int i) {
        return args.length > i && !args[i].equals("-");
    }

    /**
     * Collects (unless {@code trajectories} is given), trains {@code steps} steps into {@code outDir/cllm}, and
     * compares Jacobi decoding before and after.
     */
    public static Result run(Path modelDir, Path outDir, int steps, Path trajectories, PrintStream out) {
        if (steps < 1) {
            throw new IllegalArgumentException("STEPS must be >= 1, got " + steps);
        }
        if (trajectories != null && !Files.isRegularFile(trajectories)) {
            throw new IllegalArgumentException("TRAJECTORIES.jsonl " + trajectories + ": no such file");
        }
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        // Held-out prompts: drawn like the training prompts, from another seed, never trained on.
        List<TokenIds> heldOut = randomPrompts(HELD_OUT_PROMPTS, 2024);
        // JacobiEvaluator decodes the prompts with Jacobi (n = 16, EOS ignored) and compares with the first model it
        // evaluates (the base model): tokens_per_pass is the speed, ar_agreement and exact_match the fidelity.
        JacobiEvaluator evaluator = new JacobiEvaluator(heldOut, BLOCK_SIZE, EVAL_NEW_TOKENS);
        Map<String, Double> before;

        // 1. The training data: the base model's own Jacobi trajectories (example 03 shows them in detail).
        Path data = trajectories;
        try (ConsistencyModel base = TorchConsistencyModel.load(modelDir)) {
            if (data == null) {
                data = outDir.resolve("trajectories.jsonl");
                List<Prompt> prompts = new ArrayList<>();
                List<TokenIds> ids = randomPrompts(TRAIN_PROMPTS, 7);
                for (int i = 0; i < ids.size(); i++) {
                    prompts.add(Prompt.of(i, ids.get(i)));
                }
                // CollectionJob: the collector, the repetition filter and a resumable JSON lines file in one.
                CollectionSummary c = CollectionJob.builder().model(base)
                        .collector(JacobiTrajectoryCollector.builder().blockSize(BLOCK_SIZE)
                                .maxNewTokens(MAX_NEW_TOKENS).build())
                        .prompts(prompts).output(data).build().run();
                out.printf(Locale.ROOT, "collected %d prompts: %d records kept, %d dropped as repetitive "
                        + "(%.1f s%s)%n", c.prompts(), c.records(), c.droppedRepetitive(), c.elapsedMillis() / 1e3,
                        c.resumedPrompts() > 0 ? "; " + c.resumedPrompts() + " prompts done by an earlier run" : "");
            }
            before = evaluator.evaluate(base, 0);
        }
        List<TrajectoryRecord> records = TrajectoryReader.readAll(data);
        out.printf(Locale.ROOT, "training data: %s, %d records%n", data, records.size());

        // 2. Consistency training. The defaults are the CLLM authors' (global consistency loss, forward KL, AR weight
        //    10 with label smoothing 0.1, one sampled state per record, warm-up 3% then cosine decay, AdamW); a
        //    260K-parameter model takes a larger learning rate than their 7B models' 2e-5.
        TrainingConfig config = TrainingConfig.builder()
                .maxSteps(steps)
                .learningRate(1e-4)
                .batchSize(4)
                .saveEvery(0)          // one checkpoint, at the end
                .seed(1)
                .build();
        Path checkpoint = outDir.resolve("cllm");
        TrainingSummary summary = TorchConsistencyTrainer.builder()
                .baseModel(modelDir)
                .trajectories(records, data.getFileName() + " (" + records.size() + " records)")
                .config(config)
                .output(checkpoint)      // created; a rerun with the same settings resumes from it
                .build()
                .train();
        if (summary.resumedFromStep() >= summary.steps()) {
            out.printf(Locale.ROOT, "%s already holds %d trained steps: nothing left to train%n", checkpoint,
                    summary.steps());
        } else {
            // the losses of the last step: consistency (mean KL per position) + omega x AR (cross-entropy)
            out.printf(Locale.ROOT, "trained %d steps in %.1f s: loss %.3f = consistency %.3f + %.0f x AR %.3f%n",
                    summary.steps() - summary.resumedFromStep(), summary.elapsedMillis() / 1e3, summary.finalLoss(),
                    summary.consistencyLoss(), config.arWeight(), summary.arLoss());
        }

        // 3. The checkpoint is an ordinary Hugging Face directory: load it like any model and decode with Jacobi.
        Map<String, Double> after;
        try (ConsistencyModel cllm = TorchConsistencyModel.load(checkpoint)) {
            after = evaluator.evaluate(cllm, summary.steps());
        }
        out.printf(Locale.ROOT, "%-42s %6s  %6s%n", String.format(Locale.ROOT, "held-out prompts (%d x %d tokens, "
                + "n = %d)", HELD_OUT_PROMPTS, EVAL_NEW_TOKENS, BLOCK_SIZE), "before", "after");
        // tokens_per_pass: Jacobi speed. ar_agreement: share of output positions equal to the base model's greedy
        // output (one early difference changes everything after it); forced_agreement: share of positions where the
        // model, fed the base model's output, predicts the same next token; exact_match: share of whole outputs.
        for (String metric : List.of("tokens_per_pass", "ar_agreement", "forced_agreement", "exact_match")) {
            out.printf(Locale.ROOT, "  %-40s %6.3f  %6.3f%n", metric, before.get(metric), after.get(metric));
        }
        out.println("checkpoint: " + checkpoint + " (try: ./cllm generate --model " + checkpoint
                + " --prompt-ids " + joined(heldOut.get(0)) + " --decoder jacobi --no-stop)");
        return new Result(data, records.size(), summary, checkpoint, before, after);
    }

    /** {@code count} prompts {@code [1, a, b, c]}: BOS and three tokens drawn from stories260K's non-byte pieces. */
    static List<TokenIds> randomPrompts(int count, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        List<TokenIds> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(TokenIds.of(1, random.nextInt(259, 512), random.nextInt(259, 512), random.nextInt(259, 512)));
        }
        return out;
    }

    private static String joined(TokenIds ids) {
        return String.join(",", ids.stream().mapToObj(Integer::toString).toList());
    }
}
