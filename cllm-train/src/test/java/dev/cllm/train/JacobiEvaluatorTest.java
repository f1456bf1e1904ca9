package dev.cllm.train;

import dev.cllm.api.TokenIds;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The held-out evaluation: its reference is the first evaluated model's greedy output, or a named model's. */
class JacobiEvaluatorTest {
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");
    private static final List<TokenIds> PROMPTS = List.of(TokenIds.of(1, 10, 20), TokenIds.of(1, 30, 31, 32),
            TokenIds.of(1, 7));

    @TempDir
    static Path dir;
    static Path first;
    static Path second;

    @BeforeAll
    static void models() {
        first = TinyCheckpoints.variants().get(0).write(dir.resolve("first"), 11);
        second = TinyCheckpoints.variants().get(0).write(dir.resolve("second"), 12);
    }

    @Test
    void theFirstEvaluatedModelIsItsOwnReference() {
        try (TorchConsistencyModel a = TorchConsistencyModel.load(first, CPU)) {
            Map<String, Double> m = new JacobiEvaluator(PROMPTS, 4, 12).evaluate(a, 0);
            assertThat(m.get("exact_match")).isEqualTo(1.0);
            assertThat(m.get("ar_agreement")).isEqualTo(1.0);
            assertThat(m.get("forced_agreement")).isEqualTo(1.0);
            assertThat(m.get("tokens_per_pass")).isGreaterThanOrEqualTo(1.0);
            assertThat(m.get("reference_ppl")).isFinite().isGreaterThanOrEqualTo(1.0);
        }
    }

    @Test
    void aNamedReferenceModelScoresLikeHavingBeenEvaluatedFirst() {
        try (TorchConsistencyModel a = TorchConsistencyModel.load(first, CPU);
             TorchConsistencyModel b = TorchConsistencyModel.load(second, CPU)) {
            JacobiEvaluator inOrder = new JacobiEvaluator(PROMPTS, 4, 12);
            inOrder.evaluate(a, 0);
            Map<String, Double> afterFirst = inOrder.evaluate(b, 1);
            JacobiEvaluator named = new JacobiEvaluator(PROMPTS, 4, 12).withReferenceFrom(a);
            assertThat(named.reference()).isEqualTo(inOrder.reference());
            Map<String, Double> m = named.evaluate(b, 0);
            assertThat(m).isEqualTo(afterFirst);
            // two random models: the second does not reproduce the first's outputs
            assertThat(m.get("exact_match")).isLessThan(1.0);
            assertThat(m.get("forced_agreement")).isLessThan(1.0);
        }
    }

    @Test
    void aReferenceFromAnotherVocabularyIsRefusedByName() {
        try (TorchConsistencyModel a = TorchConsistencyModel.load(first, CPU)) {
            int vocab = a.config().vocabSize();
            JacobiEvaluator e = new JacobiEvaluator(PROMPTS, 4, 12).withReference(List.of(TokenIds.of(5),
                    TokenIds.of(6, vocab + 3), TokenIds.of(7)));
            assertThatThrownBy(() -> e.evaluate(a, 0)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("held-out prompt 1").hasMessageContaining("id " + (vocab + 3))
                    .hasMessageContaining("vocabulary of " + vocab);
        }
    }
}
