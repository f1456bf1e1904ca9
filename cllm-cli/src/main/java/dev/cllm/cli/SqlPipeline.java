package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.examples.demo.TaskConfigFile;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.examples.sql.SqlTaskConfig;
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

/**
 * The recipe of the shipped text-to-SQL models, as the command lines a user would type: generate the task, pretrain
 * the base model from scratch, export it in bf16 ({@code sql-base}), collect its Jacobi trajectories on the training
 * questions, consistency-train the CLLM, export it in bf16 ({@code sql-cllm}), and measure both with
 * {@code ./cllm demo}. Every step resumes: rerunning after an interruption skips the finished steps and continues
 * the interrupted one (pretraining, collection and training resume from their own checkpoints).
 *
 * <p>Each step's command line, wall time and JSON result are recorded in {@code WORK/pipeline.json}; the model
 * directories get {@code sql-task.json} (the task the demo regenerates), {@code bench-prompts.jsonl} (held-out prompts
 * for the JMH generation benchmark) and a model card ({@code README.md}) written from those records.
 */
public final class SqlPipeline {
    private static final Logger LOG = LoggerFactory.getLogger(SqlPipeline.class);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** The task: seed, questions, split sizes. */
    public static final SqlTaskConfig TASK = new SqlTaskConfig(0, 16_000, 200, 8);
    /** Jacobi block size for collection, training and the demo. */
    public static final int BLOCK_SIZE = 8;

    private final Path work;
    private final Map<String, ObjectNode> steps = new LinkedHashMap<>();

    /** A pipeline working in {@code work} (created if absent; reused to resume). */
    public SqlPipeline(Path work) {
        this.work = work;
    }

    public Path baseModel() {
        return work.resolve("sql-base");
    }

    public Path cllmModel() {
        return work.resolve("sql-cllm");
    }

    /** The architecture of the base model: LLaMA, 4 layers, d 256, 8 query / 4 key-value heads, 3.0M parameters. */
    static ObjectNode baseConfig() {
        ObjectNode c = JSON.createObjectNode();
        c.putArray("architectures").add("LlamaForCausalLM");
        c.put("model_type", "llama").put("hidden_size", 256).put("intermediate_size", 688)
                .put("num_hidden_layers", 4).put("num_attention_heads", 8).put("num_key_value_heads", 4)
                .put("vocab_size", 329).put("max_position_embeddings", 256).put("rms_norm_eps", 1e-5)
                .put("rope_theta", 10000.0).put("hidden_act", "silu").put("tie_word_embeddings", true)
                .put("bos_token_id", 1).put("eos_token_id", 2).put("pad_token_id", 0)
                .put("torch_dtype", "float32").put("attention_bias", false).put("mlp_bias", false);
        return c;
    }

    /** The command lines of the recipe, in order, with paths under the working directory. */
    List<Step> recipe() {
        Path task = work.resolve("task");
        String trainPrompts = SqlTask.promptsFile(task, Split.TRAIN).toString();
        return List.of(
                new Step("task", task.resolve("task.json"), "sql-task", "--out", task.toString(),
                        "--seed", String.valueOf(TASK.seed()), "--train", String.valueOf(TASK.trainExamples()),
                        "--held-out", String.valueOf(TASK.heldOutExamples()),
                        "--per-database", String.valueOf(TASK.examplesPerDatabase())),
                new Step("pretrain", work.resolve("base-f32").resolve("model.safetensors"), "pretrain",
                        "--config", work.resolve("base-config.json").toString(), "--corpus", trainPrompts,
                        "--tokenizer", task.resolve("tokenizer.json").toString(), "--append-eos", "--answer-loss",
                        "--out", work.resolve("base-f32").toString(), "--steps", "2400", "--batch", "16",
                        "--lr", "1e-3", "--weight-decay", "0.1", "--label-smoothing", "0", "--save-every", "400",
                        "--seed", "1"),
                new Step("export-base", baseModel().resolve("model.safetensors"), "export",
                        "--model", work.resolve("base-f32").toString(), "--out", baseModel().toString(),
                        "--dtype", "bf16"),
                new Step("collect", work.resolve("trajectories.jsonl.manifest.json"), "collect",
                        "--model", baseModel().toString(), "--prompts", trainPrompts,
                        "--out", work.resolve("trajectories.jsonl").toString(),
                        "--block-size", String.valueOf(BLOCK_SIZE), "--max-new-tokens", "32", "--no-clean", "--seed", "0"),
                new Step("train", work.resolve("cllm-f32").resolve("model.safetensors"), "train",
                        "--model", baseModel().toString(), "--data", work.resolve("trajectories.jsonl").toString(),
                        "--out", work.resolve("cllm-f32").toString(), "--loss", "local", "--ar-weight", "10", "--lr", "5e-4",
                        "--batch", "16", "--steps", "1500", "--label-smoothing", "0", "--save-every", "250",
                        "--seed", "1"),
                new Step("export-cllm", cllmModel().resolve("model.safetensors"), "export",
                        "--model", work.resolve("cllm-f32").toString(), "--out", cllmModel().toString(),
                        "--dtype", "bf16"));
    }

    /** One command of the recipe; {@code done} exists once it has finished. */
    record Step(String name, Path done, String... args) {
        String commandLine() {
            return "./cllm " + String.join(" ", args);
        }
    }

    /** Runs (or resumes) the whole recipe and returns the demo's JSON report. */
    public ObjectNode run() throws IOException {
        Files.createDirectories(work);
        Path config = work.resolve("base-config.json");
        if (!Files.exists(config)) {
            JSON.writeValue(config.toFile(), baseConfig());
        }
        Path record = work.resolve("pipeline.json");
        if (Files.exists(record)) {
            JSON.readTree(record.toFile()).path("steps").fields()
                    .forEachRemaining(e -> steps.put(e.getKey(), (ObjectNode) e.getValue()));
        }
        for (Step step : recipe()) {
            // recorded only once its command has returned successfully; an interrupted step reruns and resumes
            if (Files.exists(step.done()) && steps.containsKey(step.name())) {
                LOG.info("pipeline: {} already done", step.name());
                continue;
            }
            LOG.info("pipeline: {}: {}", step.name(), step.commandLine());
            long started = System.nanoTime();
            String out = runCli(step.args());
            long millis = (System.nanoTime() - started) / 1_000_000;
            ObjectNode s = JSON.createObjectNode().put("command", step.commandLine()).put("elapsed_ms",
                    millis + steps.getOrDefault(step.name(), JSON.createObjectNode()).path("elapsed_ms").asLong());
            s.set("result", parseLastJsonLine(out));
            steps.put(step.name(), s);
            writeRecord(record);
        }
        for (Path model : List.of(baseModel(), cllmModel())) {
            TaskConfigFile.write(model, TASK);
            Files.copy(SqlTask.promptsFile(work.resolve("task"), Split.HELD_OUT), model.resolve("bench-prompts.jsonl"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
        long started = System.nanoTime();
        String demo = runCli("demo", "--json", "--base", baseModel().toString(), "--cllm", cllmModel().toString(),
                "--block-size", String.valueOf(BLOCK_SIZE), "--repeats", "3");
        ObjectNode report = (ObjectNode) parseLastJsonLine(demo);
        ObjectNode s = JSON.createObjectNode().put("command", "./cllm demo --json --base " + baseModel() + " --cllm "
                + cllmModel() + " --block-size " + BLOCK_SIZE + " --repeats 3")
                .put("elapsed_ms", (System.nanoTime() - started) / 1_000_000);
        s.set("result", report);
        steps.put("demo", s);
        writeRecord(record);
        ModelCards.write(this, steps);
        return report;
    }

    private void writeRecord(Path record) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        ObjectNode s = root.putObject("steps");
        steps.forEach(s::set);
        long total = steps.values().stream().mapToLong(n -> n.path("elapsed_ms").asLong()).sum();
        root.put("total_elapsed_ms", total).put("total", Duration.ofMillis(total).toString());
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

    private static com.fasterxml.jackson.databind.JsonNode parseLastJsonLine(String out) {
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

    Path work() {
        return work;
    }
}
