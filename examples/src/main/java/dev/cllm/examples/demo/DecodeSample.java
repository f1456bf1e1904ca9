package dev.cllm.examples.demo;

import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;

/**
 * One decoded question in the demo's terms.
 *
 * <p>The prompt's prefill is one forward pass that yields the first token; it is the same for every decoder, so the
 * demo leaves it out of both counts. <b>Decoding passes</b> are the forward passes after it
 * ({@link DecodingStats#forwardPasses()} - 1). <b>Decoded tokens</b> are the tokens those passes produced: the
 * output ({@link DecodingStats#newTokens()}), minus the first token (the prefill's), plus the stop token when one
 * ended the generation (a decoding pass produced it, and the output leaves it out). Autoregressive decoding thus
 * makes exactly one decoding pass per decoded token; tokens a Jacobi pass predicted after the stop token are not
 * counted.
 *
 * @param generation     what the decoder returned
 * @param decodedTokens  tokens produced by the decoding passes, as above
 * @param decodingPasses forward passes after the prefill
 * @param decodeNanos    wall time after the prefill ({@link DecodingStats#decodeNanos()})
 * @param elapsedNanos   wall time including the prefill ({@link DecodingStats#elapsedNanos()})
 */
public record DecodeSample(Generation generation, int decodedTokens, int decodingPasses, long decodeNanos,
                           long elapsedNanos) {

    /** The sample of one generation. */
    public static DecodeSample of(Generation g) {
        DecodingStats s = g.stats();
        int stopToken = g.stopReason() == StopReason.STOP_TOKEN ? 1 : 0;
        int decoded = Math.max(0, s.newTokens() + stopToken - 1);
        int passes = Math.max(0, s.forwardPasses() - 1);
        return new DecodeSample(g, decoded, passes, s.decodeNanos(), s.elapsedNanos());
    }

    /** Decoded tokens per decoding pass; 0 when there was no decoding pass (the first token was a stop token). */
    public double tokensPerPass() {
        return decodingPasses == 0 ? 0.0 : (double) decodedTokens / decodingPasses;
    }
}
