package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.train.Rendezvous;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code --local-processes}, {@code --world-size/--rank/--master} and the torchrun variables on the commands. */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class DistributedCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void pretrainOnTwoLocalProcessesPrintsOneSummaryAndMatchesOneProcess() throws Exception {
        Path config = TrainCliTest.tinyConfig(dir);
        Path corpus = dir.resolve("corpus.jsonl");
        StringBuilder lines = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            lines.append("{\"prompt_ids\":[1,").append(5 + i).append(",").append(6 + 2 * i).append("],\"answer_ids\":[")
                    .append(20 + i).append(",").append(30 + i % 3).append("]}\n");
        }
        Files.writeString(corpus, lines);
        String[] common = {"pretrain", "--config", config.toString(), "--corpus", corpus.toString(), "--steps", "4",
                "--lr", "1e-3", "--batch", "4", "--append-eos", "--seed", "5"};

        CliRunner.Run single = CliRunner.run(concat(common, "--out", dir.resolve("one").toString()));
        assertThat(single.status()).as(single.err()).isZero();
        CliRunner.Run two = CliRunner.run(concat(common, "--out", dir.resolve("two").toString(),
                "--local-processes", "2"));
        assertThat(two.status()).as(two.err()).isZero();

        assertThat(two.out().strip().lines().toList()).as("rank 0's summary only, no Gloo notices").hasSize(1);
        JsonNode s = JSON.readTree(two.out());
        assertThat(s.get("steps").asInt()).isEqualTo(4);
        assertThat(s.get("final_loss").asDouble()).isCloseTo(JSON.readTree(single.out()).get("final_loss")
                .asDouble(), org.assertj.core.data.Offset.offset(1e-4));
        assertThat(two.err()).contains("[rank 0]").contains("[rank 1]").contains("rank 1 of 2");
        assertThat(TinyCheckpoints.maxAbsDifference(dir.resolve("one"), dir.resolve("two"))).isLessThan(1e-4);
    }

    @Test
    void collectOnTwoLocalProcessesWritesTheSameDatasetAsOneProcess() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt_ids\":[1,300,301]}\n{\"prompt_ids\":[1,400,401]}\n"
                + "{\"prompt_ids\":[1,500]}\n{\"prompt_ids\":[1,410,411,412]}\n{\"prompt_ids\":[1,450]}\n");
        String[] common = {"collect", "--model", Stories260K.dir().toString(), "--prompts", prompts.toString(),
                "--block-size", "8", "--max-new-tokens", "24", "--no-clean"};
        Path one = dir.resolve("one.jsonl");
        Path two = dir.resolve("two.jsonl");
        CliRunner.Run single = CliRunner.run(concat(common, "--out", one.toString()));
        assertThat(single.status()).as(single.err()).isZero();
        CliRunner.Run r = CliRunner.run(concat(common, "--out", two.toString(), "--local-processes", "2"));
        assertThat(r.status()).as(r.err()).isZero();

        JsonNode s = JSON.readTree(r.out());
        assertThat(s.get("prompts").asInt()).isEqualTo(5);
        assertThat(s.get("ranks").asInt()).isEqualTo(2);
        assertThat(Files.readAllBytes(two)).isEqualTo(Files.readAllBytes(one));
        assertThat(dir.resolve("two.jsonl.parts/shard-1-of-2.jsonl")).exists();
        assertThat(JSON.readTree(dir.resolve("two.jsonl.manifest.json").toFile()).get("counts"))
                .isEqualTo(JSON.readTree(dir.resolve("one.jsonl.manifest.json").toFile()).get("counts"));
    }

    @Test
    void benchTrainingMeasuresEveryProcessCountAgainstOne() throws Exception {
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt_ids\":[1,300,301]}\n{\"prompt_ids\":[1,400,401]}\n");
        Path data = dir.resolve("t.jsonl");
        assertThat(CliRunner.run("collect", "--model", Stories260K.dir().toString(), "--prompts", prompts.toString(),
                "--out", data.toString(), "--block-size", "8", "--max-new-tokens", "16", "--no-clean").status())
                .isZero();
        CliRunner.Run r = CliRunner.run("bench-training", "--model", Stories260K.dir().toString(), "--data",
                data.toString(), "--ranks", "1,2", "--batch", "2", "--warmup-steps", "1", "--steps", "2",
                "--objective", "consistency,jacobi-forcing", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode rows = JSON.readTree(r.out()).get("training");
        assertThat(rows).hasSize(4);
        assertThat(rows).extracting(n -> n.get("objective").asText())
                .containsExactly("consistency", "consistency", "jacobi-forcing", "jacobi-forcing");
        assertThat(rows.get(2).get("tokens_per_s").asDouble()).isPositive();
        assertThat(rows.get(0).get("ranks").asInt()).isEqualTo(1);
        assertThat(rows.get(0).get("speedup").asDouble()).isEqualTo(1.0);
        assertThat(rows.get(1).get("ranks").asInt()).isEqualTo(2);
        assertThat(rows.get(1).get("examples_per_s").asDouble()).isPositive();
        assertThat(rows.get(1).get("speedup").asDouble()).isCloseTo(rows.get(1).get("examples_per_s").asDouble()
                / rows.get(0).get("examples_per_s").asDouble(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(JSON.readTree(r.out()).get("machine").get("command").asText()).startsWith("./cllm bench-training");
    }

    @Test
    void incompleteOrContradictoryJobOptionsAreRefused() {
        String model = Stories260K.dir().toString();
        CliRunner.Run partial = CliRunner.run("train", "--model", model, "--data", model + "/config.json", "--out",
                dir.resolve("x").toString(), "--world-size", "2");
        assertThat(partial.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(partial.err()).contains("needs all of --world-size, --rank and --master");
        CliRunner.Run both = CliRunner.run("pretrain", "--config", model + "/config.json", "--corpus",
                model + "/config.json", "--out", dir.resolve("y").toString(), "--local-processes", "2", "--rank", "0");
        assertThat(both.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(both.err()).contains("--local-processes starts the whole job");
        Path prompts = Stories260K.dir().resolve("config.json");
        CliRunner.Run shard = CliRunner.run("collect", "--model", model, "--prompts", prompts.toString(), "--out",
                dir.resolve("z.jsonl").toString(), "--shard", "0/2", "--world-size", "2", "--rank", "0", "--master",
                "127.0.0.1:29555");
        assertThat(shard.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(shard.err()).contains("--shard is chosen by the job's rank");
    }

    @Test
    void torchrunVariablesConfigureTheRankAndOptionsWin() {
        DistributedOptions o = new DistributedOptions().withEnvironment(Map.of("WORLD_SIZE", "4", "RANK", "2",
                "MASTER_ADDR", "node0", "MASTER_PORT", "29400"));
        o.timeoutSeconds = 60;
        assertThat(o.rendezvous()).isEqualTo(new Rendezvous(4, 2, "node0", 29400, java.time.Duration.ofSeconds(60)));
        o.worldSize = 2;
        o.rank = 1;
        o.master = "10.1.1.1:1234";
        assertThat(o.rendezvous()).isEqualTo(new Rendezvous(2, 1, "10.1.1.1", 1234, java.time.Duration.ofSeconds(60)));
        assertThat(o.device("cuda", o.rendezvous())).isEqualTo("cuda");
        DistributedOptions local = new DistributedOptions().withEnvironment(Map.of("LOCAL_RANK", "3"));
        assertThat(local.device("cuda", o.rendezvous())).isEqualTo("cuda:3");
        assertThat(local.device("cuda:0", o.rendezvous())).isEqualTo("cuda:0");
        assertThat(local.device("cpu", o.rendezvous())).isEqualTo("cpu");
        assertThat(local.device("cuda", null)).isEqualTo("cuda");
        DistributedOptions none = new DistributedOptions().withEnvironment(Map.of());
        none.timeoutSeconds = 60;
        assertThat(none.rendezvous()).isNull();
        assertThat(LocalLauncher.withoutLaunchOption(List.of("train", "--local-processes", "2", "--out", "x",
                "--local-processes=3"))).containsExactly("train", "--out", "x");
    }

    @Test
    void benchTrainingSpeedupsAreOverOneProcessOfTheSameObjectiveWhateverTheOrder() {
        List<TrainingBenchCommand.Row> rows = TrainingBenchCommand.withSpeedups(List.of(
                new TrainingBenchCommand.Row("consistency", 2, 16, 10, 1, 1, 30, 100, 1, 1, Double.NaN),
                new TrainingBenchCommand.Row("consistency", 1, 16, 10, 1, 1, 20, 100, 0, 0, Double.NaN),
                new TrainingBenchCommand.Row("jacobi-forcing", 1, 16, 10, 1, 1, 5, 100, 0, 0, Double.NaN),
                new TrainingBenchCommand.Row("jacobi-forcing", 2, 16, 10, 1, 1, 9, 100, 0, 0, Double.NaN)));
        assertThat(rows).extracting(TrainingBenchCommand.Row::speedup).containsExactly(1.5, 1.0, 1.0, 1.8);
    }

    @Test
    void benchTrainingRefusesAnUnknownObjective() {
        CliRunner.Run r = CliRunner.run("bench-training", "--model", Stories260K.dir().toString(), "--data",
                Stories260K.dir().resolve("config.json").toString(), "--objective", "consistency,forcing");
        assertThat(r.status()).isNotZero();
        assertThat(r.err()).contains("'forcing'");
    }

    private static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
