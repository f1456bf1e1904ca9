package dev.cllm.api;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class GenerationConfigTest {
    private static final ModelConfig MODEL = new ModelConfig("Fake", 100, 64, 1, Set.of(2), 0);

    @Test
    void defaultsAreHuggingFacesGreedyOnesWithTheModelsEos() {
        GenerationConfig d = GenerationConfig.defaults();
        assertThat(d.doSample()).isFalse();
        assertThat(d.topK()).isEqualTo(50);
        assertThat(d.temperature()).isEqualTo(1.0);
        assertThat(d.maxNewTokens()).isEqualTo(GenerationConfig.DEFAULT_MAX_NEW_TOKENS);
        assertThat(d.stopTokens(MODEL)).containsExactly(2);
        assertThat(d.selector(0, Set.of(2)).isGreedyArgmax()).isTrue();
        assertThat(d.toBuilder().build()).isEqualTo(d);
    }

    @Test
    void stopTokensCombineEosExtraIdsAndIgnoreEos() {
        GenerationConfig c = GenerationConfig.builder().stopTokenIds(Set.of(7)).build();
        assertThat(c.stopTokens(MODEL)).containsExactlyInAnyOrder(2, 7);
        assertThat(c.toBuilder().ignoreEos(true).build().stopTokens(MODEL)).containsExactly(7);
        assertThat(c.toBuilder().eosTokenIds(Set.of(3, 4)).build().stopTokens(MODEL))
                .containsExactlyInAnyOrder(3, 4, 7);
        assertThat(c.toBuilder().noStop().build().stopTokens(MODEL)).isEmpty();
    }

    @Test
    void samplingSettingsReachTheSelector() {
        GenerationConfig c = GenerationConfig.builder().sampling(0.7).topK(5).topP(0.9).minP(0.1)
                .repetitionPenalty(1.2).minNewTokens(3).seed(42).stop("\n\n").build();
        TokenSelector s = c.selector(42, Set.of(2));
        assertThat(s.sample()).isTrue();
        assertThat(s.temperature()).isEqualTo(0.7);
        assertThat(s.topK()).isEqualTo(5);
        assertThat(s.topP()).isEqualTo(0.9);
        assertThat(s.minP()).isEqualTo(0.1);
        assertThat(s.repetitionPenalty()).isEqualTo(1.2);
        assertThat(s.minNewTokens()).isEqualTo(3);
        assertThat(s.minNewTokensStopIds()).containsExactly(2);
        assertThat(c.stopStrings()).isEqualTo(List.of("\n\n"));
        assertThat(Decoder.resolveSeed(c)).isEqualTo(42L);
        assertThat(Decoder.resolveSeed(c.toBuilder().seed((Long) null).build())).isNotNull();
        assertThat(Decoder.resolveSeed(GenerationConfig.defaults())).isNull();
    }

    @Test
    void invalidValuesNameTheField() {
        assertThatThrownBy(() -> GenerationConfig.builder().maxNewTokens(0).build()).hasMessageContaining("max_new_tokens");
        assertThatThrownBy(() -> GenerationConfig.builder().minNewTokens(-1).build()).hasMessageContaining("min_new_tokens");
        assertThatThrownBy(() -> GenerationConfig.builder().temperature(0).build()).hasMessageContaining("temperature");
        assertThatThrownBy(() -> GenerationConfig.builder().topK(-2).build()).hasMessageContaining("top_k");
        assertThatThrownBy(() -> GenerationConfig.builder().topP(1.5).build()).hasMessageContaining("top_p");
        assertThatThrownBy(() -> GenerationConfig.builder().minP(-0.1).build()).hasMessageContaining("min_p");
        assertThatThrownBy(() -> GenerationConfig.builder().repetitionPenalty(0).build())
                .hasMessageContaining("repetition_penalty");
        assertThatThrownBy(() -> GenerationConfig.builder().stop("").build()).hasMessageContaining("stop_strings");
        assertThatThrownBy(() -> GenerationConfig.builder().eosTokenIds(Set.of(-1)).build())
                .hasMessageContaining("eos_token_id");
    }
}
