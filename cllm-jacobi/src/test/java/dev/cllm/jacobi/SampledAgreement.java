package dev.cllm.jacobi;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenSelector;
import dev.cllm.torch.TorchConsistencyModel;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Compares a decoder's sampled output with autoregressive decoding's for the same seed. Equal outputs pass; where they
 * differ, the first difference must be a floating-point near-tie: the logits after the common prefix, computed by a
 * one-token pass (as autoregressive decoding does) and by a pass over a block (as Jacobi decoding does), differ only in
 * the last bits, and the reference selector picks each decoder's token from its own pass's logits.
 */
final class SampledAgreement {
    /** Largest logit difference between pass shapes accepted as rounding. */
    static final double ROUNDING = 1e-3;

    private SampledAgreement() {
    }

    /** True when the outputs are equal; asserts that a difference is a rounding-level near-tie. */
    static boolean sameUpToRounding(TorchConsistencyModel model, Generation ar, Generation other,
                                    GenerationConfig config) {
        int[] a = ar.ids().toArray();
        int[] b = other.ids().toArray();
        int i = 0;
        while (i < Math.min(a.length, b.length) && a[i] == b[i]) {
            i++;
        }
        if (i == a.length && i == b.length) {
            return true;
        }
        int[] prompt = ar.prompt().toArray();
        int[] seq = Arrays.copyOf(prompt, prompt.length + i);
        System.arraycopy(a, 0, seq, prompt.length, i);
        int vocab = model.config().vocabSize();
        Logits one;
        Logits block;
        try (DecodingSession s = model.newSession(seq.length + 8)) {
            s.prefill(Arrays.copyOf(seq, seq.length - 1));
            one = s.forwardLogits(new int[]{seq[seq.length - 1]});
        }
        try (DecodingSession s = model.newSession(seq.length + 8)) {
            s.prefill(Arrays.copyOf(seq, seq.length - 1));
            block = s.forwardLogits(new int[]{seq[seq.length - 1], b[i], b[i], b[i]});
        }
        float[] x = one.row(0);
        float[] y = block.row(0);
        double worst = 0;
        for (int v = 0; v < vocab; v++) {
            worst = Math.max(worst, Math.abs(x[v] - y[v]));
        }
        TokenSelector selector = config.selector(config.seed(), config.stopTokens(model.config()));
        assertThat(worst).as("logits of the two pass shapes at output %d", i).isLessThan(ROUNDING);
        assertThat(selector.select(x, 0, vocab, seq, seq.length, prompt.length)).as("from one-token logits")
                .isEqualTo(a[i]);
        assertThat(selector.select(y, 0, vocab, seq, seq.length, prompt.length)).as("from block logits")
                .isEqualTo(b[i]);
        return false;
    }
}
