package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm train} and {@code ./cllm pretrain}: their JSON summaries and checkpoints. */
class TrainCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void trainPrintsItsSummaryAndWritesACheckpointThatGenerates() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Path data = storiesTrajectories(prompts);
        Path out = dir.resolve("cllm");
        CliRunner.Run r = CliRunner.run("train", "--model", Stories260K.dir().toString(), "--data", data.toString(),
                "--out", out.toString(), "--steps", "3", "--lr", "1e-4", "--batch", "2", "--seed", "1",
                "--eval-prompts", prompts.toString(), "--eval-max-new-tokens", "8");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode s = JSON.readTree(r.out());
        List<String> fields = new java.util.ArrayList<>();
        s.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("steps", "final_loss", "consistency_loss", "ar_loss", "elapsed_ms", "out");
        assertThat(s.get("steps").asInt()).isEqualTo(3);
        assertThat(s.get("out").asText()).isEqualTo(out.toString());
        CliRunner.Run g = CliRunner.run("generate", "--model", out.toString(), "--prompt-ids", "1,300,301",
                "--max-new-tokens", "8", "--decoder", "jacobi", "--block-size", "4", "--json");
        assertThat(g.status()).as(g.err()).isZero();
        assertThat(JSON.readTree(g.out()).get("new_tokens").asInt()).isPositive();
    }

    @Test
    void aLaterStageMeasuresFidelityAgainstTheNamedReference() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Path data = storiesTrajectories(prompts);
        Path stage1 = dir.resolve("stage1");
        CliRunner.Run r1 = CliRunner.run("train", "--model", Stories260K.dir().toString(), "--data", data.toString(),
                "--out", stage1.toString(), "--steps", "3", "--lr", "3e-3", "--batch", "2", "--seed", "1",
                "--eval-prompts", prompts.toString(), "--eval-max-new-tokens", "16");
        assertThat(r1.status()).as(r1.err()).isZero();
        Path stage2 = dir.resolve("stage2");
        CliRunner.Run r2 = CliRunner.run("train", "--model", stage1.toString(), "--data", data.toString(),
                "--out", stage2.toString(), "--steps", "1", "--lr", "3e-3", "--batch", "2", "--seed", "1",
                "--eval-prompts", prompts.toString(), "--eval-max-new-tokens", "16",
                "--eval-reference", Stories260K.dir().toString());
        assertThat(r2.status()).as(r2.err()).isZero();
        List<JsonNode> evals1 = evals(stage1);
        List<JsonNode> evals2 = evals(stage2);
        // stage 2 starts from stage 1's last weights and measures them against the same reference (stories260K's
        // greedy outputs), not against themselves
        assertThat(evals1.get(evals1.size() - 1).get("eval").get("forced_agreement").asDouble())
                .as("stage 1 moved away from the base model").isLessThan(1.0);
        assertThat(evals2.get(0).get("step").asInt()).isZero();
        assertThat(evals2.get(0).get("eval")).isEqualTo(evals1.get(evals1.size() - 1).get("eval"));

        CliRunner.Run noPrompts = CliRunner.run("train", "--model", stage1.toString(), "--data", data.toString(),
                "--out", dir.resolve("x").toString(), "--eval-reference", Stories260K.dir().toString());
        assertThat(noPrompts.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(noPrompts.err()).contains("--eval-reference").contains("needs --eval-prompts");
    }

    @Test
    void jacobiForcingWithLabelsScoresTheAnswersOfThePromptFile() throws Exception {
        // answers stories260K would never write: the AR term on them is far above the AR term on its own output
        Path prompts = dir.resolve("answers.jsonl");
        Files.writeString(prompts, "{\"prompt_ids\":[1,300,301],\"answer_ids\":[500,7,501,9]}\n"
                + "{\"prompt_ids\":[1,400,401],\"answer_ids\":[502,11,503]}\n");
        Path data = dir.resolve("answers-t.jsonl");
        assertThat(CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts", prompts.toString(),
                "--out", data.toString(), "--block-size", "8", "--max-new-tokens", "24", "--no-clean").status())
                .isZero();
        double[] ar = new double[2];
        String[] targets = {"teacher", "labels"};
        for (int i = 0; i < 2; i++) {
            CliRunner.Run r = CliRunner.run("train", "--model", Stories260K.dir().toString(), "--data",
                    data.toString(), "--out", dir.resolve("jf-" + targets[i]).toString(), "--objective",
                    "jacobi-forcing", "--ar-target", targets[i], "--steps", "1", "--batch", "2", "--seed", "1",
                    "--label-smoothing", "0", "--ar-on-prompt", "false");
            assertThat(r.status()).as(r.err()).isZero();
            ar[i] = JSON.readTree(r.out()).get("ar_loss").asDouble();
        }
        // measured: 1.2 and 9.2 nats per token
        assertThat(ar[0]).as("AR loss on its own output").isLessThan(2.0);
        assertThat(ar[1]).as("AR loss on the prompt file's answers").isGreaterThan(ar[0] + 5.0);
    }

    @Test
    void anAnchorWeightAddsTheAnchorTermToTheMetrics() throws Exception {
        Path data = storiesTrajectories(dir.resolve("p.jsonl"));
        Path out = dir.resolve("anchored");
        CliRunner.Run r = CliRunner.run("train", "--model", Stories260K.dir().toString(), "--data", data.toString(),
                "--out", out.toString(), "--objective", "jacobi-forcing", "--anchor-weight", "5", "--steps", "2",
                "--lr", "1e-3", "--warmup", "0", "--batch", "2", "--seed", "1");
        assertThat(r.status()).as(r.err()).isZero();
        List<String> lines = Files.readAllLines(out.resolveSibling("anchored.metrics.jsonl"));
        assertThat(lines).hasSize(2);
        assertThat(JSON.readTree(lines.get(0)).get("anchor_loss").asDouble()).as("step 1: still the base model")
                .isLessThan(1e-6);
        assertThat(JSON.readTree(lines.get(1)).get("anchor_loss").asDouble()).isPositive();

        CliRunner.Run bad = CliRunner.run("train", "--model", Stories260K.dir().toString(), "--data",
                data.toString(), "--out", dir.resolve("bad").toString(), "--anchor-weight", "-1", "--steps", "1");
        assertThat(bad.status()).isNotZero();
        assertThat(bad.err()).contains("anchor weight must be finite and >= 0, got -1.0");
    }

    /** Writes two prompts to {@code prompts} and collects stories260K's trajectories on them (blocks of 8). */
    private Path storiesTrajectories(Path prompts) throws Exception {
        Files.writeString(prompts, "{\"prompt_ids\":[1,300,301]}\n{\"prompt_ids\":[1,400,401]}\n");
        Path data = dir.resolve("t.jsonl");
        assertThat(CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts", prompts.toString(),
                "--out", data.toString(), "--block-size", "8", "--max-new-tokens", "32", "--no-clean").status())
                .isZero();
        return data;
    }

    private static List<JsonNode> evals(Path out) throws Exception {
        List<JsonNode> lines = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(out.resolveSibling(out.getFileName() + ".metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.has("eval")) {
                lines.add(n);
            }
        }
        return lines;
    }

    @Test
    void pretrainTrainsFromScratch() throws Exception {
        Path config = tinyConfig(dir);
        Path corpus = dir.resolve("corpus.jsonl");
        Files.writeString(corpus, "{\"prompt_ids\":[1,5,6],\"answer_ids\":[7,8,9]}\n{\"prompt_ids\":[1,10,11,12]}\n");
        Path out = dir.resolve("base");
        CliRunner.Run r = CliRunner.run("pretrain", "--config", config.toString(), "--corpus", corpus.toString(),
                "--out", out.toString(), "--steps", "5", "--lr", "1e-3", "--batch", "2", "--append-eos");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(JSON.readTree(r.out()).get("steps").asInt()).isEqualTo(5);
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(CliRunner.run("train", "--model", out.toString(), "--data", dir.resolve("missing.jsonl").toString(),
                "--out", dir.resolve("x").toString()).status()).isEqualTo(Cli.BAD_INPUT);
        CliRunner.Run threads = CliRunner.run("train", "--model", out.toString(), "--data", corpus.toString(),
                "--out", dir.resolve("y").toString(), "--threads", "0");
        assertThat(threads.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(threads.err()).contains("--threads and --blas-threads must be >= 1");
    }

    @Test
    void pretrainWithAnswerLossThenExportInBf16(@TempDir Path dir) throws Exception {
        Path config = tinyConfig(dir);
        Path corpus = dir.resolve("corpus.jsonl");
        Files.writeString(corpus, "{\"prompt_ids\":[1,5,6],\"answer_ids\":[7,8,9]}\n");
        Path out = dir.resolve("base");
        assertThat(CliRunner.run("pretrain", "--config", config.toString(), "--corpus", corpus.toString(),
                "--out", out.toString(), "--steps", "3", "--lr", "1e-3", "--append-eos", "--answer-loss").status())
                .isZero();
        Path exported = dir.resolve("base-bf16");
        CliRunner.Run r = CliRunner.run("export", "--model", out.toString(), "--out", exported.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(JSON.readTree(r.out()).get("dtype").asText()).isEqualTo("bf16");
        assertThat(exported.resolve("trainer")).doesNotExist();   // weights only, no training state
        assertThat(JSON.readTree(exported.resolve("config.json").toFile()).get("torch_dtype").asText())
                .isEqualTo("bfloat16");
        assertThat(Files.size(exported.resolve("model.safetensors")))
                .isLessThan(Files.size(out.resolve("model.safetensors")));
        CliRunner.Run g = CliRunner.run("generate", "--model", exported.toString(), "--prompt-ids", "1,5,6",
                "--max-new-tokens", "4", "--json");
        assertThat(g.status()).as(g.err()).isZero();
        assertThat(CliRunner.run("export", "--model", out.toString(), "--out", exported.toString()).status())
                .as("refuses a non-empty output directory").isEqualTo(Cli.BAD_INPUT);
    }

    /** A one-layer LLaMA config.json to train from scratch. */
    static Path tinyConfig(Path dir) throws java.io.IOException {
        Path config = dir.resolve("config.json");
        Files.writeString(config, "{\"architectures\":[\"LlamaForCausalLM\"],\"vocab_size\":64,\"hidden_size\":32,"
                + "\"intermediate_size\":64,\"num_hidden_layers\":1,\"num_attention_heads\":2,"
                + "\"max_position_embeddings\":64,\"eos_token_id\":2,\"bos_token_id\":1}");
        return config;
    }
}
