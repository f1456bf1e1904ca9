package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * {@code config.json} parsing against real published configs, Hugging Face's defaults, the JSON round trip, the
 * parameter count, and the LLaMA 3.1 RoPE frequency scaling.
 */
class LlamaConfigTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** meta-llama/Llama-3.1-8B config.json as published. */
    private static final String LLAMA_31_8B = """
            {
              "architectures": ["LlamaForCausalLM"],
              "attention_bias": false,
              "attention_dropout": 0.0,
              "bos_token_id": 128000,
              "eos_token_id": [128001, 128008, 128009],
              "hidden_act": "silu",
              "hidden_size": 4096,
              "initializer_range": 0.02,
              "intermediate_size": 14336,
              "max_position_embeddings": 131072,
              "mlp_bias": false,
              "model_type": "llama",
              "num_attention_heads": 32,
              "num_hidden_layers": 32,
              "num_key_value_heads": 8,
              "pretraining_tp": 1,
              "rms_norm_eps": 1e-05,
              "rope_scaling": {
                "factor": 8.0,
                "low_freq_factor": 1.0,
                "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192,
                "rope_type": "llama3"
              },
              "rope_theta": 500000.0,
              "tie_word_embeddings": false,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.43.0.dev0",
              "use_cache": true,
              "vocab_size": 128256
            }
            """;

    /** Qwen/Qwen2.5-0.5B config.json as published. */
    private static final String QWEN25_05B = """
            {
              "architectures": ["Qwen2ForCausalLM"],
              "attention_dropout": 0.0,
              "bos_token_id": 151643,
              "eos_token_id": 151643,
              "hidden_act": "silu",
              "hidden_size": 896,
              "initializer_range": 0.02,
              "intermediate_size": 4864,
              "max_position_embeddings": 32768,
              "max_window_layers": 24,
              "model_type": "qwen2",
              "num_attention_heads": 14,
              "num_hidden_layers": 24,
              "num_key_value_heads": 2,
              "rms_norm_eps": 1e-06,
              "rope_theta": 1000000.0,
              "sliding_window": 32768,
              "tie_word_embeddings": true,
              "torch_dtype": "bfloat16",
              "transformers_version": "4.40.1",
              "use_cache": true,
              "use_sliding_window": false,
              "vocab_size": 151936
            }
            """;

    /** Only the fields without a default. */
    private static final String MINIMAL = """
            {"architectures": ["LlamaForCausalLM"], "vocab_size": 1000, "hidden_size": 256,
             "intermediate_size": 688, "num_hidden_layers": 3, "num_attention_heads": 8,
             "max_position_embeddings": 1024}
            """;

    private static LlamaConfig parse(String json) {
        try {
            return LlamaConfigJson.fromJson(JSON.readTree(json));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ------------------------------------------------------------------------------------------ real configs

    @Test
    void llama31() {
        LlamaConfig c = parse(LLAMA_31_8B);
        assertThat(c.architecture()).isEqualTo("LlamaForCausalLM");
        assertThat(c.vocabSize()).isEqualTo(128256);
        assertThat(c.hiddenSize()).isEqualTo(4096);
        assertThat(c.intermediateSize()).isEqualTo(14336);
        assertThat(c.numLayers()).isEqualTo(32);
        assertThat(c.numHeads()).isEqualTo(32);
        assertThat(c.numKvHeads()).isEqualTo(8);
        assertThat(c.headDim()).isEqualTo(128);
        assertThat(c.maxPositions()).isEqualTo(131072);
        assertThat(c.rmsNormEps()).isEqualTo(1e-5);
        assertThat(c.ropeTheta()).isEqualTo(500000.0);
        assertThat(c.ropeScaling()).isEqualTo(RopeScaling.llama3(8, 1, 4, 8192));
        assertThat(c.tieWordEmbeddings()).isFalse();
        assertThat(c.qkvBias()).isFalse();
        assertThat(c.outputBias()).isFalse();
        assertThat(c.mlpBias()).isFalse();
        assertThat(c.bosTokenId()).isEqualTo(128000);
        assertThat(c.eosTokenIds()).containsExactlyInAnyOrder(128001, 128008, 128009);
        assertThat(c.torchDtype()).isEqualTo("bfloat16");
        // the published size of Llama-3.1-8B: 8,030,261,248 parameters
        assertThat(c.parameterCount()).isEqualTo(8_030_261_248L);
    }

    @Test
    void qwen2ImpliesQkvBiasAndNoOutputBias() {
        LlamaConfig c = parse(QWEN25_05B);
        assertThat(c.architecture()).isEqualTo("Qwen2ForCausalLM");
        assertThat(c.qkvBias()).isTrue();
        assertThat(c.outputBias()).isFalse();
        assertThat(c.mlpBias()).isFalse();
        assertThat(c.tieWordEmbeddings()).isTrue();
        assertThat(c.numKvHeads()).isEqualTo(2);
        assertThat(c.headDim()).isEqualTo(64);
        assertThat(c.rmsNormEps()).isEqualTo(1e-6);
        assertThat(c.ropeTheta()).isEqualTo(1e6);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.eosTokenIds()).containsExactly(151643);
        // the published size of Qwen2.5-0.5B: 494,032,768 parameters (q/k/v biases included, embedding tied)
        assertThat(c.parameterCount()).isEqualTo(494_032_768L);
        // and the tensors it expects
        assertThat(HfNames.expectedShapes(c)).containsKey("model.layers.0.self_attn.q_proj.bias")
                .doesNotContainKey("model.layers.0.self_attn.o_proj.bias").doesNotContainKey("lm_head.weight");
    }

    @Test
    void qwen2WithSlidingWindowSwitchedOnIsRefused() {
        String json = QWEN25_05B.replace("\"use_sliding_window\": false", "\"use_sliding_window\": true")
                .replace("\"sliding_window\": 32768", "\"sliding_window\": 4096");
        assertThatThrownBy(() -> parse(json)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("sliding_window").hasMessageContaining("4096");
    }

    @Test
    void defaultsFollowTransformers() {
        LlamaConfig c = parse(MINIMAL);
        assertThat(c.numKvHeads()).as("num_key_value_heads defaults to num_attention_heads").isEqualTo(8);
        assertThat(c.headDim()).as("head_dim defaults to hidden_size / num_attention_heads").isEqualTo(32);
        assertThat(c.rmsNormEps()).as("transformers' LlamaConfig default").isEqualTo(1e-6);
        assertThat(c.ropeTheta()).isEqualTo(10000.0);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.tieWordEmbeddings()).as("transformers' LlamaConfig default").isFalse();
        assertThat(c.qkvBias()).isFalse();
        assertThat(c.outputBias()).isFalse();
        assertThat(c.mlpBias()).isFalse();
        assertThat(c.bosTokenId()).isEqualTo(-1);
        assertThat(c.eosTokenIds()).isEmpty();
        assertThat(c.torchDtype()).isNull();
    }

    @Test
    void architectureFromModelTypeWhenArchitecturesIsAbsent() {
        String json = MINIMAL.replace("\"architectures\": [\"LlamaForCausalLM\"],", "\"model_type\": \"mistral\",");
        assertThat(parse(json).architecture()).isEqualTo("MistralForCausalLM");
    }

    @Test
    void nullsMeanAbsentAndDefaultRopeTypeMeansNone() {
        String json = MINIMAL.replace("}", ", \"num_key_value_heads\": null, \"head_dim\": null, "
                + "\"rope_scaling\": {\"rope_type\": \"default\"}, \"eos_token_id\": null, \"bos_token_id\": null}");
        LlamaConfig c = parse(json);
        assertThat(c.numKvHeads()).isEqualTo(8);
        assertThat(c.headDim()).isEqualTo(32);
        assertThat(c.ropeScaling()).isNull();
        assertThat(c.eosTokenIds()).isEmpty();
        assertThat(c.bosTokenId()).isEqualTo(-1);
    }

    @Test
    void linearRopeScalingWithTheOldTypeKey() {
        String json = MINIMAL.replace("}", ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}");
        assertThat(parse(json).ropeScaling()).isEqualTo(RopeScaling.linear(2));
    }

    @Test
    void attentionBiasSetsBothProjections() {
        LlamaConfig c = parse(MINIMAL.replace("}", ", \"attention_bias\": true, \"mlp_bias\": true}"));
        assertThat(c.qkvBias()).isTrue();
        assertThat(c.outputBias()).isTrue();
        assertThat(c.mlpBias()).isTrue();
    }

    @Test
    void explicitHeadDim() {
        LlamaConfig c = parse(MINIMAL.replace("}", ", \"head_dim\": 64, \"num_key_value_heads\": 2}"));
        assertThat(c.headDim()).isEqualTo(64);
        assertThat(c.numKvHeads()).isEqualTo(2);
        assertThat(HfNames.expectedShapes(c).get("model.layers.0.self_attn.q_proj.weight"))
                .containsExactly(8 * 64, 256);
        assertThat(HfNames.expectedShapes(c).get("model.layers.0.self_attn.k_proj.weight"))
                .containsExactly(2 * 64, 256);
    }

    // ------------------------------------------------------------------------------------------ round trip

    @Test
    void realConfigsSurviveToJsonAndBack() {
        for (String json : new String[]{LLAMA_31_8B, QWEN25_05B, MINIMAL}) {
            LlamaConfig c = parse(json);
            LlamaConfig back = LlamaConfigJson.fromJson(LlamaConfigJson.toJson(c));
            assertThat(back).isEqualTo(c).hasSameHashCodeAs(c);
            assertThat(LlamaConfigJson.toJson(back)).isEqualTo(LlamaConfigJson.toJson(c));
            assertThat(back.parameterCount()).isEqualTo(c.parameterCount());
        }
    }

    @Test
    void tinyVariantsSurviveAWriteAndRead(@TempDir Path dir) throws IOException {
        for (TinyCheckpoints.Variant v : TinyCheckpoints.variants()) {
            Path file = dir.resolve(v.name() + ".json");
            v.config().write(file);
            assertThat(LlamaConfig.read(file)).as(v.name()).isEqualTo(v.config());
        }
    }

    /**
     * Equality is structural: it holds for configs {@code config.json} cannot express (bias on some attention
     * projections only), which only {@link LlamaConfig#write} refuses.
     */
    @Test
    void equalityNeverThrowsAndOnlyWritingRefusesWhatConfigJsonCannotExpress(@TempDir Path dir) {
        LlamaConfig qkvOnly = TinyCheckpoints.base().qkvBias(true).build();
        LlamaConfig qwenWithoutBias = TinyCheckpoints.base().architecture("Qwen2ForCausalLM").build();
        assertThat(qkvOnly).isEqualTo(TinyCheckpoints.base().qkvBias(true).build())
                .hasSameHashCodeAs(TinyCheckpoints.base().qkvBias(true).build())
                .isNotEqualTo(TinyCheckpoints.base().attentionBias(true).build())
                .isNotEqualTo(qwenWithoutBias).isNotEqualTo(null).isNotEqualTo("config");
        assertThat(qwenWithoutBias.toBuilder().build()).isEqualTo(qwenWithoutBias);
        assertThatThrownBy(() -> qkvOnly.write(dir.resolve("a.json"))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("all attention projections or none");
        assertThatThrownBy(() -> qwenWithoutBias.write(dir.resolve("b.json")))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("Qwen2");
    }

    @Test
    void theCanonicalConstructorFillsTheDefaultsAndValidatesLikeTheBuilder() {
        LlamaConfig built = TinyCheckpoints.base().numKvHeads(0).headDim(0).build();
        LlamaConfig direct = new LlamaConfig("LlamaForCausalLM", 97, 32, 48, 2, 4, 0, 0, 64, 1e-6, 10000.0, null,
                false, false, false, false, 1, Set.of(2), null);
        assertThat(direct).isEqualTo(built);
        assertThat(direct.numKvHeads()).isEqualTo(4);
        assertThat(direct.headDim()).isEqualTo(8);
        assertThatThrownBy(() -> new LlamaConfig("LlamaForCausalLM", 97, 32, 48, 2, 4, 3, 0, 64, 1e-6, 10000.0,
                null, false, false, false, false, 1, Set.of(2), null)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("num_key_value_heads (3)");
    }

    @Property(tries = 200)
    void anyValidConfigSurvivesToJsonAndBack(@ForAll("configs") LlamaConfig config) {
        LlamaConfig back = LlamaConfigJson.fromJson(LlamaConfigJson.toJson(config));
        assertThat(back).isEqualTo(config);
        assertThat(back.toString()).isEqualTo(config.toString());
        assertThat(back.parameterCount()).isEqualTo(config.parameterCount());
    }

    @Provide
    Arbitrary<LlamaConfig> configs() {
        Arbitrary<Integer> kvHeads = Arbitraries.of(1, 2, 4);
        Arbitrary<Integer> groups = Arbitraries.of(1, 2, 3);
        Arbitrary<Integer> headDim = Arbitraries.of(2, 8, 64, 128);
        Arbitrary<String> arch = Arbitraries.of("LlamaForCausalLM", "Qwen2ForCausalLM", "MistralForCausalLM");
        Arbitrary<RopeScaling> rope = Arbitraries.oneOf(
                Arbitraries.doubles().between(1.5, 32).ofScale(2).map(RopeScaling::linear),
                Arbitraries.integers().between(16, 65536).map(n -> RopeScaling.llama3(8, 1, 4, n))).injectNull(0.3);
        return Combinators.combine(arch, kvHeads, groups, headDim, rope, Arbitraries.integers().between(3, 50000),
                        Arbitraries.of(true, false), Arbitraries.of(true, false))
                .as((a, kvh, g, hd, r, vocab, tie, bias) -> {
                    LlamaConfig.Builder b = LlamaConfig.builder().architecture(a).vocabSize(vocab)
                            .hiddenSize(kvh * g * hd).intermediateSize(3 * hd + 1).numLayers(1 + vocab % 5)
                            .numHeads(kvh * g).numKvHeads(kvh).headDim(hd).maxPositions(2 + vocab % 4096)
                            .ropeScaling(r).tieWordEmbeddings(tie).ropeTheta(10000.0 + vocab)
                            .rmsNormEps(1e-6 * (1 + vocab % 10)).bosTokenId(vocab % 3 - 1)
                            .eosTokenIds(Set.of(vocab - 1, vocab / 2));
                    if (a.equals("Qwen2ForCausalLM")) {
                        b.qkvBias(true);
                    } else {
                        b.attentionBias(bias).mlpBias(!bias);
                    }
                    return b.build();
                });
    }

    // ------------------------------------------------------------------------------------------ parameter count

    @Test
    void parameterCountOfStories260KEqualsItsTensors() {
        Path dir = Stories260K.dir();
        LlamaConfig config = LlamaConfig.read(dir.resolve("config.json"));
        SafetensorsHeader header = SafetensorsHeader.read(dir.resolve("model.safetensors"));
        long numel = header.tensors().values().stream().mapToLong(SafetensorsHeader.TensorInfo::numel).sum();
        assertThat(config.parameterCount()).isEqualTo(numel);
        assertThat(numel).as("about 260K").isBetween(250_000L, 300_000L);
    }

    @Test
    void parameterCountOfEveryTinyVariantEqualsItsExpectedTensors() {
        for (TinyCheckpoints.Variant v : TinyCheckpoints.variants()) {
            long numel = HfNames.expectedShapes(v.config()).values().stream()
                    .mapToLong(shape -> java.util.Arrays.stream(shape).reduce(1, Math::multiplyExact)).sum();
            assertThat(v.config().parameterCount()).as(v.name()).isEqualTo(numel);
        }
    }

    // ------------------------------------------------------------------------------------------ RoPE scaling

    /**
     * transformers' {@code _compute_llama3_parameters} on three hand-picked wavelengths, one per band
     * (factor 8, low_freq_factor 1, high_freq_factor 4, original context 8192: the bands are split at wavelengths
     * 8192 / 4 = 2048 and 8192 / 1 = 8192).
     */
    @Test
    void llama3ScalingByHand() {
        RopeScaling scaling = RopeScaling.llama3(8, 1, 4, 8192);
        float high = (float) (2 * Math.PI / 100);     // wavelength 100 < 2048: high frequency, unchanged
        float medium = (float) (2 * Math.PI / 4096);  // 2048 <= 4096 <= 8192: smooth = (8192/4096 - 1) / (4 - 1) = 1/3
        float low = (float) (2 * Math.PI / 10000);    // wavelength 10000 > 8192: low frequency, divided by 8
        float[] out = scaling.apply(new float[]{high, medium, low});
        assertThat(out[0]).isEqualTo(high);
        // (1 - 1/3) * f / 8 + 1/3 * f = f * (1/12 + 4/12) = f * 5/12
        assertThat((double) out[1]).isCloseTo(medium * 5.0 / 12.0, within(1e-6 * medium));
        assertThat((double) out[2]).isCloseTo(low / 8.0, within(1e-6 * low));
    }

    @Test
    void llama3ScalingAtTheBandEdgesIsContinuous() {
        RopeScaling scaling = RopeScaling.llama3(8, 1, 4, 8192);
        float atHigh = (float) (2 * Math.PI / 2048);  // smooth = 1: unchanged
        float atLow = (float) (2 * Math.PI / 8192);   // smooth = 0: divided by 8
        float[] out = scaling.apply(new float[]{atHigh, atLow});
        assertThat((double) out[0]).isCloseTo(atHigh, within(1e-5 * atHigh));
        assertThat((double) out[1]).isCloseTo(atLow / 8.0, within(1e-5 * atLow));
    }

    /** Llama 3.1's own frequencies (theta 500000, head_dim 128) against the formula written out here. */
    @Test
    void llama3ScalingOfLlama31Frequencies() {
        LlamaConfig c = parse(LLAMA_31_8B);
        int half = c.headDim() / 2;
        float[] inv = new float[half];
        for (int i = 0; i < half; i++) {
            inv[i] = (float) (1.0 / Math.pow(c.ropeTheta(), 2.0 * i / c.headDim()));
        }
        float[] out = c.ropeScaling().apply(inv);
        int unchanged = 0;
        int divided = 0;
        int smoothed = 0;
        for (int i = 0; i < half; i++) {
            double wavelen = 2 * Math.PI / inv[i];
            double expected;
            if (wavelen < 8192 / 4.0) {
                expected = inv[i];
                unchanged++;
            } else if (wavelen > 8192 / 1.0) {
                expected = inv[i] / 8.0;
                divided++;
            } else {
                double smooth = (8192 / wavelen - 1) / (4 - 1);
                expected = (1 - smooth) * inv[i] / 8 + smooth * inv[i];
                smoothed++;
                assertThat((double) out[i]).as("medium frequency %d lies between f/8 and f", i)
                        .isBetween(inv[i] / 8.0 * (1 - 1e-6), inv[i] * (1 + 1e-6));
            }
            assertThat((double) out[i]).as("inv_freq[%d], wavelength %.1f", i, wavelen)
                    .isCloseTo(expected, within(1e-6 * inv[i]));
        }
        assertThat(unchanged).as("high-frequency dimensions").isPositive();
        assertThat(smoothed).as("medium-frequency dimensions").isPositive();
        assertThat(divided).as("low-frequency dimensions").isPositive();
        assertThat(unchanged + smoothed + divided).isEqualTo(64);
        assertThat(out[0]).as("the fastest rotation is never scaled").isEqualTo(1f);
    }

    @Test
    void linearScalingDividesEveryFrequency() {
        float[] inv = {1f, 0.1f, 0.001f};
        float[] out = RopeScaling.linear(4).apply(inv);
        assertThat(out).containsExactly(0.25f, 0.025f, 0.00025f);
    }

    @Test
    void ropeScalingSurvivesJson() {
        for (RopeScaling r : new RopeScaling[]{RopeScaling.linear(2.5), RopeScaling.llama3(8, 1, 4, 8192),
                RopeScaling.llama3(32, 1, 4, 8192)}) {
            JsonNode json = r.toJson();
            assertThat(RopeScaling.fromJson(json)).isEqualTo(r);
        }
    }

    @Test
    void invalidRopeScalingIsRefused() {
        assertThatThrownBy(() -> RopeScaling.linear(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("factor");
        assertThatThrownBy(() -> RopeScaling.llama3(8, 4, 1, 8192)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("low_freq_factor");
        assertThatThrownBy(() -> RopeScaling.llama3(8, 1, 4, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("original_max_position_embeddings");
    }

    @Test
    void configJsonFileOnDiskRoundTrips(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Files.writeString(file, LLAMA_31_8B);
        LlamaConfig c = LlamaConfig.read(file);
        Path again = dir.resolve("again.json");
        c.write(again);
        assertThat(LlamaConfig.read(again)).isEqualTo(c);
    }
}
