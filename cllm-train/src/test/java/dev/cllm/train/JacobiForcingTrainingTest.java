package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingConfig.NoiseSchedule;
import dev.cllm.api.TrainingSummary;
import dev.cllm.data.TrajectoryRecord;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The trainer with the Jacobi Forcing objective, on the tiny model and its own trajectories. */
class JacobiForcingTrainingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;
    static Path base;
    static List<TrajectoryRecord> records;

    @TempDir
    Path dir;

    @BeforeAll
    static void collect() throws IOException {
        TinyTrainingData tiny = TinyTrainingData.collect(shared);
        base = tiny.base();
        records = tiny.records();
    }

    /** Window 3: the tiny answers are 6 blocks long. */
    private static TrainingConfig.Builder fast() {
        return TrainingConfig.builder().objective(TrainingConfig.Objective.JACOBI_FORCING).noiseWindow(3)
                .learningRate(3e-3).batchSize(4).warmupRatio(0).saveEvery(0).seed(3);
    }

    private TorchConsistencyTrainer.Builder trainer(Path out, TrainingConfig config) {
        return TorchConsistencyTrainer.builder().baseModel(base).trajectories(records, "tiny trajectories")
                .config(config).output(out);
    }

    private static double mean(List<JsonNode> steps, String field) {
        return steps.stream().mapToDouble(n -> n.get(field).asDouble()).average().orElseThrow();
    }

    @Test
    void aShortRunLowersTheLossAndSavesALoadableCheckpoint() throws IOException {
        Path out = dir.resolve("jf");
        TrainingSummary s = trainer(out, fast().maxSteps(30).build()).build().train();
        assertThat(s.steps()).isEqualTo(30);
        List<JsonNode> m = TinyTrainingData.metrics(out);
        assertThat(m).hasSize(30);
        double early = mean(m.subList(0, 5), "loss");
        double late = mean(m.subList(25, 30), "loss");
        assertThat(late).as("loss, first 5 steps %s, last 5 %s", early, late).isLessThan(early * 0.8);
        assertThat(mean(m, "consistency_loss")).as("the noisy blocks are trained on").isPositive();
        try (TorchConsistencyModel trained = TorchConsistencyModel.load(out, TorchOptions.defaults()
                .withDevice("cpu"))) {
            assertThat(trained.config().eosTokenIds()).contains(2);
            JacobiDecoder.autoregressive(8).generate(trained, TokenIds.of(1, 2, 3));
        }
    }

    @Test
    void withoutTheArTermTheConsistencyLossFalls() throws IOException {
        Path out = dir.resolve("jf-consistency");
        trainer(out, fast().arWeight(0).maxSteps(30).build()).build().train();
        List<JsonNode> m = TinyTrainingData.metrics(out);
        double early = mean(m.subList(0, 5), "consistency_loss");
        double late = mean(m.subList(25, 30), "consistency_loss");
        assertThat(late).as("consistency loss, first 5 steps %s, last 5 %s", early, late).isLessThan(early * 0.8);
    }

    @Test
    void anInterruptedRunResumesToTheSameWeightsAsAnUninterruptedOne() throws IOException {
        // the random schedule: its draws must be functions of (seed, epoch, block) for the resumed run to match
        TrainingConfig config = fast().noiseSchedule(NoiseSchedule.RANDOM).maxSteps(8).saveEvery(4).evalEvery(4)
                .gradientAccumulation(2).build();
        Path straight = dir.resolve("straight");
        trainer(straight, config).build().train();

        Path resumed = dir.resolve("resumed");
        TrainingEvaluator crashAtFour = (model, step) -> {
            if (step == 4) {
                throw new IllegalStateException("simulated crash after the step-4 checkpoint");
            }
            return Map.of();
        };
        assertThatThrownBy(() -> trainer(resumed, config).evaluator(crashAtFour).build().train())
                .hasMessageContaining("simulated crash");
        assertThat(JSON.readTree(resumed.resolve("trainer/state.json").toFile()).get("step").asLong()).isEqualTo(4);
        TrainingSummary s = trainer(resumed, config).build().train();
        assertThat(s.resumedFromStep()).isEqualTo(4);
        assertThat(s.steps()).isEqualTo(8);
        assertThat(TinyCheckpoints.maxAbsDifference(straight, resumed)).as("max |straight - resumed|").isZero();
        assertThat(TinyTrainingData.metrics(resumed).stream().map(n -> n.get("step").asLong()).toList())
                .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);

        // another window is another run
        assertThatThrownBy(() -> trainer(resumed, config.toBuilder().noiseWindow(4).maxSteps(10).build()).build()
                .train()).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("noiseWindow 3 vs 4");
    }

    @Test
    void answersThatDoNotFitAreRefusedNamingBothLimits() {
        assertThatThrownBy(() -> trainer(dir.resolve("none"), fast().maxSteps(1).maxSequenceLength(8).build())
                .build().train()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("no training examples").hasMessageContaining("maximum sequence length 8")
                .hasMessageContaining("64 positions");
    }
}
