package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.examples.demo.TaskConfigFile;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.fixtures.RepositoryModels;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import dev.cllm.train.WeightAverage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm blend}: the chosen blend is written as validated, with its report; bad input is refused. */
class BlendCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static Path base;
    static Path cllm;

    @BeforeAll
    static void checkpoints() throws Exception {
        LlamaConfig config = SqlCheckpoints.shape().build();
        base = SqlCheckpoints.write(dir, config, "base", 1);
        cllm = SqlCheckpoints.write(dir, config, "cllm", 2);
    }

    @Test
    void theChosenCandidateIsWrittenExactlyAsValidatedWithItsReport() throws Exception {
        Path work = dir.resolve("work");
        Path out = work.resolve("blend");
        CliRunner.Run r = CliRunner.run("blend", "--base", base.toString(), "--cllm", cllm.toString(), "--out",
                out.toString(), "--validation", "10", "--alphas", "1,0.5", "--max-new-tokens", "8");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("questions").asInt()).isEqualTo(10);
        assertThat(o.get("validation").asText()).contains("10 validation questions in place of the held-out ones");
        assertThat(o.get("dtype").asText()).as("the CLLM's storage").isEqualTo("f32");
        JsonNode candidates = o.get("candidates");
        assertThat(candidates).hasSize(2);
        double chosen = o.get("chosen_alpha").asDouble();
        assertThat(Stream.of(candidates.get(0), candidates.get(1)).filter(c -> c.get("chosen").asBoolean())
                .map(c -> c.get("alpha").asDouble())).containsExactly(chosen);
        for (JsonNode c : candidates) {
            assertThat(c.get("tokens_per_pass").asDouble()).isBetween(1.0, 8.0);
            assertThat(c.get("accuracy").asDouble()).isBetween(0.0, 1.0);
            assertThat(c.get("points_against_base").asDouble()).isCloseTo(100 * (c.get("accuracy").asDouble()
                    - o.get("base_accuracy").asDouble()), org.assertj.core.api.Assertions.within(1e-9));
            assertThat(c.get("ci95_half_width").asDouble()).isNotNegative();
        }
        assertThat(JSON.readTree(out.resolve("blend.json").toFile()).get("chosen_alpha").asDouble())
                .isEqualTo(chosen);
        assertThat(out.resolve("config.json")).isRegularFile();
        assertThat(out.resolve("tokenizer.json")).isRegularFile();
        assertThat(out.resolve(TaskConfigFile.FILE_NAME)).as("the CLLM's other files come along").isRegularFile();
        // the weights are the blend of the chosen share, bit for bit, and no candidate is left behind
        Path expected = dir.resolve("expected");
        WeightAverage.write(List.of(cllm, base), new double[]{chosen, 1 - chosen}, expected, ComputeDtype.F32);
        assertThat(TinyCheckpoints.maxAbsDifference(out, expected)).isEqualTo(0.0);
        try (Stream<Path> left = Files.list(work)) {
            assertThat(left).containsExactly(out);
        }
        try (Stream<Path> inside = Files.list(out)) {
            assertThat(inside.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".candidates"))
                    .contains("blend.json", "model.safetensors");
        }

        CliRunner.Run again = CliRunner.run("blend", "--base", base.toString(), "--cllm", cllm.toString(), "--out",
                out.toString(), "--validation", "10");
        assertThat(again.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(again.err()).contains("--out " + out + ": exists and is not an empty directory");
    }

    @Test
    void anExistingEmptyDirectoryIsFilledInPlace() throws Exception {
        Path out = Files.createDirectories(dir.resolve("empty"));
        CliRunner.Run r = CliRunner.run("blend", "--base", base.toString(), "--cllm", cllm.toString(), "--out",
                dir.resolve("empty/../empty").toString(), "--validation", "4", "--alphas", "1", "--max-new-tokens", "4");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(out.resolve("blend.json")).isRegularFile();
        assertThat(out.resolve("config.json")).isRegularFile();
    }

    @Test
    void aSearchThatFailsLeavesNothingWhereThereWasNothing() throws Exception {
        // a CLLM without tokenizer files: its candidates cannot decode, which is found after the base model's AR pass
        Path bare = SqlCheckpoints.write(dir, SqlCheckpoints.shape().build(), "bare", 2);
        Files.delete(bare.resolve("tokenizer.json"));
        Path out = dir.resolve("failed/out");
        CliRunner.Run r = CliRunner.run("blend", "--base", base.toString(), "--cllm", bare.toString(), "--out",
                out.toString(), "--validation", "4", "--alphas", "1", "--max-new-tokens", "4");
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("a candidate has no tokenizer.json");
        assertThat(out).doesNotExist();
    }

    @Test
    void aBaseModelWithoutTheTasksConfigIsBadInput() throws Exception {
        CliRunner.Run r = CliRunner.run("blend", "--task", "math", "--base", base.toString(), "--cllm",
                cllm.toString(), "--out", dir.resolve("m").toString());
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("--base " + base + ": no math-task.json");
        assertThat(dir.resolve("m")).doesNotExist();
    }

    @Test
    void aCllmOfAnotherShapeOrABadShareIsBadInput() throws Exception {
        Path wide = SqlCheckpoints.write(dir, SqlCheckpoints.shape().hiddenSize(64).build(), "wide", 3);
        CliRunner.Run r = CliRunner.run("blend", "--base", base.toString(), "--cllm", wide.toString(), "--out",
                dir.resolve("x").toString());
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("--cllm " + wide + ": its config differs from the base model's");
        CliRunner.Run bad = CliRunner.run("blend", "--base", base.toString(), "--cllm", cllm.toString(), "--out",
                dir.resolve("y").toString(), "--alphas", "1.5");
        assertThat(bad.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(bad.err()).contains("--alphas: 1.5 is not in (0, 1]");
        assertThat(dir.resolve("x")).doesNotExist();
        assertThat(dir.resolve("y")).doesNotExist();
    }

    @Test
    void onTheShippedPairTheValidationQuestionsAreAnsweredAsTheModelsAnswerTheTask() throws Exception {
        Path base = RepositoryModels.checkpoint("sql-base");
        Path cllm = RepositoryModels.checkpoint("sql-cllm");
        Path out = dir.resolve("shipped");
        CliRunner.Run r = CliRunner.run("blend", "--base", base.toString(), "--cllm", cllm.toString(), "--out",
                out.toString(), "--validation", "40",
                "--alphas", "1");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        // both models answer most questions of their task right (the held-out ones: 84.0% and 84.0%)
        assertThat(o.get("base_accuracy").asDouble()).isGreaterThan(0.6);
        JsonNode only = o.get("candidates").get(0);
        assertThat(only.get("accuracy").asDouble()).isGreaterThan(0.6);
        assertThat(only.get("points_against_base").asDouble()).isCloseTo(100 * (only.get("accuracy").asDouble()
                - o.get("base_accuracy").asDouble()), org.assertj.core.api.Assertions.within(1e-9));
        assertThat(only.get("ci95_half_width").asDouble()).as("the models differ on some questions").isPositive();
        assertThat(only.get("ci95_half_width_by_template").asDouble()).as("templates, not questions, as the draws")
                .isGreaterThan(only.get("ci95_half_width").asDouble());
        assertThat(only.get("tokens_per_pass").asDouble()).as("a CLLM's Jacobi decoding").isGreaterThan(1.8);
        assertThat(o.get("dtype").asText()).isEqualTo("bf16");
        assertThat(TinyCheckpoints.maxAbsDifference(out, cllm)).as("a = 1: the CLLM")
                .isEqualTo(0.0);
    }
}
