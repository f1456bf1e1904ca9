package dev.cllm.train;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.SafetensorsCheckpoint;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import dev.cllm.torch.fixtures.TinyCheckpoints.Variant;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Checkpoints averaged weight by weight: every stored tensor is the mean of the inputs', whatever their storage. */
class WeightAverageTest {
    @TempDir
    Path dir;

    private static Variant variant(String name) {
        return TinyCheckpoints.variants().stream().filter(v -> v.name().equals(name)).findFirst().orElseThrow();
    }

    /** The largest difference between {@code average}'s tensors and the mean of {@code models}' (read as fp32). */
    private static double maxErrorAgainstTheMean(Path average, List<Path> models) {
        double[] ones = new double[models.size()];
        Arrays.fill(ones, 1.0);
        return maxErrorAgainstTheMean(average, models, ones);
    }

    /** The same against the weighted mean {@code sum w_i m_i / sum w_i}, computed here independently. */
    private static double maxErrorAgainstTheMean(Path average, List<Path> models, double[] weights) {
        double weightSum = Arrays.stream(weights).sum();
        double max = 0;
        List<SafetensorsCheckpoint> inputs = new ArrayList<>();
        try (SafetensorsCheckpoint avg = SafetensorsCheckpoint.open(average); PointerScope scope = new PointerScope()) {
            for (Path m : models) {
                inputs.add(SafetensorsCheckpoint.open(m));
            }
            for (SafetensorsCheckpoint in : inputs) {
                assertThat(in.names()).isEqualTo(avg.names());
            }
            for (String name : avg.names()) {
                Tensor sum = inputs.get(0).read(name).to(ScalarType.Float).mul(new Scalar(weights[0] / weightSum));
                for (int i = 1; i < inputs.size(); i++) {
                    sum = sum.add(inputs.get(i).read(name).to(ScalarType.Float)
                            .mul(new Scalar(weights[i] / weightSum)));
                }
                Tensor mean = sum;
                max = Math.max(max, avg.read(name).to(ScalarType.Float).sub(mean).abs().max().item_double());
            }
        } finally {
            inputs.forEach(SafetensorsCheckpoint::close);
        }
        return max;
    }

    @Test
    void eachWeightIsTheMeanOfTheModelsWeights() throws Exception {
        for (String name : List.of("f32-untied-gqa", "f32-tied-mha")) {
            Variant v = variant(name);
            List<Path> models = List.of(v.write(dir.resolve(name + "-1"), 1), v.write(dir.resolve(name + "-2"), 2),
                    v.write(dir.resolve(name + "-3"), 3));
            Path out = dir.resolve(name + "-average");
            WeightAverage.write(models, out, ComputeDtype.F32);
            assertThat(maxErrorAgainstTheMean(out, models)).as(name).isLessThan(1e-6);
            assertThat(TinyCheckpoints.maxAbsDifference(out, models.get(0))).as("not the first model").isPositive();
            assertThat(Files.readString(out.resolve("config.json"))).contains("float32");
        }
    }

    @Test
    void weightedAveragesMoveAFineTuneTowardItsBase() throws Exception {
        Variant v = variant("f32-untied-gqa");
        Path base = v.write(dir.resolve("base"), 6);
        Path tuned = v.write(dir.resolve("tuned"), 7);
        Path threeQuarters = dir.resolve("three-quarters");
        WeightAverage.write(List.of(base, tuned), new double[]{1, 3}, threeQuarters, ComputeDtype.F32);
        assertThat(maxErrorAgainstTheMean(threeQuarters, List.of(base, tuned), new double[]{0.25, 0.75}))
                .isLessThan(1e-6);
        // the same as the base plus three copies of the fine-tune, the uniform way
        Path copies = dir.resolve("copies");
        WeightAverage.write(List.of(base, tuned, tuned, tuned), copies, ComputeDtype.F32);
        assertThat(TinyCheckpoints.maxAbsDifference(copies, threeQuarters)).isLessThan(1e-6);
        Path all = dir.resolve("all");
        WeightAverage.write(List.of(base, tuned), new double[]{0, 2}, all, ComputeDtype.F32);
        assertThat(TinyCheckpoints.maxAbsDifference(all, tuned)).as("weight 0 drops a model").isEqualTo(0.0);

        assertThatThrownBy(() -> WeightAverage.write(List.of(base, tuned), new double[]{1, -1}, dir.resolve("n"),
                ComputeDtype.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("weight -1.0 of " + tuned).hasMessageContaining(">= 0");
        assertThatThrownBy(() -> WeightAverage.write(List.of(base, tuned), new double[]{0, 0}, dir.resolve("z"),
                ComputeDtype.F32)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("all zero");
        assertThatThrownBy(() -> WeightAverage.write(List.of(base, tuned), new double[]{1}, dir.resolve("o"),
                ComputeDtype.F32)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1 weights for 2 models");
        assertThat(dir.resolve("n")).doesNotExist();

        // weights far from 1 in either direction are shares all the same: no overflow, no 0 / 0
        for (double scale : new double[]{1e39, 1e-50, 1e300}) {
            Path scaled = dir.resolve("scaled-" + scale);
            WeightAverage.write(List.of(base, tuned), new double[]{scale, 3 * scale}, scaled, ComputeDtype.F32);
            assertThat(TinyCheckpoints.maxAbsDifference(scaled, threeQuarters)).as("%s", scale).isLessThan(1e-6);
        }
    }

    @Test
    void checkpointsStoredInOtherPrecisionsAverageInFp32() throws Exception {
        Path f32 = variant("f32-untied-gqa").write(dir.resolve("f32"), 4);
        Path bf16 = variant("bf16-storage").write(dir.resolve("bf16"), 5);
        Path out = dir.resolve("average");
        WeightAverage.write(List.of(f32, bf16), out, ComputeDtype.F32);
        assertThat(maxErrorAgainstTheMean(out, List.of(f32, bf16))).isLessThan(1e-6);
        Path stored = dir.resolve("average-bf16");
        WeightAverage.write(List.of(f32, bf16), stored, ComputeDtype.BF16);
        assertThat(Files.readString(stored.resolve("config.json"))).contains("bfloat16");
        assertThat(TinyCheckpoints.maxAbsDifference(stored, out)).as("bf16 rounding only").isLessThan(0.02);
    }

    @Test
    void modelsOfAnotherShapeOrTooFewModelsAreRefusedByName() throws Exception {
        Path untied = variant("f32-untied-gqa").write(dir.resolve("untied"), 1);
        Path tied = variant("f32-tied-mha").write(dir.resolve("tied"), 1);
        assertThatThrownBy(() -> WeightAverage.write(List.of(untied, tied), dir.resolve("x"), ComputeDtype.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(tied.toString())
                .hasMessageContaining("config differs");
        assertThatThrownBy(() -> WeightAverage.write(List.of(untied), dir.resolve("y"), ComputeDtype.F32))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least two models, got 1");
        assertThatThrownBy(() -> WeightAverage.write(List.of(untied, dir.resolve("none")), dir.resolve("z"),
                ComputeDtype.F32)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no config.json");
        assertThat(dir.resolve("x")).doesNotExist();
        Path file = dir.resolve("file");
        Files.writeString(file, "not a checkpoint directory");
        assertThatThrownBy(() -> WeightAverage.write(List.of(untied, untied), file, ComputeDtype.F32))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("exists and is not an empty directory");
    }
}
