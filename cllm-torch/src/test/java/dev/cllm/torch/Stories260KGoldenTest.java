package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/** A real pretrained model reproduced exactly: logits and greedy ids against llama2.c's reference outputs. */
class Stories260KGoldenTest {
    private static final float LOGIT_TOLERANCE = 1e-4f;

    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @Test
    void configIsReadFromTheCheckpoint() {
        assertThat(model.config().vocabSize()).isEqualTo(512);
        assertThat(model.config().contextLength()).isEqualTo(512);
        assertThat(model.config().bosTokenId()).isEqualTo(1);
        assertThat(model.config().eosTokenIds()).containsExactly(2);
        assertThat(model.llama().config().numKvHeads()).isEqualTo(4);
        assertThat(model.llama().config().tieWordEmbeddings()).isTrue();
        assertThat(model.tokenizer()).isEmpty();
    }

    @Test
    void logitsMatchTheReferenceAtFirstAndLastPromptPositions() {
        for (Stories260K.LogitsCase c : Stories260K.logitsCases()) {
            try (DecodingSession session = model.newSession()) {
                Logits logits = session.forwardLogits(c.promptIds());
                assertClose(logits.row(0), c.logitsFirst(), "first position of " + Arrays.toString(c.promptIds()));
                assertClose(logits.row(c.promptIds().length - 1), c.logitsLast(),
                        "last position of " + Arrays.toString(c.promptIds()));
            }
        }
    }

    @Test
    void greedyIdsMatchTheReferenceTokenByTokenThroughTheCache() {
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            try (DecodingSession session = model.newSession()) {
                int next = session.prefill(c.promptIds());
                int[] out = new int[c.maxNewTokens()];
                for (int i = 0; i < out.length; i++) {
                    out[i] = next;
                    if (i + 1 < out.length) {
                        next = session.forward(new int[]{next})[0];
                        session.commit(1);
                    }
                }
                assertThat(out).as("greedy continuation of %s", Arrays.toString(c.promptIds()))
                        .containsExactly(c.greedyIds());
            }
        }
    }

    @Test
    void greedyIdsMatchWithThePromptPrefilledInChunks() {
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            for (int chunk : new int[]{1, 2, 3, 7}) {
                try (DecodingSession session = model.newSession()) {
                    int[] prompt = c.promptIds();
                    int next = -1;
                    for (int start = 0; start < prompt.length; start += chunk) {
                        next = session.prefill(Arrays.copyOfRange(prompt, start, Math.min(prompt.length, start + chunk)));
                    }
                    assertThat(session.position()).isEqualTo(prompt.length);
                    int[] out = new int[Math.min(32, c.maxNewTokens())];
                    for (int i = 0; i < out.length; i++) {
                        out[i] = next;
                        next = session.forward(new int[]{next})[0];
                        session.commit(1);
                    }
                    assertThat(out).as("chunk %d, prompt %s", chunk, Arrays.toString(prompt))
                            .containsExactly(Arrays.copyOf(c.greedyIds(), out.length));
                }
            }
        }
    }

    private static void assertClose(float[] actual, float[] expected, String what) {
        assertThat(actual).as(what).hasSameSizeAs(expected);
        float worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("max |logit difference| at %s", what).isLessThanOrEqualTo(LOGIT_TOLERANCE);
    }
}
