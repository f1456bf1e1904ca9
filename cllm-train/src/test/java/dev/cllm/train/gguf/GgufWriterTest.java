package dev.cllm.train.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The writer's output, parsed back by the independent {@link GgufReader}. */
class GgufWriterTest {
    @TempDir
    Path tmp;

    @Test
    void metadataTensorInfosAlignmentAndDataReadBack() throws IOException {
        Path file = tmp.resolve("t.gguf");
        float[] vector = {1f, -2.5f, 3.25f, 0f, 1e-3f};            // F32 [5]
        float[] half = {0.5f, -1f, 2f, 65504f, -0.25f, 1.5f};       // F16 ne [3, 2]
        float[] q = new float[64];                                  // Q8_0 ne [32, 2]
        for (int i = 0; i < q.length; i++) {
            q[i] = (i - 20) * 0.125f;
        }
        long expectedBytes;
        try (GgufWriter w = new GgufWriter(file)) {
            w.putString("general.architecture", "llama");
            w.putU32("llama.block_count", 4_000_000_000L);
            w.putF32("llama.rope.freq_base", 10000.5);
            w.putBool("tokenizer.ggml.add_bos_token", true);
            w.putStrings("tokenizer.ggml.tokens", List.of("<s>", "\u2581h\u00e9llo", ""));
            w.putF32s("tokenizer.ggml.scores", new float[]{0f, -1f, -2f});
            w.putI32s("tokenizer.ggml.token_type", new int[]{3, 1, -5});
            w.declareTensor("v", new long[]{5}, GgmlType.F32);
            w.declareTensor("h", new long[]{3, 2}, GgmlType.F16);
            w.declareTensor("q", new long[]{32, 2}, GgmlType.Q8_0);
            w.writeHeader();
            write(w, "v", vector, GgmlType.F32);
            write(w, "h", half, GgmlType.F16);
            write(w, "q", q, GgmlType.Q8_0);
            expectedBytes = w.fileBytes();
        }
        GgufReader r = new GgufReader(file);
        assertThat(r.version).isEqualTo(3);
        assertThat(r.fileSize).isEqualTo(expectedBytes).isEqualTo(Files.size(file));
        assertThat(r.dataStart % 32).isZero();
        assertThat(r.metadata.keySet()).containsExactly("general.alignment", "general.architecture",
                "llama.block_count", "llama.rope.freq_base", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.tokens",
                "tokenizer.ggml.scores", "tokenizer.ggml.token_type");
        assertThat(r.<Long>get("general.alignment")).isEqualTo(32L);
        assertThat(r.<String>get("general.architecture")).isEqualTo("llama");
        assertThat(r.<Long>get("llama.block_count")).isEqualTo(4_000_000_000L);
        assertThat(r.<Float>get("llama.rope.freq_base")).isEqualTo(10000.5f);
        assertThat(r.<Boolean>get("tokenizer.ggml.add_bos_token")).isTrue();
        assertThat(r.<List<Object>>get("tokenizer.ggml.tokens")).containsExactly("<s>", "\u2581h\u00e9llo", "");
        assertThat(r.<List<Object>>get("tokenizer.ggml.scores")).containsExactly(0f, -1f, -2f);
        assertThat(r.<List<Object>>get("tokenizer.ggml.token_type")).containsExactly(3, 1, -5);
        assertThat(r.tensors.keySet()).containsExactly("v", "h", "q");
        assertThat(r.tensors.get("h").ne()).containsExactly(3, 2);
        assertThat(r.tensors.get("q").type()).isEqualTo(8);
        assertThat(r.tensors.values()).allSatisfy(t -> assertThat(t.offset() % 32).isZero());
        assertThat(r.floats("v")).containsExactly(vector);
        assertThat(r.floats("h")).containsExactly(half);
        float[] back = r.floats("q");
        for (int i = 0; i < q.length; i++) {
            assertThat(back[i]).isCloseTo(q[i], org.assertj.core.data.Offset.offset(0.03f));
        }
    }

    @Test
    void misuseIsRejected() throws IOException {
        GgufWriter w = new GgufWriter(tmp.resolve("bad.gguf"));
        {
            assertThatThrownBy(() -> w.declareTensor("odd", new long[]{31, 2}, GgmlType.Q8_0))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("odd");
            w.declareTensor("a", new long[]{4}, GgmlType.F32);
            w.declareTensor("b", new long[]{4}, GgmlType.F32);
            w.writeHeader();
            assertThatThrownBy(() -> w.putString("late", "x")).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> w.beginTensor("b")).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("'b'").hasMessageContaining("a");
            w.beginTensor("a");
            w.write(ByteBuffer.allocate(8));
            assertThatThrownBy(w::endTensor).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("short by 8");
            assertThatThrownBy(() -> w.write(ByteBuffer.allocate(12))).isInstanceOf(IllegalStateException.class);
            w.write(ByteBuffer.allocate(8));
            w.endTensor();
            assertThatThrownBy(w::close).isInstanceOf(IllegalStateException.class).hasMessageContaining("1 of 2");
        }
    }

    private static void write(GgufWriter w, String name, float[] x, GgmlType type) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) type.bytes(x.length)).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : x) {
            if (type == GgmlType.F32) {
                b.putFloat(v);
            } else if (type == GgmlType.F16) {
                b.putShort(Float16.fromFloat(v));
            }
        }
        if (type == GgmlType.Q8_0) {
            Q8_0.quantize(x, 0, x.length, b);
        }
        w.beginTensor(name);
        w.write(b.flip());
        w.endTensor();
    }
}
