package dev.cllm.train;

import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import dev.cllm.torch.fixtures.TinyCheckpoints.Variant;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link HfExport}: a saved model loads back with the same weights, in every architecture variant and storage dtype. */
class HfExportTest {

    static List<Variant> variants() {
        return TinyCheckpoints.variants();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void writerRoundTripPreservesTheWeights(Variant variant, @TempDir Path dir) throws Exception {
        LlamaConfig config = variant.config();
        TorchOptions cpu = TorchOptions.defaults().withDevice("cpu");
        try (LlamaModel original = LlamaModel.random(config, 3, cpu)) {
            HfExport.save(original, dir, variant.storage(), variant.maxShardBytes());
            assertThat(LlamaConfig.read(dir.resolve("config.json")).toBuilder().torchDtype(null).build())
                    .isEqualTo(config.toBuilder().torchDtype(null).build());
            if (variant.maxShardBytes() < Long.MAX_VALUE) {
                assertThat(dir.resolve("model.safetensors.index.json")).exists();
                try (var files = Files.list(dir)) {
                    assertThat(files.filter(f -> f.getFileName().toString().startsWith("model-")).count())
                            .isGreaterThan(1);
                }
            }
            try (LlamaModel loaded = LlamaModel.load(dir, config, cpu); PointerScope scope = new PointerScope()) {
                Map<String, Tensor> a = HfExport.stateDict(original);
                Map<String, Tensor> b = HfExport.stateDict(loaded);
                assertThat(b.keySet()).containsExactlyElementsOf(a.keySet());
                for (String name : a.keySet()) {
                    Tensor expected = a.get(name).to(variant.storage().scalarType(false))
                            .to(org.bytedeco.pytorch.global.torch.ScalarType.Float);
                    assertThat(b.get(name).equal(expected)).as("%s %s", variant, name).isTrue();
                }
            }
        }
    }

}
