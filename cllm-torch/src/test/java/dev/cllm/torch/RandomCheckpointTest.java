package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import dev.cllm.torch.fixtures.TinyCheckpoints.Variant;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Tiny random checkpoints in every supported variant: written, loaded back, and decoded incrementally through the KV
 * cache with the same logits as one full forward pass.
 */
class RandomCheckpointTest {
    private static final float TOLERANCE = 1e-4f;

    static List<Variant> variants() {
        return TinyCheckpoints.variants();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("variants")
    void incrementalCacheForwardEqualsOneFullForward(Variant variant, @TempDir Path dir) {
        variant.write(dir, 42);
        try (TorchConsistencyModel model = TorchConsistencyModel.load(dir, TorchOptions.defaults().withDevice("cpu"))) {
            int[] tokens = randomTokens(model.config().vocabSize(), 40, 7);
            Logits full;
            try (DecodingSession session = model.newSession()) {
                full = session.forwardLogits(tokens);
            }
            try (DecodingSession session = model.newSession()) {
                int p = 0;
                for (int chunk : new int[]{5, 1, 1, 1, 8, 3, 16, 5}) {
                    int[] block = java.util.Arrays.copyOfRange(tokens, p, p + chunk);
                    Logits part = session.forwardLogits(block);
                    for (int t = 0; t < chunk; t++) {
                        assertClose(part.row(t), full.row(p + t), variant + " position " + (p + t));
                    }
                    // a rejected speculative block in between must not disturb anything
                    session.commit(chunk);
                    p += chunk;
                    if (p < tokens.length) {
                        session.forward(randomTokens(model.config().vocabSize(), Math.min(4, 64 - p), p));
                        session.commit(0);
                    }
                }
                assertThat(p).isEqualTo(tokens.length);
            }
        }
    }

    static int[] randomTokens(int vocab, int n, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = rng.nextInt(vocab);
        }
        return out;
    }

    static void assertClose(float[] actual, float[] expected, String what) {
        float worst = 0;
        for (int i = 0; i < actual.length; i++) {
            worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
        }
        assertThat(worst).as("max |logit difference| at %s", what).isLessThanOrEqualTo(TOLERANCE);
    }
}
