package dev.cllm.torch;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.CheckpointException;
import dev.cllm.api.DecodingSession;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Every way a checkpoint directory can be wrong ends in a {@link CheckpointException} whose message names the file
 * (or directory) and the field, tensor or value at fault, and a failed load leaves nothing behind.
 */
@SuppressWarnings("try") // PointerScopes are opened only to free what the block allocates
class CheckpointErrorsTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");
    private static final String LM_HEAD = "lm_head.weight";
    private static final String FINAL_NORM = "model.norm.weight";
    private static final String LAYER1_UP = "model.layers.1.mlp.up_proj.weight";

    @TempDir
    Path dir;

    /** A valid tiny checkpoint (vocab 97, d 32, 2 layers, GQA 4/2, untied) in {@link #dir}. */
    private Path validCheckpoint() {
        return TinyCheckpoints.variants().get(0).write(dir, 11);
    }

    private static TorchConsistencyModel load(Path checkpoint) {
        return TorchConsistencyModel.load(checkpoint, CPU);
    }

    private static void assertLoadFails(Path checkpoint, String... fragments) {
        assertThatThrownBy(() -> load(checkpoint).close())
                .isInstanceOf(CheckpointException.class)
                .satisfies(e -> {
                    System.out.println(checkpoint.getFileName() + " -> " + e.getMessage());
                    for (String fragment : fragments) {
                        assertThat(e.getMessage()).as("message of %s", e).contains(fragment);
                    }
                });
    }

    // ------------------------------------------------------------------------------------------ directory, files

    @Test
    void missingDirectory() {
        Path missing = dir.resolve("no-such-checkpoint");
        assertLoadFails(missing, missing.toString(), "not a directory");
    }

    @Test
    void missingConfig() throws IOException {
        Path checkpoint = validCheckpoint();
        Files.delete(checkpoint.resolve("config.json"));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "missing");
    }

    @Test
    void configIsNotJson() throws IOException {
        Path checkpoint = validCheckpoint();
        Path config = checkpoint.resolve("config.json");
        Files.writeString(config, "{\"vocab_size\": 97, \"hidden_size\": ");
        assertLoadFails(checkpoint, config.toString());
    }

    @Test
    void configIsAJsonArray() throws IOException {
        Path checkpoint = validCheckpoint();
        Path config = checkpoint.resolve("config.json");
        Files.writeString(config, "[1, 2, 3]");
        assertLoadFails(checkpoint, config.toString(), "not a JSON object");
    }

    @Test
    void emptyConfig() throws IOException {
        Path checkpoint = validCheckpoint();
        Path config = checkpoint.resolve("config.json");
        Files.writeString(config, "");
        assertLoadFails(checkpoint, config.toString());
    }

    // ------------------------------------------------------------------------------------------ config fields

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "max_position_embeddings"})
    void missingRequiredField(String field) {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.remove(field));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "'" + field + "'", "missing");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "max_position_embeddings"})
    void requiredFieldOfTheWrongType(String field) {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put(field, "big"));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "'" + field + "'", "big");
    }

    @Test
    void fractionalInteger() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("hidden_size", 32.5));
        assertLoadFails(checkpoint, "config.json", "'hidden_size'", "32.5");
    }

    @Test
    void integerTooLargeForAnInt() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("vocab_size", 1L << 40));
        assertLoadFails(checkpoint, "config.json", "'vocab_size'", String.valueOf(1L << 40));
    }

    @Test
    void negativeSize() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("num_hidden_layers", -2));
        assertLoadFails(checkpoint, "config.json", "num_hidden_layers", "-2");
    }

    @Test
    void optionalFieldOfTheWrongType() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("rms_norm_eps", "tiny"));
        assertLoadFails(checkpoint, "config.json", "'rms_norm_eps'", "tiny");
        editConfig(checkpoint, c -> c.put("rms_norm_eps", 1e-5).put("tie_word_embeddings", "yes"));
        assertLoadFails(checkpoint, "config.json", "'tie_word_embeddings'", "yes");
    }

    @Test
    void unsupportedArchitecture() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.putArray("architectures").add("GPT2LMHeadModel"));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "GPT2LMHeadModel",
                "unsupported architecture");
    }

    /**
     * A real GPT-2 config uses n_embd/n_head/n_layer, so the first thing wrong with it is its architecture; the user
     * should be told that, not that hidden_size is missing.
     */
    @Test
    void unsupportedArchitectureIsReportedBeforeMissingLlamaFields() throws IOException {
        Path checkpoint = validCheckpoint();
        Path config = checkpoint.resolve("config.json");
        Files.writeString(config, """
                {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 50257, "n_embd": 768,
                 "n_head": 12, "n_layer": 12, "n_positions": 1024, "activation_function": "gelu_new",
                 "bos_token_id": 50256, "eos_token_id": 50256}
                """);
        assertLoadFails(checkpoint, config.toString(), "GPT2LMHeadModel");
    }

    @Test
    void noArchitecturesAndUnknownModelType() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> {
            c.remove("architectures");
            c.put("model_type", "gpt_neox");
        });
        assertLoadFails(checkpoint, "config.json", "gpt_neox");
    }

    @Test
    void unsupportedActivation() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("hidden_act", "gelu"));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "hidden_act", "gelu");
    }

    @Test
    void unsupportedRopeScalingType() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.putObject("rope_scaling").put("rope_type", "yarn").put("factor", 4.0)
                .put("original_max_position_embeddings", 32));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "rope_scaling", "yarn");
    }

    @Test
    void ropeScalingWithTheOldTypeKey() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.putObject("rope_scaling").put("type", "dynamic").put("factor", 2.0));
        assertLoadFails(checkpoint, "config.json", "rope_scaling", "dynamic");
    }

    @Test
    void llama3RopeScalingWithoutItsFactors() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.putObject("rope_scaling").put("rope_type", "llama3").put("factor", 8.0));
        assertLoadFails(checkpoint, "config.json", "llama3", "low_freq_factor");
    }

    @Test
    void headsNotAMultipleOfKvHeads() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("num_key_value_heads", 3));
        assertLoadFails(checkpoint, checkpoint.resolve("config.json").toString(), "num_attention_heads (4)",
                "num_key_value_heads (3)");
    }

    @Test
    void slidingWindowAttention() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> {
            c.putArray("architectures").add("MistralForCausalLM");
            c.put("sliding_window", 16);
        });
        assertLoadFails(checkpoint, "config.json", "sliding_window", "16");
    }

    @Test
    void eosOutsideTheVocabulary() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.putArray("eos_token_id").add(2).add(97));
        assertLoadFails(checkpoint, "config.json", "eos_token_id", "97");
    }

    @Test
    void generationConfigEosOutsideTheVocabulary() throws IOException {
        Path checkpoint = validCheckpoint();
        Path generation = checkpoint.resolve("generation_config.json");
        Files.writeString(generation, "{\"eos_token_id\": [2, 500]}");
        assertLoadFails(checkpoint, generation.toString(), "eos_token_id", "500");
    }

    // ------------------------------------------------------------------------------------------ weights

    @Test
    void missingTensor() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.remove(LAYER1_UP));
        assertLoadFails(checkpoint, checkpoint.toString(), LAYER1_UP, "missing tensor", "[48, 32]");
    }

    @Test
    void missingLmHeadOfAnUntiedModel() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.remove(LM_HEAD));
        assertLoadFails(checkpoint, checkpoint.toString(), LM_HEAD, "missing tensor");
    }

    @Test
    void misShapedTensor() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.put(LAYER1_UP, w.get(LAYER1_UP).narrow(0, 0, 47).contiguous()));
        assertLoadFails(checkpoint, checkpoint.toString(), LAYER1_UP, "[47, 32]", "[48, 32]");
    }

    @Test
    void transposedTensor() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.put(LAYER1_UP, w.get(LAYER1_UP).t().contiguous()));
        assertLoadFails(checkpoint, checkpoint.toString(), LAYER1_UP, "[32, 48]", "[48, 32]");
    }

    @Test
    void integerWeightTensor() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.put(LM_HEAD, w.get(LM_HEAD).to(ScalarType.Long)));
        assertLoadFails(checkpoint, checkpoint.toString(), LM_HEAD, "dtype");
    }

    @Test
    void integerNormTensor() {
        Path checkpoint = validCheckpoint();
        rewriteWeights(checkpoint, w -> w.put(FINAL_NORM, w.get(FINAL_NORM).to(ScalarType.Int)));
        assertLoadFails(checkpoint, checkpoint.toString(), FINAL_NORM, "dtype");
    }

    @Test
    void truncatedWeightsFile() throws IOException {
        Path checkpoint = validCheckpoint();
        Path weights = checkpoint.resolve("model.safetensors");
        truncate(weights, Files.size(weights) / 2);
        assertLoadFails(checkpoint, weights.toString(), "truncated");
    }

    @Test
    void weightsFileCutInsideTheHeader() throws IOException {
        Path checkpoint = validCheckpoint();
        Path weights = checkpoint.resolve("model.safetensors");
        truncate(weights, 40);
        assertLoadFails(checkpoint, weights.toString(), "header");
    }

    @Test
    void weightsFileOfFourBytes() throws IOException {
        Path checkpoint = validCheckpoint();
        Path weights = checkpoint.resolve("model.safetensors");
        truncate(weights, 4);
        assertLoadFails(checkpoint, weights.toString());
    }

    @Test
    void noWeightsFileAtAll() throws IOException {
        Path checkpoint = validCheckpoint();
        Files.delete(checkpoint.resolve("model.safetensors"));
        assertLoadFails(checkpoint, checkpoint.toString(), "model.safetensors", "model.safetensors.index.json");
    }

    @Test
    void weightsOfAnotherConfig() {
        Path checkpoint = validCheckpoint();
        editConfig(checkpoint, c -> c.put("vocab_size", 128));
        assertLoadFails(checkpoint, checkpoint.toString(), "model.embed_tokens.weight", "[97, 32]", "[128, 32]");
    }

    // ------------------------------------------------------------------------------------------ tokenizer

    @Test
    void tokenizerIsNotJson() throws IOException {
        Path checkpoint = validCheckpoint();
        Path tokenizer = checkpoint.resolve("tokenizer.json");
        Files.writeString(tokenizer, "{\"model\": {\"vocab\": ");
        assertLoadFails(checkpoint, tokenizer.toString(), "invalid JSON");
    }

    @Test
    void tokenizerWithoutVocabulary() throws IOException {
        Path checkpoint = validCheckpoint();
        Path tokenizer = checkpoint.resolve("tokenizer.json");
        Files.writeString(tokenizer, "{\"model\": {\"type\": \"WordLevel\"}}");
        assertLoadFails(checkpoint, tokenizer.toString(), "model.vocab");
    }

    @Test
    void tokenizerTheRustLibraryRejects() throws IOException {
        Path checkpoint = validCheckpoint();
        Path tokenizer = checkpoint.resolve("tokenizer.json");
        // a vocabulary, but a model type the tokenizers library does not know
        Files.writeString(tokenizer, "{\"model\": {\"type\": \"NoSuchModel\", \"vocab\": {\"a\": 0, \"b\": 1}}}");
        assertLoadFails(checkpoint, tokenizer.toString(), "tokenizer");
    }

    @Test
    void tokenizerConfigIsNotJson() throws IOException {
        Path checkpoint = validCheckpoint();
        Files.writeString(checkpoint.resolve("tokenizer.json"), "{\"model\": {\"type\": \"WordLevel\", "
                + "\"vocab\": {\"<unk>\": 0, \"a\": 1}, \"unk_token\": \"<unk>\"}}");
        Path tokenizerConfig = checkpoint.resolve("tokenizer_config.json");
        Files.writeString(tokenizerConfig, "{\"bos_token\": ");
        assertLoadFails(checkpoint, tokenizerConfig.toString(), "invalid JSON");
    }

    // ------------------------------------------------------------------------------------------ no leaks

    @Test
    void failedLoadsLeaveNoFileOpenAndASuccessfulLoadStillWorks() throws IOException {
        Path good = dir.resolve("good");
        TinyCheckpoints.variants().get(0).write(good, 11);
        int[] prompt = {1, 5, 9, 14, 3};
        int expected;
        try (TorchConsistencyModel model = load(good); DecodingSession session = model.newSession()) {
            expected = session.prefill(prompt);
        }

        // three failures at different stages: weights header, tensor dtype (half the weights already read), tokenizer
        Path truncated = copyOf(good, "truncated");
        truncate(truncated.resolve("model.safetensors"), 100);
        Path intHead = copyOf(good, "int-head");
        rewriteWeights(intHead, w -> w.put(LM_HEAD, w.get(LM_HEAD).to(ScalarType.Long)));
        Path badTokenizer = copyOf(good, "bad-tokenizer");
        Files.writeString(badTokenizer.resolve("tokenizer.json"), "not json");

        // warm up once so that lazily opened files (jars, libraries, log files) are already open
        for (Path bad : new Path[]{truncated, intHead, badTokenizer}) {
            assertThatThrownBy(() -> load(bad)).isInstanceOf(CheckpointException.class);
        }
        long fdsBefore = openFileDescriptors();
        for (int i = 0; i < 10; i++) {
            for (Path bad : new Path[]{truncated, intHead, badTokenizer}) {
                assertThatThrownBy(() -> load(bad)).isInstanceOf(CheckpointException.class);
            }
        }
        long fdsAfter = openFileDescriptors();
        if (fdsBefore >= 0) {
            // a little slack for descriptors other threads may open meanwhile; one leaked per load would be +30
            assertThat(fdsAfter).as("open file descriptors after 30 failed loads (%d before)", fdsBefore)
                    .isLessThanOrEqualTo(fdsBefore + 3);
        }

        try (TorchConsistencyModel model = load(good); DecodingSession session = model.newSession()) {
            assertThat(session.prefill(prompt)).isEqualTo(expected);
            assertThat(model.openSessions()).isEqualTo(1);
        }
    }

    // ------------------------------------------------------------------------------------------ helpers

    private static void editConfig(Path checkpoint, Consumer<ObjectNode> edit) {
        Path file = checkpoint.resolve("config.json");
        try {
            ObjectNode config = (ObjectNode) JSON.readTree(file.toFile());
            edit.accept(config);
            Files.writeString(file, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(config));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Reads every tensor, lets {@code edit} change the map, and writes it back as a single model.safetensors. */
    static void rewriteWeights(Path checkpoint, Consumer<Map<String, Tensor>> edit) {
        try (PointerScope scope = new PointerScope();
             SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(checkpoint)) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (String name : weights.names()) {
                tensors.put(name, weights.read(name));
            }
            edit.accept(tensors);
            SafetensorsCheckpoint.writeSharded(checkpoint, tensors, Long.MAX_VALUE);
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.truncate(size);
        }
        assertThat(Files.size(file)).isEqualTo(size);
    }

    private Path copyOf(Path checkpoint, String name) throws IOException {
        Path copy = Files.createDirectories(dir.resolve(name));
        try (Stream<Path> files = Files.list(checkpoint)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                Files.copy(f, copy.resolve(f.getFileName()));
            }
        }
        return copy;
    }

    /** Entries in /proc/self/fd, or -1 where there is no /proc. */
    private static long openFileDescriptors() {
        Path fds = Path.of("/proc/self/fd");
        if (!Files.isDirectory(fds)) {
            return -1;
        }
        try (Stream<Path> entries = Files.list(fds)) {
            return entries.count();
        } catch (IOException e) {
            return -1;
        }
    }
}
