package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.CheckpointException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Stream;

import static dev.cllm.torch.SafetensorsTestFiles.rawBytes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Single-file and sharded checkpoint directories: round trips and every way an index can be wrong. */
@SuppressWarnings("try") // PointerScopes are opened only to free what the block allocates
class SafetensorsCheckpointTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void loadTorch() {
        TorchRuntime.ensureLoaded();
    }

    /** Five tensors of 48, 48, 16, 8 and 24 bytes. */
    private static Map<String, Tensor> weights() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        tensors.put("model.embed_tokens.weight",
                Tensor.create(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, 4, 3));
        tensors.put("model.layers.0.mlp.up_proj.weight",
                Tensor.create(new float[] {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12}, 3, 4)
                        .to(ScalarType.BFloat16).repeat(2, 1));
        tensors.put("model.norm.weight", Tensor.create(new float[] {.5f, .25f, .125f, 1f}, 4));
        tensors.put("step", Tensor.create(new long[] {123}).reshape());
        tensors.put("lm_head.weight", Tensor.create(new float[] {0, 1, 2, 3, 4, 5}, 2, 3).to(ScalarType.Double)
                .narrow(1, 0, 2).reshape(4).narrow(0, 0, 3));
        return tensors;
    }

    @Test
    void everythingFitsInOneFile() {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = weights();
            SafetensorsCheckpoint.writeSharded(dir, tensors, 1L << 30);

            assertThat(dir.resolve("model.safetensors")).isRegularFile();
            assertThat(dir.resolve("model.safetensors.index.json")).doesNotExist();
            assertThat(SafetensorsHeader.read(dir.resolve("model.safetensors")).metadata())
                    .containsEntry("format", "pt");
            assertReadsBack(tensors);
        }
    }

    @Test
    void shardedRoundTrip() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = weights();
            SafetensorsCheckpoint.writeSharded(dir, tensors, 64);

            JsonNode index = SafetensorsHeader.JSON.readTree(dir.resolve("model.safetensors.index.json").toFile());
            assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(48 + 48 + 16 + 8 + 24);
            assertThat(index.get("weight_map").get("model.embed_tokens.weight").asText())
                    .isEqualTo("model-00001-of-00003.safetensors");
            assertThat(index.get("weight_map").get("lm_head.weight").asText())
                    .isEqualTo("model-00003-of-00003.safetensors");
            try (Stream<Path> files = Files.list(dir)) {
                assertThat(files.map(p -> p.getFileName().toString())).containsExactlyInAnyOrder(
                        "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                        "model-00003-of-00003.safetensors", "model.safetensors.index.json");
            }
            assertReadsBack(tensors);
        }
    }

    @Test
    void rewritingInTheOtherLayoutRemovesTheStaleEntryFile() {
        try (PointerScope scope = new PointerScope()) {
            SafetensorsCheckpoint.writeSharded(dir, weights(), 1L << 30);
            SafetensorsCheckpoint.writeSharded(dir, weights(), 64);
            assertThat(dir.resolve("model.safetensors")).doesNotExist();
            assertReadsBack(weights());

            SafetensorsCheckpoint.writeSharded(dir, weights(), 1L << 30);
            assertThat(dir.resolve("model.safetensors.index.json")).doesNotExist();
            assertReadsBack(weights());
        }
    }

    @Test
    void infoDescribesATensorWithoutReadingIt() {
        try (PointerScope scope = new PointerScope()) {
            SafetensorsCheckpoint.writeSharded(dir, weights(), 64);
            try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
                SafetensorsHeader.TensorInfo info = checkpoint.info("model.layers.0.mlp.up_proj.weight");
                assertThat(info.dtype()).isEqualTo(SafetensorsDtype.BF16);
                assertThat(info.shape()).containsExactly(6L, 4L);
                assertThat(checkpoint.contains("step")).isTrue();
                assertThat(checkpoint.contains("nope")).isFalse();
                assertThatThrownBy(() -> checkpoint.read("nope"))
                        .isExactlyInstanceOf(CheckpointException.class)
                        .hasMessageContainingAll(dir.toString(), "no tensor 'nope'");
            }
        }
    }

    @Test
    void closeIsIdempotentAndUseAfterCloseThrows() {
        try (PointerScope scope = new PointerScope()) {
            SafetensorsCheckpoint.writeSharded(dir, weights(), 64);
            SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir);
            checkpoint.close();
            checkpoint.close();
            assertThatThrownBy(() -> checkpoint.read("step")).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(checkpoint::names).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void emptyDirectoryNamesBothFiles() {
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContainingAll(dir.toString(), "model.safetensors", "model.safetensors.index.json");
    }

    @Test
    void invalidIndexJson() throws IOException {
        Path index = writeIndex("{\"weight_map\": {\"a\": ");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContainingAll(index.toString(), "not valid JSON");
    }

    @Test
    void indexWithoutWeightMap() throws IOException {
        Path index = writeIndex("{\"metadata\": {\"total_size\": 0}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContainingAll(index.toString(), "weight_map is missing");
    }

    @Test
    void indexWithMalformedWeightMap() throws IOException {
        Path index = writeIndex("{\"weight_map\": {\"a\": 3}}");
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContainingAll(index.toString(), "weight_map entry 'a' is 3");
    }

    @Test
    void missingShard() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            SafetensorsCheckpoint.writeSharded(dir, weights(), 64);
            Files.delete(dir.resolve("model-00002-of-00003.safetensors"));
            assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                    .isExactlyInstanceOf(CheckpointException.class)
                    .hasMessageContainingAll("model.safetensors.index.json", "model.layers.0.mlp.up_proj.weight",
                            "model-00002-of-00003.safetensors", "does not exist");
        }
    }

    @Test
    void tensorAbsentFromItsShard() throws IOException {
        try (PointerScope scope = new PointerScope()) {
            SafetensorsCheckpoint.writeSharded(dir, weights(), 64);
            Path index = dir.resolve("model.safetensors.index.json");
            String json = Files.readString(index).replace("\"step\" : \"model-00003-of-00003.safetensors\"",
                    "\"step\" : \"model-00001-of-00003.safetensors\"");
            Files.writeString(index, json);
            assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                    .isExactlyInstanceOf(CheckpointException.class)
                    .hasMessageContainingAll(index.toString(), "tensor 'step'", "model-00001-of-00003.safetensors",
                            "has no such tensor");
        }
    }

    @Test
    void shardPathsMayNotLeaveTheDirectory() throws IOException {
        Path inner = Files.createDirectory(dir.resolve("ckpt"));
        try (PointerScope scope = new PointerScope()) {
            SafetensorsWriter.write(dir.resolve("outside.safetensors"),
                    Map.of("w", Tensor.create(new float[] {1f}, 1)), Map.of());
        }
        for (String shard : new String[] {"../outside.safetensors", dir.resolve("outside.safetensors").toString(),
                "", "."}) {
            Files.writeString(inner.resolve("model.safetensors.index.json"),
                    "{\"weight_map\": {\"w\": " + SafetensorsHeader.JSON.writeValueAsString(shard) + "}}");
            assertThatThrownBy(() -> SafetensorsCheckpoint.open(inner))
                    .as(shard)
                    .isExactlyInstanceOf(CheckpointException.class)
                    .hasMessageContainingAll("model.safetensors.index.json", "'w'", "outside the checkpoint directory");
        }
    }

    @Test
    void malformedShardIsReportedByName() throws IOException {
        writeIndex("{\"weight_map\": {\"w\": \"model-00001-of-00001.safetensors\"}}");
        Path shard = dir.resolve("model-00001-of-00001.safetensors");
        Files.write(shard, new byte[] {1, 2, 3});
        assertThatThrownBy(() -> SafetensorsCheckpoint.open(dir))
                .isExactlyInstanceOf(CheckpointException.class)
                .hasMessageContainingAll(shard.toString(), "fewer than the 8-byte header length");
    }

    private Path writeIndex(String json) throws IOException {
        return Files.write(dir.resolve("model.safetensors.index.json"), json.getBytes(StandardCharsets.UTF_8));
    }

    private void assertReadsBack(Map<String, Tensor> tensors) {
        try (SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.open(dir)) {
            assertThat(checkpoint.names()).containsExactlyElementsOf(tensors.keySet());
            for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
                Tensor back = checkpoint.read(entry.getKey());
                assertThat(back.shape()).as(entry.getKey()).containsExactly(entry.getValue().shape());
                assertThat(back.equal(entry.getValue())).as(entry.getKey()).isTrue();
                assertThat(rawBytes(back)).as(entry.getKey()).isEqualTo(rawBytes(entry.getValue()));
            }
        }
    }
}
