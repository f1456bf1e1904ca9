package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.examples.demo.TaskConfigFile;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTaskConfig;
import dev.cllm.examples.math.MathExample;
import dev.cllm.examples.math.MathTask;
import dev.cllm.examples.math.MathTaskConfig;
import dev.cllm.examples.math.MathTaskConfigFile;
import dev.cllm.torch.TorchRuntime;
import org.apache.commons.io.output.CloseShieldOutputStream;
import org.apache.commons.io.output.TeeOutputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * The recipe of a task's shipped models, as the command lines a user would type: generate the task, pretrain the base
 * model from scratch, export it in bf16 ({@code TASK-base}), collect its Jacobi trajectories on training questions,
 * consistency-train the CLLM (for math in stages: each later one the same command with a fresh schedule, started
 * from the previous stage's checkpoint), export it in bf16 ({@code TASK-cllm}), and measure both with
 * {@code ./cllm demo}. Every step resumes: rerunning after an interruption skips the finished steps and continues
 * the interrupted one (pretraining, collection and training resume from their own checkpoints).
 *
 * <p>Each step's command line, wall time and JSON result are recorded in {@code WORK/pipeline.json}; the model
 * directories get the task's config file ({@code sql-task.json} or {@code math-task.json}: the task the demo
 * regenerates), {@code bench-prompts.jsonl} (held-out prompts for the JMH generation benchmark) and a model card
 * ({@code README.md}) written from those records.
 */
public final class TaskPipeline {
    private static final Logger LOG = LoggerFactory.getLogger(TaskPipeline.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The text-to-SQL task: seed, questions, split sizes. */
    public static final SqlTaskConfig SQL_TASK = new SqlTaskConfig(0, 16_000, 200, 8);
    /** The arithmetic word-problem task: seed, split sizes. */
    public static final MathTaskConfig MATH_TASK = new MathTaskConfig(0, 16_000, 200);

    /** What differs between the tasks' recipes; everything else is shared. */
    public enum Recipe {
        /**
         * Text-to-SQL: 4 layers, short answers (median 8 tokens), block size 8. The CLLM: Jacobi Forcing, 16 answers
         * per step, anchored to the base model with weight 10, seed 4; of the three objectives at three seeds each
         * (docs/training.md) Jacobi Forcing made the most tokens per pass at the same accuracy, the anchor gained 3.5
         * to 5.5 points on each of five seeds at the same tokens per pass, and seed 4 is the best of those five.
         */
        SQL("sql", 8, 4, 329, 2400, 400, 32, null, 1500, 0, 0, 16, 4, 10, "SQL answers are one or two blocks") {
            @Override
            List<String> taskArgs(Path dir) {
                return List.of("sql-task", "--out", dir.toString(), "--seed", String.valueOf(SQL_TASK.seed()),
                        "--train", String.valueOf(SQL_TASK.trainExamples()),
                        "--held-out", String.valueOf(SQL_TASK.heldOutExamples()),
                        "--per-database", String.valueOf(SQL_TASK.examplesPerDatabase()));
            }

            @Override
            Path promptsFile(Path dir, boolean train) {
                return SqlTask.promptsFile(dir, train ? Split.TRAIN : Split.HELD_OUT);
            }

            @Override
            void writeTaskConfig(Path model) {
                TaskConfigFile.write(model, SQL_TASK);
            }
        },
        /**
         * Arithmetic word problems with worked solutions: 5 layers, answers of 40-100 tokens, block size 16. The CLLM:
         * Jacobi Forcing, seed 2, 8 answers per step, 3,000 steps and then stages of 1,500 more, each from the previous
         * stage's checkpoint with a fresh schedule; of the global loss, the local loss and Jacobi Forcing on the same
         * 37,197 blocks (docs/training.md) it is the one that keeps the base model's accuracy, and its tokens per pass
         * kept rising at that accuracy stage by stage (docs/training.md, experiment 3); seed 2 is the best of three at
         * 4,500 steps. Six stages in all (10,500 steps); seeds 1 and 3 of the last two stages from the same start made
         * 4.07 and 4.01 tokens per pass (seed 2: 4.01).
         */
        MATH("math", 16, 5, 169, 2000, 250, 128, 8000, 3000, 5, 1500, 8, 2, 0,
                "an answer is three to seven blocks of 16") {
            @Override
            List<String> taskArgs(Path dir) {
                return List.of("math-task", "--out", dir.toString(), "--seed", String.valueOf(MATH_TASK.seed()),
                        "--train", String.valueOf(MATH_TASK.trainExamples()),
                        "--held-out", String.valueOf(MATH_TASK.heldOutExamples()));
            }

            @Override
            Path promptsFile(Path dir, boolean train) {
                return MathTask.promptsFile(dir, train ? MathExample.Split.TRAIN : MathExample.Split.HELD_OUT);
            }

            @Override
            void writeTaskConfig(Path model) {
                MathTaskConfigFile.write(model, MATH_TASK);
            }
        };

        final String task;
        /** Jacobi block size for collection, training and the demo. */
        final int blockSize;
        final int layers;
        final int vocabulary;
        final int pretrainSteps;
        final int pretrainSaveEvery;
        final int collectTokens;
        /** Training prompts whose trajectories are collected ({@code null}: all of them). */
        final Integer collectPrompts;
        final int trainSteps;
        /**
         * Training stages after the first, each {@link #continueSteps} steps of the same command started from the
         * previous stage's checkpoint with a fresh optimizer and schedule (0: none). Measured, not derived: one run of
         * as many steps in all was not tried.
         */
        final int continueStages;
        /** Steps of each later stage. */
        final int continueSteps;
        /** Examples per CLLM training step (Jacobi Forcing: answers, each all its blocks). */
        final int trainBatch;
        final int trainSeed;
        /** The CLLM training's {@code --anchor-weight} (0: no anchor term). */
        final int anchorWeight;
        /** How many blocks the task's answers span, for the model card. */
        final String answerBlocks;

        Recipe(String task, int blockSize, int layers, int vocabulary, int pretrainSteps, int pretrainSaveEvery,
               int collectTokens, Integer collectPrompts, int trainSteps, int continueStages, int continueSteps,
               int trainBatch, int trainSeed, int anchorWeight, String answerBlocks) {
            this.task = task;
            this.blockSize = blockSize;
            this.layers = layers;
            this.vocabulary = vocabulary;
            this.pretrainSteps = pretrainSteps;
            this.pretrainSaveEvery = pretrainSaveEvery;
            this.collectTokens = collectTokens;
            this.collectPrompts = collectPrompts;
            this.trainSteps = trainSteps;
            this.continueStages = continueStages;
            this.continueSteps = continueSteps;
            this.trainBatch = trainBatch;
            this.trainSeed = trainSeed;
            this.anchorWeight = anchorWeight;
            this.answerBlocks = answerBlocks;
        }

        /**
         * The CLLM training step's objective, seed, processes and threads; the rest is common. Two data-parallel
         * processes on this machine ({@code --local-processes 2}, the global batch split between them and the
         * gradients summed), each with one libtorch and one OpenBLAS thread: on an idle 2-core machine a math step
         * took 0.25 s against 0.41 s in one process with one thread each, 0.35 s with two libtorch threads and 0.33 s
         * with two OpenBLAS threads (docs/performance.md). Both are fixed, not taken from the machine: the processes
         * and threads change the summation order, so the result.
         */
        List<String> cllmTrainArgs() {
            List<String> args = new ArrayList<>(List.of("--objective", "jacobi-forcing", "--noise-schedule", "random",
                    "--noise-window", "4", "--ar-on-prompt", "false", "--ar-weight", "10",
                    "--seed", String.valueOf(trainSeed), "--local-processes", "2", "--threads", "1",
                    "--blas-threads", "1"));
            if (anchorWeight > 0) {
                args.addAll(List.of("--anchor-weight", String.valueOf(anchorWeight)));
            }
            return List.copyOf(args);
        }

        /** The CLLM's objective in words, for its model card. */
        String cllmMethod() {
            return "Jacobi Forcing (arXiv 2512.14681): each answer's blocks packed into one sequence as a noisy "
                    + "copy (a trajectory state chosen by a noise schedule) and the clean fixed point, with the "
                    + "noise-conditioned mask, so that one forward pass gives the consistency loss (forward KL, "
                    + "the prediction on the noisy copy against the one on the clean copy) and the AR loss";
        }

        /** The CLLM's training settings in words, for its model card. */
        String cllmTraining() {
            return "Training: " + trainBatch + " answers per step, noise levels drawn at random from {0, 1/3, 2/3, 1} "
                    + "per block (window 4; " + answerBlocks + "), AR loss on the answers only, ω = 10"
                    + (anchorWeight == 0 ? "" : ", anchored to " + (continueStages == 0 ? task + "-base"
                    : "the model each stage starts from") + " with weight " + anchorWeight
                    + " (KL divergence from the base model's next-token distributions at the AR loss's positions)")
                    + ", AdamW, "
                    + "cosine schedule, seed " + trainSeed + ", two data-parallel processes of one libtorch and one "
                    + "OpenBLAS thread each"
                    + (continueStages == 0 ? "." : "; " + trainSteps + " steps, then " + (continueStages == 1
                    ? continueSteps + " more with the same command from that checkpoint"
                    : continueStages + " more stages of " + continueSteps + " steps with the same command, each from "
                    + "the previous stage's checkpoint") + " (a fresh optimizer and schedule).");
        }

        /** The recipe of {@code --task sql|math}. */
        public static Recipe of(String task) {
            for (Recipe r : values()) {
                if (r.task.equals(task)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("--task must be sql or math, got '" + task + "'");
        }

        public String task() {
            return task;
        }

        public int blockSize() {
            return blockSize;
        }

        /** The command line that writes the task's data set into {@code dir}. */
        abstract List<String> taskArgs(Path dir);

        /** The task's training or held-out prompt file in {@code dir}. */
        abstract Path promptsFile(Path dir, boolean train);

        /** Writes the task's config file into a model directory, so that the demo regenerates the same split. */
        abstract void writeTaskConfig(Path model);

        /** The base model's architecture: LLaMA, d 256, 8 query / 4 key-value heads, SwiGLU 688, tied embeddings. */
        ObjectNode baseConfig() {
            ObjectNode c = JSON.createObjectNode();
            c.putArray("architectures").add("LlamaForCausalLM");
            c.put("model_type", "llama").put("hidden_size", 256).put("intermediate_size", 688)
                    .put("num_hidden_layers", layers).put("num_attention_heads", 8).put("num_key_value_heads", 4)
                    .put("vocab_size", vocabulary).put("max_position_embeddings", 256).put("rms_norm_eps", 1e-5)
                    .put("rope_theta", 10000.0).put("hidden_act", "silu").put("tie_word_embeddings", true)
                    .put("bos_token_id", 1).put("eos_token_id", 2).put("pad_token_id", 0)
                    .put("torch_dtype", "float32").put("attention_bias", false).put("mlp_bias", false);
            return c;
        }
    }

    private final Recipe recipe;
    private final Path work;
    private final Map<String, ObjectNode> steps = new LinkedHashMap<>();
    /** The step under way and the time of its earlier sittings ({@code unfinished} in the record), if any. */
    private ObjectNode unfinished;
    /** Runs one step's command and returns its stdout; a seam for tests. */
    private Function<String[], String> runner = TaskPipeline::runCli;
    /** How often the step under way writes its time so far into the record, against a hard kill. */
    private Duration heartbeat = Duration.ofSeconds(10);

    /** A pipeline for {@code recipe} working in {@code work} (created if absent; reused to resume). */
    public TaskPipeline(Recipe recipe, Path work) {
        this.recipe = recipe;
        this.work = work;
    }

    public Recipe recipe() {
        return recipe;
    }

    public Path baseModel() {
        return work.resolve(recipe.task + "-base");
    }

    public Path cllmModel() {
        return work.resolve(recipe.task + "-cllm");
    }

    /** The command lines of the recipe, in order, with paths under the working directory. */
    List<Step> steps() {
        Path task = work.resolve("task");
        String trainPrompts = recipe.promptsFile(task, true).toString();
        List<String> collect = new ArrayList<>(List.of("collect", "--model", baseModel().toString(),
                "--prompts", trainPrompts, "--out", work.resolve("trajectories.jsonl").toString(),
                "--block-size", String.valueOf(recipe.blockSize), "--max-new-tokens",
                String.valueOf(recipe.collectTokens)));
        if (recipe.collectPrompts != null) {
            collect.addAll(List.of("--limit", String.valueOf(recipe.collectPrompts)));
        }
        // two processes, each collecting half the prompts: 1.9x the prompts per second of one on 2 cores
        collect.addAll(List.of("--no-clean", "--seed", "0", "--local-processes", "2"));
        Path trained = work.resolve("cllm-f32");
        List<Step> steps = new ArrayList<>();
        steps.add(new Step("task", task.resolve("task.json"), recipe.taskArgs(task).toArray(String[]::new)));
        steps.add(new Step("pretrain", work.resolve("base-f32").resolve("model.safetensors"), "pretrain",
                "--config", work.resolve("base-config.json").toString(), "--corpus", trainPrompts,
                "--tokenizer", task.resolve("tokenizer.json").toString(), "--append-eos", "--answer-loss",
                "--out", work.resolve("base-f32").toString(), "--steps", String.valueOf(recipe.pretrainSteps),
                "--batch", "16", "--lr", "1e-3", "--weight-decay", "0.1", "--label-smoothing", "0",
                "--save-every", String.valueOf(recipe.pretrainSaveEvery), "--seed", "1"));
        steps.add(new Step("export-base", baseModel().resolve("model.safetensors"), "export",
                "--model", work.resolve("base-f32").toString(), "--out", baseModel().toString(),
                "--dtype", "bf16"));
        steps.add(new Step("collect", work.resolve("trajectories.jsonl.manifest.json"),
                collect.toArray(String[]::new)));
        steps.add(trainStep("train", baseModel(), trained, recipe.trainSteps));
        for (int stage = 1; stage <= recipe.continueStages; stage++) {
            String suffix = stage == 1 ? "" : "-" + stage;
            Path continued = work.resolve("cllm-f32-continued" + suffix);
            steps.add(trainStep("continue" + suffix, trained, continued, recipe.continueSteps));
            trained = continued;
        }
        steps.add(new Step("export-cllm", cllmModel().resolve("model.safetensors"), "export",
                "--model", trained.toString(), "--out", cllmModel().toString(), "--dtype", "bf16"));
        return List.copyOf(steps);
    }

    /** A CLLM training stage: the recipe's command from {@code from} into {@code out}. */
    private Step trainStep(String name, Path from, Path out, int stepCount) {
        List<String> train = new ArrayList<>(List.of("train", "--model", from.toString(),
                "--data", work.resolve("trajectories.jsonl").toString(), "--out", out.toString()));
        train.addAll(recipe.cllmTrainArgs());
        train.addAll(List.of("--lr", "5e-4", "--batch", String.valueOf(recipe.trainBatch),
                "--steps", String.valueOf(stepCount), "--label-smoothing", "0", "--save-every", "250"));
        return new Step(name, out.resolve("model.safetensors"), train.toArray(String[]::new));
    }

    /** The demo's command line, measuring the two exported models. */
    String[] demoArgs() {
        return new String[] {"demo", "--json", "--task", recipe.task, "--base", baseModel().toString(),
                "--cllm", cllmModel().toString(), "--block-size", String.valueOf(recipe.blockSize), "--repeats", "3"};
    }

    /** One command of the recipe; {@code done} exists once it has finished. */
    record Step(String name, Path done, String... args) {
        String commandLine() {
            return "./cllm " + String.join(" ", args);
        }

        /** Whether the command sets its own libtorch or OpenBLAS threads. */
        boolean pinsThreads() {
            return List.of(args).contains("--threads") || List.of(args).contains("--blas-threads");
        }
    }

    /** For tests: runs each step's arguments with {@code runner}, and records the time so far every {@code beat}. */
    TaskPipeline withRunner(Function<String[], String> runner, Duration beat) {
        this.runner = runner;
        this.heartbeat = beat;
        return this;
    }

    /**
     * Runs (or resumes) the whole recipe and returns the demo's JSON report.
     *
     * <p>A step's wall time counts every sitting: while it runs, the record's {@code unfinished} entry holds its time
     * so far (rewritten every few seconds and when it fails), and a rerun that resumes it adds that time and counts the
     * sittings ({@code sittings} in the step's record when there were several). The work a resumed step redoes since
     * its last checkpoint is counted too: the record is the time it took, not the time it would take uninterrupted.
     */
    public ObjectNode run() throws IOException {
        Files.createDirectories(work);
        Path config = work.resolve("base-config.json");
        if (!Files.exists(config)) {
            JSON.writeValue(config.toFile(), recipe.baseConfig());
        }
        Path record = work.resolve("pipeline.json");
        String recordedWork = null;
        if (Files.exists(record)) {
            JsonNode root = JSON.readTree(record.toFile());
            root.path("steps").fields().forEachRemaining(e -> steps.put(e.getKey(), (ObjectNode) e.getValue()));
            recordedWork = root.hasNonNull("work") ? root.path("work").asText() : null;
            unfinished = root.path("unfinished") instanceof ObjectNode u ? u : null;
        }
        for (Step step : steps()) {
            // recorded only once its command has returned successfully; an interrupted step reruns and resumes
            if (Files.exists(step.done()) && steps.containsKey(step.name())) {
                checkRecordedCommand(record, step, steps.get(step.name()).path("command").asText(""), recordedWork);
                LOG.info("pipeline: {} already done", step.name());
                continue;
            }
            LOG.info("pipeline: {}: {}", step.name(), step.commandLine());
            // the time of earlier sittings of this very command (interrupted, failed or killed), carried over
            long before = 0;
            int sittings = 1;
            if (unfinished != null && !unfinished.path("step").asText().equals(step.name())) {
                LOG.warn("pipeline: {} records step '{}' as unfinished, but the next step to run is '{}'; the {} "
                        + "recorded for it are dropped from the total", record, unfinished.path("step").asText(),
                        step.name(), Duration.ofMillis(unfinished.path("elapsed_ms").asLong()));
            } else if (unfinished != null) {
                // the step's own checkpoints are the old command's: resuming them under another would mix recipes
                checkRecordedCommand(record, step, unfinished.path("command").asText(""), recordedWork);
                before = unfinished.path("elapsed_ms").asLong();
                sittings = unfinished.path("sittings").asInt(1) + 1;
                LOG.info("pipeline: {} resumes after {} earlier sitting(s) of {}", step.name(), sittings - 1,
                        Duration.ofMillis(before));
            }
            String out = runTimed(record, step, before, sittings);
            long millis = unfinished.path("elapsed_ms").asLong();
            ObjectNode s = JSON.createObjectNode().put("command", step.commandLine()).put("elapsed_ms",
                    millis + steps.getOrDefault(step.name(), JSON.createObjectNode()).path("elapsed_ms").asLong())
                    .put("machine", ModelCards.machine());   // a resumed run may finish on another machine
            if (sittings > 1) {
                s.put("sittings", sittings);
            }
            s.set("result", parseLastJsonLine(out));
            synchronized (this) {
                steps.put(step.name(), s);
                unfinished = null;
                writeRecord(record);
            }
        }
        for (Path model : List.of(baseModel(), cllmModel())) {
            recipe.writeTaskConfig(model);
            Files.copy(recipe.promptsFile(work.resolve("task"), false), model.resolve("bench-prompts.jsonl"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        long started = System.nanoTime();
        String[] demoArgs = demoArgs();
        String demo = runner.apply(demoArgs);
        ObjectNode report = (ObjectNode) parseLastJsonLine(demo);
        ObjectNode s = JSON.createObjectNode().put("command", "./cllm " + String.join(" ", demoArgs))
                .put("elapsed_ms", (System.nanoTime() - started) / 1_000_000).put("machine", ModelCards.machine());
        s.set("result", report);
        steps.put("demo", s);
        writeRecord(record);
        ModelCards.write(this, steps);
        return report;
    }

    /**
     * Refuses to resume past a finished step, or to resume an unfinished one, whose recorded command is not the
     * recipe's command now (the recipe changed since it ran, say a new seed or term): its outputs, and every later
     * step's, would be another recipe's, and the model cards would describe the one they are not. The working
     * directory's own path may differ from the one recorded (a moved directory). A step recorded without a command is
     * not checked.
     */
    void checkRecordedCommand(Path record, Step step, String recorded, String recordedWork) {
        if (recorded.isEmpty()) {
            return;
        }
        if (!inThisWork(recorded, recordedWork).equals(step.commandLine())) {
            throw new IllegalStateException(record + ": step '" + step.name() + "' ran as `" + recorded
                    + "`, but the recipe's command is now `" + step.commandLine() + "`; its outputs and the later "
                    + "steps' belong to the old recipe: use another --work, or delete " + work
                    + ", to rebuild with this one");
        }
    }

    /**
     * Runs one step, keeping the record's {@code unfinished} entry at its time so far (earlier sittings included): at
     * the start, every heartbeat while it runs, and at the end, whether it returned or failed. Leaves that entry, with
     * the step's whole time, in {@link #unfinished}.
     */
    private String runTimed(Path record, Step step, long before, int sittings) throws IOException {
        long started = System.nanoTime();
        Runnable beat = () -> {
            synchronized (this) {
                unfinished = JSON.createObjectNode().put("step", step.name()).put("command", step.commandLine())
                        .put("elapsed_ms", before + (System.nanoTime() - started) / 1_000_000)
                        .put("sittings", sittings);
                try {
                    writeRecord(record);
                } catch (IOException e) {
                    LOG.warn("pipeline: could not record {}'s time so far in {}: {}", step.name(), record,
                            e.toString());
                }
            }
        };
        beat.run();
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "pipeline-heartbeat");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(beat, heartbeat.toMillis(), heartbeat.toMillis(), TimeUnit.MILLISECONDS);
        try {
            if (!step.pinsThreads()) {
                return runner.apply(step.args());
            }
            // a step that pins its threads must leave the later steps' threads as they were
            int torchThreads = TorchRuntime.torchThreads();
            int blasThreads = TorchRuntime.blasThreads();
            try {
                return runner.apply(step.args());
            } finally {
                TorchRuntime.setThreads(torchThreads, blasThreads);
            }
        } finally {
            timer.shutdownNow();
            try {
                timer.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            beat.run();
        }
    }

    /** A recorded command with the recorded working directory's path replaced by this one's (a moved directory). */
    private String inThisWork(String recorded, String recordedWork) {
        return recordedWork == null || recordedWork.equals(work.toString())
                ? recorded : recorded.replace(recordedWork, work.toString());
    }

    private synchronized void writeRecord(Path record) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.put("work", work.toString());
        ObjectNode s = root.putObject("steps");
        steps.forEach(s::set);
        long total = steps.values().stream().mapToLong(n -> n.path("elapsed_ms").asLong()).sum();
        if (unfinished != null) {
            root.set("unfinished", unfinished);
            total += unfinished.path("elapsed_ms").asLong();
        }
        writeWithTotal(record, root, total);
    }

    /**
     * Writes a pipeline record: {@code root} with {@code total_elapsed_ms} and {@code total} (ISO-8601) added,
     * replacing {@code record} atomically, so an interrupted run never leaves half a record.
     */
    static void writeWithTotal(Path record, ObjectNode root, long totalMillis) throws IOException {
        root.put("total_elapsed_ms", totalMillis).put("total", Duration.ofMillis(totalMillis).toString());
        Path tmp = record.resolveSibling(record.getFileName() + ".tmp");
        JSON.writeValue(tmp.toFile(), root);
        Files.move(tmp, record, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    }

    /** Runs one {@code ./cllm} command in this JVM, echoing and returning its stdout. */
    private static String runCli(String... args) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int status;
        try (PrintStream tee = new PrintStream(new TeeOutputStream(CloseShieldOutputStream.wrap(original), captured), true,
                StandardCharsets.UTF_8)) {
            System.setOut(tee);
            status = Cli.run(args);
        } finally {
            System.setOut(original);
        }
        if (status != 0) {
            throw new IllegalStateException("pipeline step failed (exit status " + status + "): ./cllm "
                    + String.join(" ", args));
        }
        return captured.toString(StandardCharsets.UTF_8);
    }

    private static JsonNode parseLastJsonLine(String out) {
        List<String> lines = new ArrayList<>(out.lines().filter(l -> l.startsWith("{")).toList());
        if (lines.isEmpty()) {
            return JSON.createObjectNode();
        }
        try {
            return JSON.readTree(lines.get(lines.size() - 1));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
