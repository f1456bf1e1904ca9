package dev.cllm.api;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What one generation cost, in the terms of the CLLM paper (Kou et al. 2024, section 3 and table 6).
 *
 * <p>A <b>forward pass</b> is one model call that yields new tokens: the prompt's prefill (counted once, even if the
 * session splits a long prompt into chunks) and every decoding iteration after it. Autoregressive decoding makes
 * exactly one pass per new token; Jacobi decoding accepts every token of a pass that its verified prefix makes
 * certain, so it may accept several.
 *
 * @param blockSize           the Jacobi block size n (1 for autoregressive decoding)
 * @param newTokens           tokens delivered (the stop token that ended a generation is not counted)
 * @param forwardPasses       prefill plus decoding passes
 * @param blocks              Jacobi blocks started (for n = 1: one per decoding pass)
 * @param fastForwarded       tokens accepted in a pass beyond the one token an autoregressive pass would give: the
 *                            sum over decoding passes of (tokens accepted - 1). The paper's "fast-forwarding": several
 *                            consecutive tokens become correct in a single pass
 * @param stationary          block positions that took their final (fixed-point) value while some earlier position of
 *                            the block was still wrong, and then kept it until the block converged. The paper's
 *                            "stationary tokens": correct despite a wrong prefix. Counted once per position; only
 *                            blocks that reached their fixed point are counted
 * @param acceptedHistogram   {@code acceptedHistogram.get(k)} = number of forward passes that accepted k tokens
 *                            (the prefill pass counts as accepting one); counts are taken before the output is cut at
 *                            a stop token or the token budget, so its mean can exceed {@link #tokensPerPass()} by at
 *                            most one pass's worth
 * @param iterationsHistogram {@code iterationsHistogram.get(k)} = number of blocks that took k decoding passes
 * @param prefillNanos        wall time of the prefill pass
 * @param decodeNanos         wall time after the prefill until the generation ended
 * @param acceptedBySource    for decoders that verify candidates from several sources in one pass: the tokens
 *                            accepted beyond the one a pass always yields, by the source whose candidate they came
 *                            from ({@code jacobi}, {@code pool}, {@code prompt}, {@code recycled}); empty otherwise
 * @param tokensVerified      tokens the decoding passes ran (the sum of their tree or block sizes), the work the
 *                            speedup is paid with
 * @param budgetHistogram     {@code budgetHistogram.get(s)} = decoding passes that ran {@code s} tokens
 */
public record DecodingStats(int blockSize, int newTokens, int forwardPasses, int blocks, long fastForwarded,
                            long stationary, List<Integer> acceptedHistogram, List<Integer> iterationsHistogram,
                            long prefillNanos, long decodeNanos, Map<String, Long> acceptedBySource,
                            long tokensVerified, List<Integer> budgetHistogram) {

    public DecodingStats {
        if (blockSize < 1) {
            throw new IllegalArgumentException("blockSize must be >= 1, got " + blockSize);
        }
        if (newTokens < 0 || forwardPasses < 0 || blocks < 0 || fastForwarded < 0 || stationary < 0) {
            throw new IllegalArgumentException("negative count in stats");
        }
        if (prefillNanos < 0 || decodeNanos < 0) {
            throw new IllegalArgumentException("negative time in stats");
        }
        acceptedHistogram = List.copyOf(acceptedHistogram);
        iterationsHistogram = List.copyOf(iterationsHistogram);
        acceptedBySource = Collections.unmodifiableMap(new LinkedHashMap<>(acceptedBySource));
        budgetHistogram = List.copyOf(budgetHistogram);
        if (tokensVerified < 0) {
            throw new IllegalArgumentException("negative count in stats");
        }
    }

    /** Statistics without per-source counts or budgets (Jacobi and autoregressive decoding). */
    public DecodingStats(int blockSize, int newTokens, int forwardPasses, int blocks, long fastForwarded,
                         long stationary, List<Integer> acceptedHistogram, List<Integer> iterationsHistogram,
                         long prefillNanos, long decodeNanos) {
        this(blockSize, newTokens, forwardPasses, blocks, fastForwarded, stationary, acceptedHistogram,
                iterationsHistogram, prefillNanos, decodeNanos, Map.of(), 0, List.of());
    }

    /** Mean tokens run per decoding pass (the block or tree size), 0 when unknown. */
    public double meanBudget() {
        long passes = 0;
        long tokens = 0;
        for (int s = 0; s < budgetHistogram.size(); s++) {
            passes += budgetHistogram.get(s);
            tokens += (long) s * budgetHistogram.get(s);
        }
        return passes == 0 ? 0.0 : (double) tokens / passes;
    }

    /** New tokens per forward pass: 1.0 for autoregressive decoding; the paper's headline Jacobi statistic. */
    public double tokensPerPass() {
        return forwardPasses == 0 ? 0.0 : (double) newTokens / forwardPasses;
    }

    /** Decoding passes per block (mean), excluding the prefill. */
    public double meanIterationsPerBlock() {
        long passes = 0;
        long blockCount = 0;
        for (int k = 0; k < iterationsHistogram.size(); k++) {
            passes += (long) k * iterationsHistogram.get(k);
            blockCount += iterationsHistogram.get(k);
        }
        return blockCount == 0 ? 0.0 : (double) passes / blockCount;
    }

    /** Prefill plus decoding time. */
    public long elapsedNanos() {
        return prefillNanos + decodeNanos;
    }

    /** New tokens per second of wall time, prefill included. */
    public double tokensPerSecond() {
        long nanos = elapsedNanos();
        return nanos == 0 ? 0.0 : newTokens * 1e9 / nanos;
    }
}
