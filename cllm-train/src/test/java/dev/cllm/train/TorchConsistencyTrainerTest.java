package dev.cllm.train;

import dev.cllm.data.TrajectoryRecord;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.api.Trajectory;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.torch.SafetensorsCheckpoint;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The trainer on a tiny random model and its own Jacobi trajectories. */
class TorchConsistencyTrainerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");

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

    private static TrainingConfig.Builder fast() {
        return TrainingConfig.builder().learningRate(3e-3).batchSize(4).warmupRatio(0).saveEvery(0).seed(3);
    }

    private TorchConsistencyTrainer.Builder trainer(Path out, TrainingConfig config) {
        return TorchConsistencyTrainer.builder().baseModel(base).trajectories(records, "tiny trajectories")
                .config(config).output(out);
    }

    @Test
    void consistencyTrainingOfARealModelLowersItsConsistencyLoss() throws IOException {
        Path stories = Stories260K.dir();
        List<TrajectoryRecord> real = new ArrayList<>();
        JacobiTrajectoryCollector collector = JacobiTrajectoryCollector.builder().blockSize(8).maxNewTokens(48)
                .stopOnEos(false).build();
        try (TorchConsistencyModel model = TorchConsistencyModel.load(stories, CPU);
             DecodingSession session = model.newSession()) {
            for (int p = 0; p < 4; p++) {
                Prompt prompt = Prompt.of(p, TokenIds.of(1, 300 + 13 * p, 400 + 7 * p));
                for (Trajectory t : collector.collect(session, prompt).trajectories()) {
                    real.add(TrajectoryRecord.of(t, prompt.ids().size()));
                }
            }
        }
        Path out = dir.resolve("stories-cllm");
        TrainingConfig config = TrainingConfig.builder().learningRate(1e-3).batchSize(8).warmupRatio(0).saveEvery(0)
                .maxSteps(30).arWeight(0).stateSampling(TrainingConfig.StateSampling.ALL).build();
        TorchConsistencyTrainer.builder().baseModel(stories).trajectories(real, "stories260K trajectories")
                .config(config).output(out).build().train();
        List<JsonNode> m = TinyTrainingData.metrics(out);
        double early = m.subList(0, 5).stream().mapToDouble(n -> n.get("consistency_loss").asDouble()).average()
                .orElseThrow();
        double late = m.subList(25, 30).stream().mapToDouble(n -> n.get("consistency_loss").asDouble()).average()
                .orElseThrow();
        assertThat(late).as("consistency loss, first 5 steps %s, last 5 steps %s", early, late)
                .isLessThan(early * 0.8);
    }

    @Test
    void trainingSavesALoadableCheckpointWithTheBaseModelsFiles() throws IOException {
        Path out = dir.resolve("cllm");
        TrainingSummary s = trainer(out, fast().maxSteps(5).build()).build().train();
        assertThat(s.steps()).isEqualTo(5);
        assertThat(TinyTrainingData.metrics(out)).hasSize(5);
        assertThat(out.resolve("config.json")).exists();
        assertThat(out.resolve("generation_config.json")).exists();
        try (TorchConsistencyModel trained = TorchConsistencyModel.load(out, CPU)) {
            assertThat(trained.config().eosTokenIds()).contains(2);
            JacobiDecoder.autoregressive(8).generate(trained, TokenIds.of(1, 2, 3));
        }
        byte[] weights = Files.readAllBytes(out.resolve("model.safetensors"));
        TrainingSummary again = trainer(out, fast().maxSteps(5).build()).build().train();   // already finished
        assertThat(again.steps()).isEqualTo(5);
        assertThat(again.finalLoss()).isEqualTo(s.finalLoss());
        assertThat(again.arLoss()).isEqualTo(s.arLoss());
        assertThat(Files.readAllBytes(out.resolve("model.safetensors"))).isEqualTo(weights);
        assertThat(TinyTrainingData.metrics(out)).hasSize(5);
    }

    @Test
    void anOutputUnderDirectoriesThatDoNotExistYetIsWritten() throws IOException {
        Path out = dir.resolve("runs").resolve("seed1").resolve("f32");   // the metrics file goes beside it
        trainer(out, fast().maxSteps(2).build()).build().train();
        assertThat(out.resolve("model.safetensors")).exists();
        assertThat(TinyTrainingData.metrics(out)).hasSize(2);
    }

    @Test
    void anInterruptedRunResumesToTheSameWeightsAsAnUninterruptedOne() throws IOException {
        TrainingConfig config = fast().maxSteps(8).saveEvery(4).evalEvery(4).gradientAccumulation(2).build();
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

        assertSameWeights(straight, resumed);
        assertThat(TinyTrainingData.metrics(resumed).stream().map(n -> n.get("step").asLong()).toList())
                .containsExactly(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L);
    }

    @Test
    void anAnchoredRunReportsItsAnchorTermAndResumesAnchoredToTheBaseModelNotTheCheckpoint() throws IOException {
        TrainingConfig config = fast().maxSteps(6).saveEvery(3).evalEvery(3).anchorWeight(20).build();
        Path straight = dir.resolve("anchored");
        trainer(straight, config).build().train();
        List<JsonNode> m = TinyTrainingData.metrics(straight);
        assertThat(m).hasSize(6);
        // the first step's model is the base model: nothing to anchor yet; later steps have moved away from it
        assertThat(m.get(0).get("anchor_loss").asDouble()).isLessThan(1e-6);
        assertThat(m.get(5).get("anchor_loss").asDouble()).isGreaterThan(1e-4);

        Path resumed = dir.resolve("anchored-resumed");
        TrainingEvaluator crashAtThree = (model, step) -> {
            if (step == 3) {
                throw new IllegalStateException("simulated crash after the step-3 checkpoint");
            }
            return Map.of();
        };
        assertThatThrownBy(() -> trainer(resumed, config).evaluator(crashAtThree).build().train())
                .hasMessageContaining("simulated crash");
        assertThat(trainer(resumed, config).build().train().resumedFromStep()).isEqualTo(3);
        assertSameWeights(straight, resumed);   // an anchor read from the checkpoint would have given other weights

        Path unanchored = dir.resolve("unanchored");
        trainer(unanchored, fast().maxSteps(6).build()).build().train();
        assertThat(TinyTrainingData.metrics(unanchored).get(0).has("anchor_loss")).isFalse();
        assertThatThrownBy(() -> trainer(unanchored, fast().maxSteps(6).anchorWeight(20).build()).build().train())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("anchorWeight 0.0 vs 20.0");

        // resuming an anchored run from another base model would change the anchor halfway: refused
        Path interrupted = dir.resolve("anchored-interrupted");
        assertThatThrownBy(() -> trainer(interrupted, config).evaluator(crashAtThree).build().train())
                .hasMessageContaining("simulated crash");
        Path copy = Files.createDirectories(dir.resolve("another-base"));
        try (var files = Files.list(base)) {
            for (Path f : files.toList()) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        assertThatThrownBy(() -> TorchConsistencyTrainer.builder().baseModel(copy)
                .trajectories(records, "tiny trajectories").config(config).output(interrupted).build().train())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was trained anchored to "
                        + base.toAbsolutePath().normalize()).hasMessageContaining("give the same --model to resume");
    }

    @Test
    void anAnchorWeightWithoutABaseModelIsRefused() {
        assertThatThrownBy(() -> TorchConsistencyTrainer.builder()
                .fromScratch(TinyCheckpoints.base().build()).trajectories(records, "tiny trajectories")
                .config(fast().anchorWeight(1).build()).output(dir.resolve("x")).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("anchor weight 1.0 needs a base model");
    }

    @Test
    void anInterruptDuringTheLastStepStillSavesThatStep() throws IOException {
        Path out = dir.resolve("interrupted");
        TrainingEvaluator interruptAtThree = (model, step) -> {
            if (step == 3) {
                Thread.currentThread().interrupt();   // seen during step 4, the last one
            }
            return Map.of();
        };
        try {
            TrainingSummary s = trainer(out, fast().maxSteps(4).evalEvery(3).build()).evaluator(interruptAtThree)
                    .build().train();
            assertThat(s.steps()).isEqualTo(4);
        } finally {
            Thread.interrupted();
        }
        assertThat(JSON.readTree(out.resolve("trainer/state.json").toFile()).get("step").asLong()).isEqualTo(4);

        // mid-run: the interrupt seen in step 4 of 6 saves step 4 and returns with the flag set; a rerun resumes
        Path mid = dir.resolve("mid");
        TrainingConfig six = fast().maxSteps(6).evalEvery(3).build();
        try {
            TrainingSummary s = trainer(mid, six).evaluator(interruptAtThree).build().train();
            assertThat(s.steps()).isEqualTo(4);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
        TrainingSummary rest = trainer(mid, six).build().train();
        assertThat(rest.resumedFromStep()).isEqualTo(4);
        assertThat(rest.steps()).isEqualTo(6);
    }

    private static void assertSameWeights(Path a, Path b) {
        try (SafetensorsCheckpoint x = SafetensorsCheckpoint.open(a); SafetensorsCheckpoint y = SafetensorsCheckpoint
                .open(b); PointerScope scope = new PointerScope()) {
            assertThat(y.names()).isEqualTo(x.names());
            for (String name : x.names()) {
                Tensor tx = x.read(name);
                Tensor ty = y.read(name);
                assertThat(tx.equal(ty)).as(name).isTrue();
            }
        }
    }

    @Test
    void resumingWithOtherSettingsIsRefused() {
        Path out = dir.resolve("cllm");
        trainer(out, fast().maxSteps(2).build()).build().train();
        assertThatThrownBy(() -> trainer(out, fast().maxSteps(2).learningRate(1e-4).build()).build().train())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was trained with");
    }

    @Test
    void resumingWithSettingsThatDifferBeyondTheRoundedSummaryIsRefusedNamingTheField() {
        Path out = dir.resolve("cllm");
        trainer(out, fast().maxSteps(2).build()).build().train();
        // 3e-3 and 3.001e-3 print alike in TrainingConfig.toString (3 digits); adamEpsilon is not printed at all
        assertThatThrownBy(() -> trainer(out, fast().maxSteps(2).learningRate(3.001e-3).build()).build().train())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("was trained with")
                .hasMessageContaining("learningRate 0.003 vs 0.003001");
        assertThatThrownBy(() -> trainer(out, fast().maxSteps(2).adamEpsilon(1e-6).build()).build().train())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("adamEpsilon 1.0E-8 vs 1.0E-6");
    }

    @Test
    void aCheckpointOfTheFirstStateFormatResumesWhenItsSummaryMatches() throws IOException {
        TrainingConfig config = fast().maxSteps(4).saveEvery(2).evalEvery(2).build();
        Path out = dir.resolve("old");
        TrainingEvaluator crashAtTwo = (model, step) -> {
            if (step == 2) {
                throw new IllegalStateException("simulated crash after the step-2 checkpoint");
            }
            return Map.of();
        };
        assertThatThrownBy(() -> trainer(out, config).evaluator(crashAtTwo).build().train())
                .hasMessageContaining("simulated crash");
        // what the first format recorded: the configuration's summary
        Path stateFile = out.resolve("trainer/state.json");
        com.fasterxml.jackson.databind.node.ObjectNode state = (com.fasterxml.jackson.databind.node.ObjectNode)
                JSON.readTree(stateFile.toFile());
        state.put("format_version", 1).put("config", config.toString());
        Files.writeString(stateFile, JSON.writeValueAsString(state));

        assertThatThrownBy(() -> trainer(out, fast().maxSteps(4).saveEvery(2).evalEvery(2).learningRate(1e-3)
                .build()).build().train()).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("was trained with");
        TrainingSummary s = trainer(out, config).build().train();
        assertThat(s.resumedFromStep()).isEqualTo(2);
        assertThat(s.steps()).isEqualTo(4);
        assertThat(JSON.readTree(stateFile.toFile()).get("format_version").asInt())
                .isEqualTo(TrainingCheckpoints.FORMAT_VERSION);
    }

    @Test
    void aNonFiniteLossStopsTrainingBeforeTouchingTheWeights() throws IOException {
        Path poisoned = dir.resolve("poisoned");
        TinyCheckpoints.variants().get(0).write(poisoned, 11);
        try (SafetensorsCheckpoint in = SafetensorsCheckpoint.open(poisoned); PointerScope scope = new PointerScope()) {
            Map<String, Tensor> weights = new java.util.LinkedHashMap<>();
            for (String name : in.names()) {
                weights.put(name, in.read(name));
            }
            weights.get("model.norm.weight").fill_(new org.bytedeco.pytorch.Scalar(Double.NaN));
            SafetensorsCheckpoint.writeSharded(poisoned, weights, Long.MAX_VALUE);
        }
        Path out = dir.resolve("nan");
        assertThatThrownBy(() -> TorchConsistencyTrainer.builder().baseModel(poisoned)
                .trajectories(records, "tiny").config(fast().maxSteps(3).build()).output(out).build().train())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("non-finite loss")
                .hasMessageContaining("step 1");
        assertThat(out).doesNotExist();
    }

    @Test
    void aDivergingRunStopsWithAClearErrorAndKeepsTheLastCheckpoint() throws IOException {
        Path out = dir.resolve("diverged");
        TrainingConfig config = fast().learningRate(1e30).maxGradNorm(0).saveEvery(1).maxSteps(6).build();
        assertThatThrownBy(() -> trainer(out, config).build().train())
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("non-finite")
                .hasMessageContaining(out.toString());
        long saved = JSON.readTree(out.resolve("trainer/state.json").toFile()).get("step").asLong();
        assertThat(saved).isBetween(1L, 5L);
        try (TorchConsistencyModel model = TorchConsistencyModel.load(out, CPU)) {
            assertThat(model.config().vocabSize()).isEqualTo(97);
        }
    }

    @Test
    void localConsistencyWithReverseKlTrains() {
        TrainingSummary s = trainer(dir.resolve("local"), fast().maxSteps(4)
                .consistencyLoss(TrainingConfig.ConsistencyLoss.LOCAL).distance(TrainingConfig.Distance.REVERSE_KL)
                .stateSampling(TrainingConfig.StateSampling.ALL).build()).build().train();
        assertThat(s.steps()).isEqualTo(4);
        assertThat(Double.isFinite(s.finalLoss())).isTrue();
    }

    @Test
    void languageModelTrainingFromScratchMemorizesASequence() throws IOException {
        int[] sequence = new int[24];
        for (int i = 0; i < sequence.length; i++) {
            sequence[i] = 3 + (i * 7) % 40;
        }
        Path out = dir.resolve("lm");
        TrainingConfig config = TrainingConfig.builder().objective(TrainingConfig.Objective.LANGUAGE_MODEL)
                .learningRate(1e-2).labelSmoothing(0).warmupRatio(0.1).batchSize(2).maxSteps(120).saveEvery(0)
                .build();
        TrainingSummary s = TorchConsistencyTrainer.builder().fromScratch(TinyCheckpoints.base().build())
                .sequences(List.of(sequence, sequence), "one sequence").config(config).output(out).build().train();
        assertThat(s.arLoss()).isLessThan(0.1);
        try (TorchConsistencyModel model = TorchConsistencyModel.load(out, CPU)) {
            TokenIds prompt = TokenIds.of(java.util.Arrays.copyOf(sequence, 4));
            TokenIds rest = JacobiDecoder.builder().blockSize(4).maxNewTokens(20).noStop().build()
                    .generate(model, prompt).ids();
            assertThat(rest.toArray()).containsExactly(java.util.Arrays.copyOfRange(sequence, 4, 24));
        }
    }
}
