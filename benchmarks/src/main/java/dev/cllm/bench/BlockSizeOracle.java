package dev.cllm.bench;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * How much an adaptive block size could gain at most: decodes every benchmark prompt of a model with each fixed block
 * size, times each (prompt, n) pair (best of several repetitions), and compares the best fixed n over all prompts
 * with an oracle that picks the best n for every prompt separately. No adaptive rule can beat that oracle per prompt
 * (it sees the answer), and min-of-noisy timings only flatter it, so a small oracle gain means an adaptive block size
 * is not worth having.
 *
 * <p>The model is a name {@link BenchModels} knows (e.g. {@code sql-cllm}) or {@code dir:PATH}; task models stop at
 * EOS. {@code ./cllm bench-oracle} runs it from the command line with the defaults below.
 */
public final class BlockSizeOracle {
    /** The block sizes compared unless others are given. */
    public static final List<Integer> DEFAULT_BLOCK_SIZES = List.of(1, 2, 4, 6, 8, 12, 16);
    /** Timed repetitions per (prompt, n) pair unless given; the best counts. */
    public static final int DEFAULT_REPETITIONS = 5;
    /** New tokens per prompt unless given. */
    public static final int DEFAULT_MAX_NEW_TOKENS = 64;

    private BlockSizeOracle() {
    }

    /**
     * Decodes every prompt of {@code model} with each block size, {@code repetitions} timed times after one warm-up,
     * and returns the comparison as Markdown: a table of tokens per pass and total time per n, then the best fixed n
     * against the per-prompt oracle.
     *
     * @throws IllegalArgumentException for an unknown model, a block size below 1, or a count below 1
     */
    public static String run(String model, List<Integer> blockSizes, int repetitions, int maxNewTokens) {
        if (blockSizes.isEmpty() || blockSizes.stream().anyMatch(n -> n == null || n < 1)) {
            throw new IllegalArgumentException("block sizes must be >= 1, got " + blockSizes);
        }
        if (repetitions < 1) {
            throw new IllegalArgumentException("repetitions must be >= 1, got " + repetitions);
        }
        if (maxNewTokens < 1) {
            throw new IllegalArgumentException("max new tokens must be >= 1, got " + maxNewTokens);
        }
        int[] ns = blockSizes.stream().mapToInt(Integer::intValue).toArray();
        StringBuilder out = new StringBuilder();
        try (TorchConsistencyModel loaded = BenchModels.load(model, "auto")) {
            TokenIds[] prompts = Prompts.forModel(model, loaded);
            double[][] ms = new double[ns.length][prompts.length];
            long[] passes = new long[ns.length];
            long[] tokens = new long[ns.length];
            for (double[] row : ms) {
                Arrays.fill(row, Double.MAX_VALUE);
            }
            try (DecodingSession session = loaded.newSession()) {
                for (int rep = 0; rep <= repetitions; rep++) {   // repetition 0 warms up
                    for (int k = 0; k < ns.length; k++) {
                        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(ns[k]).maxNewTokens(maxNewTokens)
                                .stopOnEos(Prompts.ownTask(model)).build();
                        for (int p = 0; p < prompts.length; p++) {
                            long start = System.nanoTime();
                            Generation g = decoder.generate(session, prompts[p], GenerationListener.NONE);
                            double elapsed = (System.nanoTime() - start) / 1e6;
                            if (rep > 0) {
                                ms[k][p] = Math.min(ms[k][p], elapsed);
                            }
                            if (rep == 1) {
                                passes[k] += g.stats().forwardPasses();
                                tokens[k] += g.stats().newTokens();
                            }
                        }
                    }
                }
            }
            out.append("| n | tokens/pass | ms, all prompts (best of ").append(repetitions).append(" per prompt) |\n");
            out.append("|---:|---:|---:|\n");
            int best = 0;
            double[] totals = new double[ns.length];
            for (int k = 0; k < ns.length; k++) {
                totals[k] = Arrays.stream(ms[k]).sum();
                if (totals[k] < totals[best]) {
                    best = k;
                }
                out.append(String.format(Locale.ROOT, "| %d | %.2f | %.1f |%n", ns[k],
                        (double) tokens[k] / passes[k], totals[k]));
            }
            double oracle = 0;
            int[] chosen = new int[ns.length];
            for (int p = 0; p < prompts.length; p++) {
                int arg = 0;
                for (int k = 1; k < ns.length; k++) {
                    if (ms[k][p] < ms[arg][p]) {
                        arg = k;
                    }
                }
                oracle += ms[arg][p];
                chosen[arg]++;
            }
            StringBuilder picks = new StringBuilder();
            for (int k = 0; k < ns.length; k++) {
                picks.append(k == 0 ? "" : ", ").append("n=").append(ns[k]).append(": ").append(chosen[k]);
            }
            out.append(String.format(Locale.ROOT, "%nbest fixed block size n = %d: %.1f ms; per-prompt oracle: "
                    + "%.1f ms (%.1f%% less); the oracle's choices: %s%n", ns[best], totals[best], oracle,
                    100 * (1 - oracle / totals[best]), picks));
        }
        return out.toString();
    }
}
