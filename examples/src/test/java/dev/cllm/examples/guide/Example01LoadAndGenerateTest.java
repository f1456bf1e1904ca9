package dev.cllm.examples.guide;

import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Example01LoadAndGenerateTest {

    @Test
    void generatesStories260KsReferenceGreedyOutputAndPrintsItsStats() {
        Stories260K.GreedyCase reference = Stories260K.greedyCases().get(0);
        assertThat(reference.promptIds()).containsExactly(Example01LoadAndGenerate.STORIES_PROMPT.toArray());
        Output out = new Output();

        Generation g = Example01LoadAndGenerate.run(Stories260K.dir(), "ignored without a tokenizer", out.stream);

        int n = Example01LoadAndGenerate.MAX_NEW_TOKENS;
        assertThat(g.ids().toArray()).containsExactly(Arrays.copyOf(reference.greedyIds(), n));
        assertThat(g.text()).isNull();
        assertThat(g.stopReason()).isEqualTo(StopReason.MAX_NEW_TOKENS);
        assertThat(g.stats().forwardPasses()).isEqualTo(n);
        assertThat(out.text())
                .contains("model: LlamaForCausalLM, 260,032 parameters, vocabulary 512, context 512, tokenizer: no")
                .contains("prompt ids (this model has no tokenizer): [1, 404, 475, 464, 454, 275]")
                .contains("ids: " + g.ids())
                .contains("ar: " + n + " tokens in " + n + " forward passes (prefill included), 1.00 tokens/pass");
    }

    @Test
    void withATokenizerTheTextPromptIsEncodedAndTheOutputDecoded(@TempDir Path dir) throws IOException {
        // a tiny random checkpoint with a hand-written 20-word tokenizer (cllm-torch's test fixtures)
        Path checkpoint = new TinyCheckpoints.Variant("with-tokenizer", TinyCheckpoints.base().vocabSize(20).build(),
                ComputeDtype.F32, Long.MAX_VALUE).write(dir, 5);
        for (String name : new String[]{"tokenizer.json", "tokenizer_config.json"}) {
            try (InputStream in = getClass().getResourceAsStream("/tokenizers/wordlevel/" + name)) {
                assertThat(in).as(name).isNotNull();
                Files.copy(in, checkpoint.resolve(name));
            }
        }
        String previousOffline = System.getProperty("ai.djl.offline");
        System.setProperty("ai.djl.offline", "true");   // never download anything
        Output out = new Output();
        Generation g;
        try {
            g = Example01LoadAndGenerate.run(checkpoint, "the cat sat on the mat", out.stream);
        } finally {
            if (previousOffline == null) {
                System.clearProperty("ai.djl.offline");
            } else {
                System.setProperty("ai.djl.offline", previousOffline);
            }
        }

        assertThat(g.prompt().toArray()).containsExactly(1, 3, 5, 7, 8, 3, 9);   // BOS, then one id per word
        assertThat(g.text()).isNotNull();
        assertThat(out.text()).contains("tokenizer: yes").contains("prompt: the cat sat on the mat")
                .contains("text: " + g.text()).contains("ids: " + g.ids());
    }

    @Test
    void rejectsExtraArguments() {
        assertThatThrownBy(() -> Example01LoadAndGenerate.main(new String[]{"a", "b", "c"}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("usage");
    }
}
