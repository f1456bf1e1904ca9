package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The streamed random-checkpoint writer: deterministic, sharded with an index, atomic, and the values it promises. */
class RandomCheckpointStreamTest {
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");

    /** A config whose embeddings span two generator chunks (1.5M values), the rest tiny. */
    private static LlamaConfig twoChunkConfig() {
        return TinyCheckpoints.base().vocabSize(24_000).hiddenSize(64).intermediateSize(96).build();
    }

    @Test
    void theSameSeedWritesTheSameFilesForAnyThreadCount(@TempDir Path tmp) throws IOException {
        LlamaConfig config = twoChunkConfig();
        Path one = RandomCheckpoint.write(tmp.resolve("one"), config, 7, ComputeDtype.BF16, 1_000_000, 1);
        Path three = RandomCheckpoint.write(tmp.resolve("three"), config, 7, ComputeDtype.BF16, 1_000_000, 3);
        Path other = RandomCheckpoint.write(tmp.resolve("other"), config, 8, ComputeDtype.BF16, 1_000_000, 2);
        Map<String, byte[]> a = files(one);
        Map<String, byte[]> b = files(three);
        assertThat(b.keySet()).isEqualTo(a.keySet());
        a.forEach((name, bytes) -> assertThat(b.get(name)).as(name).isEqualTo(bytes));
        assertThat(files(other).get("model-00001-of-00003.safetensors"))
                .isNotEqualTo(a.get("model-00001-of-00003.safetensors"));
    }

    @Test
    void shardsAndIndexAreHuggingFacesLayout(@TempDir Path tmp) throws IOException {
        LlamaConfig config = twoChunkConfig();
        Path dir = RandomCheckpoint.write(tmp, config, 1, ComputeDtype.BF16, 1_000_000, 2);
        Map<String, long[]> expected = HfNames.expectedShapes(config);
        long totalBytes = expected.values().stream().mapToLong(s -> 2 * Arrays.stream(s).reduce(1, (x, y) -> x * y))
                .sum();
        assertThat(files(dir).keySet()).containsExactly("config.json", "model-00001-of-00003.safetensors",
                "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors",
                "model.safetensors.index.json");
        JsonNode index = new ObjectMapper().readTree(dir.resolve("model.safetensors.index.json").toFile());
        assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(totalBytes);
        List<String> mapped = new ArrayList<>();
        index.get("weight_map").fieldNames().forEachRemaining(mapped::add);
        assertThat(mapped).containsExactlyElementsOf(expected.keySet());
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(dir)) {
            assertThat(ckpt.names()).containsExactlyElementsOf(expected.keySet());
            expected.forEach((name, shape) -> {
                assertThat(ckpt.info(name).dtype()).isEqualTo(SafetensorsDtype.BF16);
                assertThat(ckpt.info(name).shapeArray()).as(name).isEqualTo(shape);
            });
        }
        assertThat(LlamaConfig.read(dir.resolve("config.json")).torchDtype()).isEqualTo("bfloat16");
    }

    @Test
    void storedValuesAreTheFp32WeightsRoundedAsLibtorchRoundsThem(@TempDir Path tmp) {
        LlamaConfig config = twoChunkConfig();
        Path f32 = RandomCheckpoint.write(tmp.resolve("f32"), config, 3, ComputeDtype.F32, Long.MAX_VALUE, 2);
        Path bf16 = RandomCheckpoint.write(tmp.resolve("bf16"), config, 3, ComputeDtype.BF16, Long.MAX_VALUE, 2);
        Path f16 = RandomCheckpoint.write(tmp.resolve("f16"), config, 3, ComputeDtype.F16, Long.MAX_VALUE, 2);
        try (PointerScope scope = new PointerScope();
             SafetensorsCheckpoint a = SafetensorsCheckpoint.open(f32);
             SafetensorsCheckpoint b = SafetensorsCheckpoint.open(bf16);
             SafetensorsCheckpoint c = SafetensorsCheckpoint.open(f16)) {
            Map<String, Tensor> inMemory = RandomCheckpoint.hfWeights(config, 3);
            for (Map.Entry<String, Tensor> e : inMemory.entrySet()) {
                String name = e.getKey();
                Tensor w = e.getValue();
                assertThat(a.read(name).equal(w)).as(name).isTrue();
                assertThat(b.read(name).equal(w.to(ScalarType.BFloat16))).as(name).isTrue();
                assertThat(c.read(name).equal(w.to(ScalarType.Half))).as(name).isTrue();
            }
            Tensor embed = inMemory.get(HfNames.EMBED);
            assertThat(embed.mean().item_double()).isCloseTo(0, org.assertj.core.data.Offset.offset(1e-4));
            assertThat(embed.std().item_double()).isCloseTo(RandomCheckpoint.INIT_STD,
                    org.assertj.core.data.Offset.offset(1e-4));
            assertThat(inMemory.get(HfNames.FINAL_NORM).eq(new org.bytedeco.pytorch.Scalar(1.0)).all().item_bool())
                    .isTrue();
        }
    }

    @Test
    void halfAndBfloat16RoundingMatchLibtorchEverywhere() {
        Random rng = new Random(5);
        float[] values = new float[200_000];
        for (int i = 0; i < values.length; i++) {
            values[i] = switch (i % 4) {
                case 0 -> Float.intBitsToFloat(rng.nextInt());                       // any bit pattern
                case 1 -> (float) (rng.nextGaussian() * Math.pow(2, -rng.nextInt(30))); // small, subnormal in f16
                case 2 -> Float.intBitsToFloat((rng.nextInt(0x7f800000) & ~0x1fff) | 0x1000); // f16 ties
                default -> (float) rng.nextGaussian() * 70_000;                      // near f16's overflow
            };
        }
        float[] special = {0f, -0f, Float.MIN_VALUE, 65504f, 65519.99f, 65520f, 5.9604645e-8f, 2.9802322e-8f,
                2.9802326e-8f, 6.1035156e-5f, 6.1028e-5f, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.NaN};
        System.arraycopy(special, 0, values, 0, special.length);
        try (PointerScope scope = new PointerScope()) {
            Tensor t = Tensors.floats(values, values.length);
            short[] half = new short[values.length];
            short[] bf = new short[values.length];
            new org.bytedeco.javacpp.ShortPointer(t.to(ScalarType.Half).contiguous().data_ptr()).get(half);
            new org.bytedeco.javacpp.ShortPointer(t.to(ScalarType.BFloat16).contiguous().data_ptr()).get(bf);
            for (int i = 0; i < values.length; i++) {
                if (Float.isNaN(values[i])) {
                    assertThat(RandomCheckpoint.f16(values[i]) & 0x7c00).isEqualTo(0x7c00);
                    assertThat(RandomCheckpoint.f16(values[i]) & 0x3ff).isNotZero();
                    assertThat(RandomCheckpoint.bf16(values[i]) & 0x7f).isNotZero();
                    continue;
                }
                assertThat(RandomCheckpoint.f16(values[i])).as("f16 of %s", values[i]).isEqualTo(half[i]);
                assertThat(RandomCheckpoint.bf16(values[i])).as("bf16 of %s", values[i]).isEqualTo(bf[i]);
            }
        }
    }

    @Test
    void aFailedWriteLeavesNoConfigAndNoTemporaryFiles(@TempDir Path tmp) throws IOException {
        LlamaConfig config = twoChunkConfig();
        Path dir = RandomCheckpoint.write(tmp.resolve("ckpt"), config, 1, ComputeDtype.BF16, 1_000_000, 2);
        assertThat(dir.resolve("config.json")).exists();
        // a non-empty directory where the third shard must go: moving the finished shard there fails
        Path blocker = dir.resolve("model-00003-of-00003.safetensors");
        Files.delete(blocker);
        Files.createDirectories(blocker.resolve("x"));
        assertThatThrownBy(() -> RandomCheckpoint.write(dir, config, 2, ComputeDtype.BF16, 1_000_000, 2))
                .hasMessageContaining("model-00003-of-00003.safetensors");
        try (Stream<Path> files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()))
                    .doesNotContain("config.json")
                    .noneMatch(name -> name.endsWith(".tmp"));
        }
        assertThatThrownBy(() -> TorchConsistencyModel.load(dir, CPU)).hasMessageContaining("config.json");
    }

    @Test
    void shapesParseFromPresetsAndFieldsAndErrorsNameTheField() {
        LlamaConfig tiny = RandomCheckpoint.shape("tinyllama-1.1b");
        assertThat(tiny.parameterCount()).isBetween(1_090_000_000L, 1_110_000_000L);
        assertThat(tiny.numKvHeads()).isEqualTo(4);
        LlamaConfig llama = RandomCheckpoint.shape("llama-7b");
        assertThat(llama).isEqualTo(RandomCheckpoint.shape("d4096-l32-h32-kv32-f11008-v32000-p2048"));
        assertThat(llama.parameterCount()).isBetween(6_700_000_000L, 6_800_000_000L);
        assertThat(RandomCheckpoint.shape("d64-l2-h4-f96-v100").numKvHeads()).isEqualTo(4);
        assertThat(RandomCheckpoint.shape("d64-l2-h4-f96-v100").maxPositions()).isEqualTo(1024);
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l2-h4-x3-f96-v100"))
                .hasMessageContaining("unknown field 'x3'");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l2-h4-f96")).hasMessageContaining("missing field 'v'");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l0-h4-f96-v100"))
                .hasMessageContaining("field 'l' needs a positive whole number, got '0'");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l2x-h4-f96-v100"))
                .hasMessageContaining("field 'l' needs a positive whole number, got '2x'");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l-h4-f96-v100"))
                .hasMessageContaining("field 'l' needs a positive whole number, got ''");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l2-h5-f96-v100"))
                .hasMessageContaining("field 'd' (64) must be a multiple of field 'h' (5)");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-l2-h4-kv3-f96-v100"))
                .hasMessageContaining("field 'h' (4) must be a multiple of field 'kv' (3)");
        assertThatThrownBy(() -> RandomCheckpoint.shape("d64-d64-l2-h4-f96-v100"))
                .hasMessageContaining("field 'd' given twice");
    }

    @Test
    void aRandomModelIsTheWrittenCheckpointAndFp16OnlyComputesWhatFp16Computes(@TempDir Path tmp) {
        LlamaConfig config = TinyCheckpoints.base().build();
        Path f32 = RandomCheckpoint.write(tmp, config, 4, ComputeDtype.F32, Long.MAX_VALUE, 2);
        int[] tokens = RandomCheckpointTest.randomTokens(97, 24, 3);
        try (TorchConsistencyModel random = TorchConsistencyModel.of(LlamaModel.random(config, 4,
                CPU.withGemm(CpuGemm.BLAS)));
             TorchConsistencyModel loaded = TorchConsistencyModel.load(f32, CPU.withGemm(CpuGemm.BLAS));
             TorchConsistencyModel fp16 = TorchConsistencyModel.load(f32, CPU.withGemm(CpuGemm.FBGEMM_FP16));
             TorchConsistencyModel fp16Only = TorchConsistencyModel.load(f32,
                     CPU.withGemm(CpuGemm.FBGEMM_FP16_ONLY));
             DecodingSession a = random.newSession();
             DecodingSession b = loaded.newSession();
             DecodingSession c = fp16.newSession();
             DecodingSession d = fp16Only.newSession()) {
            Logits x = a.forwardLogits(tokens);
            Logits y = b.forwardLogits(tokens);
            Logits z = c.forwardLogits(tokens);
            Logits w = d.forwardLogits(tokens);
            for (int t = 0; t < tokens.length; t++) {
                assertThat(y.row(t)).isEqualTo(x.row(t));
                assertThat(w.row(t)).isEqualTo(z.row(t));
            }
            assertThat(fp16Only.llama().gemm()).isEqualTo(CpuGemm.FBGEMM_FP16_ONLY);
            assertThatThrownBy(() -> fp16Only.llama().weights()).isInstanceOf(IllegalStateException.class);
            long parameters = config.parameterCount();
            assertThat(loaded.llama().weightBytes()).isEqualTo(4 * parameters);
            long embedAndNorms = 4L * (97 * 32 + 2 * 2 * 32 + 32);
            assertThat(fp16Only.llama().weightBytes()).isEqualTo(embedAndNorms + 2 * (parameters - 97 * 32 - 5 * 32));
            assertThat(fp16.llama().weightBytes()).isEqualTo(4 * parameters + 2 * (parameters - 97 * 32 - 5 * 32));
        }
    }

    private static Map<String, byte[]> files(Path dir) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path p : files.toList()) {
                out.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return out;
    }
}
