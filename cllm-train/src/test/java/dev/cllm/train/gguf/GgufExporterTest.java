package dev.cllm.train.gguf;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.SafetensorsCheckpoint;
import dev.cllm.torch.SafetensorsHeader;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every checkpoint variant we load, exported and read back tensor by tensor; bad checkpoints name what is wrong. */
class GgufExporterTest {
    @TempDir
    Path tmp;

    static Stream<Object[]> variantsAndTypes() {
        List<Object[]> out = new ArrayList<>();
        for (TinyCheckpoints.Variant v : TinyCheckpoints.variants()) {
            for (GgufType t : GgufType.values()) {
                out.add(new Object[]{v, t});
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("variantsAndTypes")
    void everyTensorReadsBackAsTheCheckpointsValuesInLlamaCppLayout(TinyCheckpoints.Variant variant, GgufType type)
            throws IOException {
        Path dir = variant.write(tmp.resolve("ckpt"), 7);
        Path out = tmp.resolve("m.gguf");
        GgufExport export = GgufExporter.export(dir, out, type);
        LlamaConfig c = LlamaConfig.read(dir.resolve("config.json"));
        GgufReader r = new GgufReader(out);
        String arch = c.architecture().equals("Qwen2ForCausalLM") ? "qwen2" : "llama";

        assertThat(export.architecture()).isEqualTo(arch);
        assertThat(export.fileBytes()).isEqualTo(Files.size(out));
        assertThat(export.vocabulary()).isEqualTo(GgufExport.Vocabulary.SYNTHETIC);
        assertThat(r.<String>get("general.architecture")).isEqualTo(arch);
        assertThat(r.<Long>get("general.file_type")).isEqualTo((long) type.fileType());
        assertThat(r.<Long>get(arch + ".context_length")).isEqualTo(c.maxPositions());
        assertThat(r.<Long>get(arch + ".embedding_length")).isEqualTo(c.hiddenSize());
        assertThat(r.<Long>get(arch + ".block_count")).isEqualTo(c.numLayers());
        assertThat(r.<Long>get(arch + ".feed_forward_length")).isEqualTo(c.intermediateSize());
        assertThat(r.<Long>get(arch + ".attention.head_count")).isEqualTo(c.numHeads());
        assertThat(r.<Long>get(arch + ".attention.head_count_kv")).isEqualTo(c.numKvHeads());
        assertThat(r.<Long>get(arch + ".rope.dimension_count")).isEqualTo(c.headDim());
        assertThat(r.<Float>get(arch + ".rope.freq_base")).isEqualTo((float) c.ropeTheta());
        assertThat(r.<Float>get(arch + ".attention.layer_norm_rms_epsilon")).isEqualTo((float) c.rmsNormEps());
        assertThat(r.metadata.containsKey(arch + ".attention.key_length"))
                .isEqualTo(c.headDim() * c.numHeads() != c.hiddenSize());
        boolean linear = c.ropeScaling() != null && c.ropeScaling().type().equals("linear");
        assertThat(r.metadata.containsKey(arch + ".rope.scaling.type")).isEqualTo(linear);
        assertThat(r.tensors.containsKey("output.weight")).isEqualTo(!c.tieWordEmbeddings());
        assertThat(r.tensors.containsKey("rope_freqs.weight"))
                .isEqualTo(c.ropeScaling() != null && c.ropeScaling().type().equals("llama3"));
        assertThat(r.<List<Object>>get("tokenizer.ggml.tokens")).hasSize(c.vocabSize());

        List<GgufTensor> plan = GgufTensor.plan(c, type);
        assertThat(r.tensors.keySet()).containsExactlyElementsOf(plan.stream().map(GgufTensor::name).toList());
        try (SafetensorsCheckpoint ckpt = SafetensorsCheckpoint.open(dir)) {
            for (GgufTensor t : plan) {
                GgufReader.Tensor info = r.tensors.get(t.name());
                assertThat(info.ne()).as(t.name()).containsExactly(t.ne());
                float[] actual = r.floats(t.name());
                if (t.hfName() == null) {
                    assertThat(actual).as(t.name()).containsExactly(t.values());
                    continue;
                }
                float[] source = floats(ckpt, t.hfName());
                boolean permuted = t.headDim() > 0;
                assertThat(permuted).as(t.name()).isEqualTo(arch.equals("llama")
                        && (t.name().contains("attn_q.") || t.name().contains("attn_k.")));
                int cols = t.isMatrix() ? (int) t.cols() : 1;
                float[] expected = new float[source.length];  // the source in llama.cpp's row order
                for (int i = 0; i < expected.length; i++) {
                    int row = i / cols;
                    expected[i] = source[(permuted ? QkPermutation.sourceRow(row, t.headDim()) : row) * cols + i % cols];
                }
                assertClose(t, actual, expected);
            }
        }
    }

    /** F32: exact; F16: the nearest half; Q8_0: within half a step of its block, plus the fp16 rounding of the step. */
    private static void assertClose(GgufTensor t, float[] actual, float[] expected) {
        switch (t.type()) {
            case F32 -> assertThat(actual).as(t.name()).containsExactly(expected);
            case F16 -> {
                for (int i = 0; i < actual.length; i++) {
                    assertThat(actual[i]).as(t.name()).isEqualTo(Float16.toFloat(Float16.fromFloat(expected[i])));
                }
            }
            case Q8_0 -> {
                for (int start = 0; start < actual.length; start += 32) {
                    float amax = 0;
                    for (int j = start; j < start + 32; j++) {
                        amax = Math.max(amax, Math.abs(expected[j]));
                    }
                    for (int j = start; j < start + 32; j++) {
                        assertThat((double) Math.abs(actual[j] - expected[j])).as(t.name())
                                .isLessThanOrEqualTo(q8_0Bound(amax));
                    }
                }
            }
        }
    }

    /** Q8_0's error bound for a block: half a step, plus 127 times the fp16 rounding of the step. */
    static double q8_0Bound(float amax) {
        double step = amax / 127.0;
        return step * 0.5 * 1.0001 + 127 * Math.max(step * 0x1p-11, 0x1p-25);
    }

    private static float[] floats(SafetensorsCheckpoint ckpt, String name) {
        try (PointerScope scope = new PointerScope()) {
            Tensor t = ckpt.read(name).to(ScalarType.Float, false, true, null).contiguous();
            float[] out = new float[(int) t.numel()];
            new FloatPointer(t.data_ptr()).get(out);
            return out;
        }
    }

    @Test
    void q8_0QuantizesMatricesWithRowsOf32AndFallsBackToF16OtherwiseAsLlamaCppsConverter() throws IOException {
        Path out = tmp.resolve("s.gguf");
        GgufExport export = GgufExporter.export(Stories260K.dir(), out, GgufType.Q8_0);
        GgufReader r = new GgufReader(out);
        assertThat(r.tensors.get("token_embd.weight").type()).isEqualTo(8);
        assertThat(r.tensors.get("blk.0.attn_q.weight").type()).isEqualTo(8);
        assertThat(r.tensors.get("blk.0.ffn_gate.weight").type()).isEqualTo(8);   // rows of 64
        assertThat(r.tensors.get("blk.0.ffn_down.weight").type()).isEqualTo(1);   // rows of 172: F16
        assertThat(r.tensors.get("blk.0.attn_norm.weight").type()).isZero();
        assertThat(r.tensors.get("output_norm.weight").type()).isZero();
        assertThat(export.quantized()).isEqualTo(1 + 5 * 6);
        assertThat(export.tensors()).isEqualTo(2 + 5 * 9);
    }

    @Test
    void unsupportedArchitectureIsRefusedNamingTheConfig() throws IOException {
        Path dir = TinyCheckpoints.variants().get(0).write(tmp.resolve("ckpt"), 1);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        config.putArray("architectures").add("GPTNeoXForCausalLM");
        Files.writeString(dir.resolve("config.json"), config.toString());
        assertThatThrownBy(() -> GgufExporter.export(dir, tmp.resolve("x.gguf"), GgufType.F16))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("config.json")
                .hasMessageContaining("GPTNeoXForCausalLM");
        assertThat(tmp.resolve("x.gguf")).doesNotExist();
        assertThat(tmp.resolve("x.gguf.part")).doesNotExist();
    }

    @Test
    void missingTensorIsNamedWithItsFile() throws IOException {
        Path dir = TinyCheckpoints.variants().get(0).write(tmp.resolve("ckpt"), 1);
        rewrite(dir.resolve("model.safetensors"), "model.layers.1.mlp.up_proj.weight", null);
        assertThatThrownBy(() -> GgufExporter.export(dir, tmp.resolve("x.gguf"), GgufType.F16))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("model.safetensors")
                .hasMessageContaining("missing tensor 'model.layers.1.mlp.up_proj.weight'")
                .hasMessageContaining("blk.1.ffn_up.weight");
        assertThat(tmp.resolve("x.gguf")).doesNotExist();
    }

    @Test
    void unsupportedDtypeIsNamedWithTheTensorAndFile() throws IOException {
        Path dir = TinyCheckpoints.variants().get(0).write(tmp.resolve("ckpt"), 1);
        rewrite(dir.resolve("model.safetensors"), "model.norm.weight", "I32");
        assertThatThrownBy(() -> GgufExporter.export(dir, tmp.resolve("x.gguf"), GgufType.F16))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("model.safetensors")
                .hasMessageContaining("'model.norm.weight' has dtype I32");
    }

    @Test
    void shapeMismatchIsNamed() throws IOException {
        Path dir = TinyCheckpoints.variants().get(0).write(tmp.resolve("ckpt"), 1);
        ObjectNode config = (ObjectNode) new ObjectMapper().readTree(dir.resolve("config.json").toFile());
        config.put("intermediate_size", 64);
        Files.writeString(dir.resolve("config.json"), config.toString());
        assertThatThrownBy(() -> GgufExporter.export(dir, tmp.resolve("x.gguf"), GgufType.F16))
                .isInstanceOf(CheckpointException.class).hasMessageContaining("model.layers.0.mlp.gate_proj.weight")
                .hasMessageContaining("[48, 32]").hasMessageContaining("[64, 32]");
    }

    /**
     * Rewrites a safetensors file in place without {@code drop}, or with its dtype renamed to {@code newDtype}
     * (same byte size), in pure Java.
     */
    private static void rewrite(Path file, String tensor, String newDtype) throws IOException {
        SafetensorsHeader header = SafetensorsHeader.read(file);
        byte[] all = Files.readAllBytes(file);
        ObjectMapper json = new ObjectMapper();
        ObjectNode h = json.createObjectNode();
        Map<String, byte[]> data = new LinkedHashMap<>();
        long offset = 0;
        for (SafetensorsHeader.TensorInfo info : header.tensors().values()) {
            if (info.name().equals(tensor) && newDtype == null) {
                continue;
            }
            byte[] bytes = java.util.Arrays.copyOfRange(all, (int) (header.dataStart() + info.begin()),
                    (int) (header.dataStart() + info.end()));
            ObjectNode e = h.putObject(info.name());
            e.put("dtype", info.name().equals(tensor) ? newDtype : info.dtype().name());
            info.shape().forEach(e.putArray("shape")::add);
            e.putArray("data_offsets").add(offset).add(offset + bytes.length);
            offset += bytes.length;
            data.put(info.name(), bytes);
        }
        byte[] headerBytes = json.writeValueAsString(h).getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(headerBytes.length).flip());
            ch.write(ByteBuffer.wrap(headerBytes));
            for (byte[] bytes : data.values()) {
                ch.write(ByteBuffer.wrap(bytes));
            }
        }
    }
}
