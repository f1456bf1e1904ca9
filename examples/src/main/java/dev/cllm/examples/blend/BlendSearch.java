package dev.cllm.examples.blend;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.Decoder;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.examples.demo.DecodeSample;
import dev.cllm.examples.demo.DemoReport.AccuracyGap;
import dev.cllm.examples.demo.DemoRun;
import dev.cllm.examples.demo.DemoTask;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.train.HfExport;
import dev.cllm.train.WeightAverage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;

/**
 * Moves a CLLM back toward its base model by as little as a validation split allows: the blend
 * {@code B + a (C - B)} of base model B and CLLM C (weights {@code 1 - a} and {@code a}, {@link WeightAverage}) for
 * each candidate {@code a}, each decoded with Jacobi decoding on validation questions of the task the base model was
 * trained on ({@link DemoTask#validation}: drawn like the held-out questions, never one of them), scored against the
 * base model's accuracy under autoregressive decoding there. The chosen blend is the one with the most tokens per
 * pass among those whose validation accuracy is at most {@code tolerance} under the base model's (ties: the larger
 * {@code a}); when none is, the most accurate one (ties: more tokens per pass), reported as missing the tolerance.
 *
 * <p>Why: consistency training trades accuracy for tokens per pass, and how much of each a run ends with varies from
 * seed to seed. Moving the weights part of the way back to the base model is a dial between the two that costs no
 * training (docs/training.md measures it), and the validation questions set it without looking at the held-out ones.
 *
 * <p>Each candidate is written in the output's storage precision and decoded as written, so the validated weights are
 * the ones delivered: the chosen candidate's files go to {@code out}, with {@value #REPORT} holding every candidate's
 * numbers. Candidates are written inside {@code out}, in a hidden directory removed afterwards (also on failure, Ctrl-C
 * or SIGTERM; a search cut short starts over, at seconds to minutes per candidate).
 */
public final class BlendSearch {
    /** The search's report, written into the output directory. */
    public static final String REPORT = "blend.json";
    /**
     * The default candidates: the CLLM itself, then ever closer to the base model. On the text-to-SQL runs measured
     * (docs/training.md) tokens per pass fell steeply between 2/3 and 1/2, hence 3/5 between them.
     */
    public static final List<Double> DEFAULT_ALPHAS = List.of(1.0, 7.0 / 8, 5.0 / 6, 4.0 / 5, 3.0 / 4, 2.0 / 3, 3.0 / 5,
            1.0 / 2);

    private static final Logger LOG = LoggerFactory.getLogger(BlendSearch.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** JSON files of the CLLM's directory a blend does not copy: its config, weight index and report are its own. */
    private static final Set<String> NOT_COPIED = Set.of("config.json", "model.safetensors.index.json", REPORT);

    private BlendSearch() {
    }

    /**
     * What to search. Options are named after the command line's flags, which error messages quote.
     *
     * @param task         {@code sql} or {@code math}: the base model's task, whose validation questions score
     * @param base         the base model's checkpoint directory
     * @param cllm         the CLLM's, fine-tuned from the base model
     * @param out          the directory to write the chosen blend to (absent or empty)
     * @param validation   validation questions
     * @param blockSize    the Jacobi block size the blends are decoded with
     * @param maxNewTokens most tokens per answer
     * @param alphas       the candidates' share of the CLLM, each in (0, 1]
     * @param tolerance    accuracy, in points (0-100), the chosen blend may lose against the base model
     * @param storage      the blends' storage precision
     */
    public record Options(String task, Path base, Path cllm, Path out, int validation, int blockSize,
                          int maxNewTokens, List<Double> alphas, double tolerance, ComputeDtype storage) {
        public Options {
            if (!DemoTask.NAMES.contains(task)) {
                throw new IllegalArgumentException("--task " + task + ": unknown task (sql or math)");
            }
            if (validation < 1) {
                throw new IllegalArgumentException("--validation must be >= 1, got " + validation);
            }
            if (blockSize < 2) {
                throw new IllegalArgumentException("--block-size must be >= 2, got " + blockSize);
            }
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("--max-new-tokens must be >= 1, got " + maxNewTokens);
            }
            alphas = List.copyOf(alphas);
            if (alphas.isEmpty()) {
                throw new IllegalArgumentException("--alphas: give at least one");
            }
            for (double a : alphas) {
                if (!(a > 0 && a <= 1)) {
                    throw new IllegalArgumentException("--alphas: " + a + " is not in (0, 1] (1 is the CLLM itself, "
                            + "values toward 0 approach the base model)");
                }
            }
            if (alphas.stream().distinct().count() != alphas.size()) {
                throw new IllegalArgumentException("--alphas: " + alphas + " repeats a value");
            }
            if (!(tolerance >= 0 && tolerance <= 100)) {
                throw new IllegalArgumentException("--tolerance must be in [0, 100] points, got " + tolerance);
            }
            if (storage == ComputeDtype.AUTO) {
                throw new IllegalArgumentException("--dtype: choose f32, bf16 or f16");
            }
        }
    }

    /**
     * One candidate on the validation questions.
     *
     * @param alpha         its share of the CLLM
     * @param correct       questions answered correctly
     * @param questions     questions decoded
     * @param tokensPerPass decoded tokens per decoding pass (as the demo counts them, {@link DecodeSample})
     * @param gap           its accuracy against the base model's, question by question (null when not compared)
     */
    public record Candidate(double alpha, int correct, int questions, double tokensPerPass, AccuracyGap gap) {
        /** A candidate not compared question by question. */
        public Candidate(double alpha, int correct, int questions, double tokensPerPass) {
            this(alpha, correct, questions, tokensPerPass, null);
        }

        /** The share answered correctly. */
        public double accuracy() {
            return (double) correct / questions;
        }
    }

    /**
     * What the search found.
     *
     * @param task        the task's description, naming the validation questions
     * @param baseCorrect validation questions the base model answers correctly under autoregressive decoding
     * @param questions   validation questions
     * @param candidates  every candidate, in the order given
     * @param chosen      the candidate written to {@code out}
     * @param met         whether the chosen candidate is within the tolerance
     * @param options     what was asked
     */
    public record Result(String task, int baseCorrect, int questions, List<Candidate> candidates, Candidate chosen,
                         boolean met, Options options) {
        public Result {
            candidates = List.copyOf(candidates);
        }

        public double baseAccuracy() {
            return (double) baseCorrect / questions;
        }

        /** The result as {@value #REPORT} holds it. */
        public ObjectNode toJson() {
            ObjectNode o = JSON.createObjectNode();
            o.put("task", options.task()).put("validation", task).put("questions", questions)
                    .put("block_size", options.blockSize()).put("max_new_tokens", options.maxNewTokens())
                    .put("tolerance_points", options.tolerance())
                    .put("dtype", options.storage().name().toLowerCase(Locale.ROOT))
                    .put("base", options.base().toString()).put("cllm", options.cllm().toString())
                    .put("base_accuracy", baseAccuracy());
            ArrayNode rows = o.putArray("candidates");
            for (Candidate c : candidates) {
                ObjectNode row = rows.addObject().put("alpha", c.alpha()).put("accuracy", c.accuracy())
                        .put("tokens_per_pass", c.tokensPerPass()).put("chosen", c == chosen);
                if (c.gap() != null) {
                    row.put("points_against_base", c.gap().points());
                    c.gap().putIntervals(row);
                }
            }
            o.put("chosen_alpha", chosen.alpha()).put("within_tolerance", met);
            return o;
        }
    }

    /**
     * Runs the search and writes the chosen blend, then {@value #REPORT} (last: its presence marks a finished search),
     * into {@code options.out()}, created if absent. Candidates are written into a hidden directory inside it; at most
     * three exist at a time (the best within the tolerance so far, the most accurate so far, the one being scored).
     *
     * @throws IllegalArgumentException naming the option or directory when the input is unusable
     * @throws UncheckedIOException     when a file cannot be read or written
     */
    public static Result run(Options o) {
        Path out = o.out().toAbsolutePath().normalize();
        if (!HfExport.isAbsentOrEmptyDirectory(out)) {
            throw new IllegalArgumentException("--out " + o.out() + ": exists and is not an empty directory");
        }
        requireCheckpoint(o.base(), "--base");
        requireCheckpoint(o.cllm(), "--cllm");
        if (!DemoTask.hasConfig(o.task(), o.base())) {
            throw new IllegalArgumentException("--base " + o.base() + ": no " + DemoTask.configFileName(o.task())
                    + " (the " + o.task() + " task it was trained on): is --task right? The validation questions "
                    + "must come from the base model's own task");
        }
        if (!WeightAverage.sameArchitecture(LlamaConfig.read(o.base().resolve("config.json")),
                LlamaConfig.read(o.cllm().resolve("config.json")))) {
            throw new IllegalArgumentException("--cllm " + o.cllm() + ": its config differs from the base model's ("
                    + o.base() + "); the CLLM must be fine-tuned from the base model");
        }
        boolean created = !Files.exists(out);
        AtomicReference<Path> candidates = new AtomicReference<>();
        AtomicBoolean finished = new AtomicBoolean();
        // Ctrl-C or SIGTERM ends the JVM without running the finally block below: clean up then too
        Thread cleanup = new Thread(() -> cleanUp(candidates.get(), created && !finished.get() ? out : null),
                "blend-cleanup");
        Runtime.getRuntime().addShutdownHook(cleanup);
        try (DemoTask task = DemoTask.validation(o.task(), o.base(), o.validation())) {
            Files.createDirectories(out);
            candidates.set(Files.createTempDirectory(out, ".candidates-"));
            List<TokenIds> prompts = new ArrayList<>();
            Scored ar;
            try (TorchConsistencyModel base = TorchConsistencyModel.load(o.base(), TorchOptions.defaults())) {
                Tokenizer tokenizer = base.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                        o.base().resolve("tokenizer.json") + ": missing (the questions are encoded with the base "
                                + "model's tokenizer)"));
                for (int q = 0; q < task.heldOut(); q++) {
                    prompts.add(TokenIds.of(tokenizer.encode(task.prompt(q))));
                }
                ar = evaluate(base, JacobiDecoder.builder().blockSize(1).maxNewTokens(o.maxNewTokens()).build(),
                        prompts, task);
            }
            LOG.info("base model, autoregressive: {}/{} validation questions right", ar.correct(), prompts.size());
            Result result = search(o, task, prompts, ar, candidates.get(), out);
            finished.set(true);
            return result;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            cleanUp(candidates.get(), created && !finished.get() ? out : null);
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the hook is running or about to: nothing left to undo
            }
        }
    }

    /** Writes and scores every candidate, then moves the chosen one's files into {@code out}. */
    private static Result search(Options o, DemoTask task, List<TokenIds> prompts, Scored base, Path candidates,
                                 Path out) throws IOException {
        int baseCorrect = base.correct();
        List<String> templates = task.templates(prompts.size());
        JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(o.blockSize()).maxNewTokens(o.maxNewTokens())
                .build();
        List<Candidate> results = new ArrayList<>();
        Map<Candidate, Path> dirs = new IdentityHashMap<>();
        for (int i = 0; i < o.alphas().size(); i++) {
            double a = o.alphas().get(i);
            Path dir = candidates.resolve("candidate-" + i);
            write(o, a, dir);
            Candidate c;
            try (TorchConsistencyModel model = TorchConsistencyModel.load(dir, TorchOptions.defaults())) {
                c = evaluate(model, jacobi, prompts, task).against(a, base, templates);
            }
            LOG.info("a = {}: {}/{} right ({} points against the base model, 95% CI +-{}), {} tokens per pass",
                    String.format(Locale.ROOT, "%.4g", a), c.correct(), c.questions(),
                    String.format(Locale.ROOT, "%+.1f", c.gap().points()),
                    String.format(Locale.ROOT, "%.1f", c.gap().halfWidth()),
                    String.format(Locale.ROOT, "%.3f", c.tokensPerPass()));
            results.add(c);
            dirs.put(c, dir);
            // keep only what the rule can still choose: the best within the tolerance and the most accurate so far
            Candidate best = choose(results, baseCorrect, o.tolerance());
            Candidate accurate = mostAccurate(results);
            for (Candidate other : results) {
                if (other != best && other != accurate && dirs.containsKey(other)) {
                    deleteTree(dirs.remove(other));
                }
            }
        }
        Candidate chosen = choose(results, baseCorrect, o.tolerance());
        boolean met = within(chosen, baseCorrect, o.tolerance());
        if (!met) {
            LOG.warn("no candidate is within {} points of the base model's {}/{}; writing the most accurate, "
                    + "a = {}", o.tolerance(), baseCorrect, prompts.size(), chosen.alpha());
        }
        Result result = new Result(task.description(), baseCorrect, prompts.size(), results, chosen, met, o);
        try (Stream<Path> files = Files.list(dirs.get(chosen))) {
            for (Path f : files.toList()) {
                Files.move(f, out.resolve(f.getFileName()));
            }
        }
        Files.writeString(out.resolve(REPORT), result.toJson().toPrettyString() + "\n");
        return result;
    }

    /**
     * The rule: among the candidates whose accuracy is at most {@code tolerance} points under {@code baseCorrect}
     * (on the same questions), the one with the most tokens per pass (ties: the larger share of the CLLM); when there
     * is none, the most accurate (ties: more tokens per pass, then the larger share).
     */
    static Candidate choose(List<Candidate> candidates, int baseCorrect, double tolerance) {
        Candidate best = candidates.stream().filter(c -> within(c, baseCorrect, tolerance))
                .max(Comparator.comparingDouble(Candidate::tokensPerPass).thenComparingDouble(Candidate::alpha))
                .orElse(null);
        return best != null ? best : mostAccurate(candidates);
    }

    /** The most accurate candidate (ties: more tokens per pass, then the larger share of the CLLM). */
    static Candidate mostAccurate(List<Candidate> candidates) {
        return candidates.stream().max(Comparator.comparingInt(Candidate::correct)
                .thenComparingDouble(Candidate::tokensPerPass).thenComparingDouble(Candidate::alpha)).orElseThrow();
    }

    /** Whether {@code c} answers at most {@code tolerance} points fewer questions right than the base model. */
    static boolean within(Candidate c, int baseCorrect, double tolerance) {
        // in whole questions, with a margin for the decimal tolerance's rounding (0.5 points of 1000 are 5 questions)
        return c.correct() >= baseCorrect - tolerance / 100.0 * c.questions() - 1e-9;
    }

    /**
     * Writes the blend with share {@code a} of the CLLM into {@code dir}, with the CLLM's tokenizer files
     * ({@link WeightAverage} copies them) and its other JSON files (task config, generation config, prompts), never
     * another file of weights.
     */
    private static void write(Options o, double a, Path dir) throws IOException {
        WeightAverage.write(List.of(o.cllm(), o.base()), new double[]{a, 1 - a}, dir, o.storage());
        try (Stream<Path> files = Files.list(o.cllm())) {
            for (Path f : files.toList()) {
                String name = f.getFileName().toString();
                if (Files.isRegularFile(f) && (name.endsWith(".json") || name.endsWith(".jsonl"))
                        && !NOT_COPIED.contains(name) && !Files.exists(dir.resolve(name))) {
                    Files.copy(f, dir.resolve(name));
                }
            }
        }
    }

    /** One model's outputs scored: which questions it answers right, and its tokens per pass. */
    private record Scored(boolean[] right, double tokensPerPass) {
        int correct() {
            int n = 0;
            for (boolean r : right) {
                n += r ? 1 : 0;
            }
            return n;
        }

        /** As candidate {@code alpha}, compared question by question with {@code base}. */
        Candidate against(double alpha, Scored base, List<String> templates) {
            return new Candidate(alpha, correct(), right.length, tokensPerPass,
                    AccuracyGap.of(right, base.right, templates));
        }
    }

    /** Decodes every prompt once with {@code decoder} and scores the outputs, decoded by the model's tokenizer. */
    private static Scored evaluate(TorchConsistencyModel model, Decoder decoder, List<TokenIds> prompts,
                                   DemoTask task) {
        Tokenizer tokenizer = model.tokenizer().orElseThrow(() -> new IllegalArgumentException(
                "a candidate has no tokenizer.json: the CLLM's directory must hold its tokenizer files"));
        DemoRun.Result r = new DemoRun(List.of(new DemoRun.Contender("blend", model, decoder, false)), prompts, 0, 1,
                Set.of()).run();
        long tokens = 0;
        long passes = 0;
        List<DecodeSample> samples = r.samples().get(0);
        boolean[] right = new boolean[samples.size()];
        for (int q = 0; q < samples.size(); q++) {
            DecodeSample s = samples.get(q);
            right[q] = task.correct(q, tokenizer.decode(s.generation().ids().toArray()));
            tokens += s.decodedTokens();
            passes += s.decodingPasses();
        }
        return new Scored(right, passes == 0 ? 0.0 : (double) tokens / passes);
    }

    private static void requireCheckpoint(Path dir, String option) {
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new IllegalArgumentException(option + " " + dir + ": not a checkpoint directory (no config.json)");
        }
    }

    /**
     * Removes the candidates and, when the search made {@code createdOut} and did not finish, that directory too:
     * nothing of an unfinished search is left where there was nothing.
     */
    private static void cleanUp(Path candidates, Path createdOut) {
        deleteTree(candidates);
        if (createdOut != null) {
            deleteTree(createdOut);
        }
    }

    private static void deleteTree(Path root) {
        if (root == null || !Files.exists(root)) {
            return;
        }
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | UncheckedIOException e) {
            LOG.warn("could not remove {}: {}", root, e.toString());
        }
    }
}
