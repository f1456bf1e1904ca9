package dev.cllm.bench;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.TorchConsistencyModel;

import java.util.Arrays;
import java.util.Locale;

/**
 * How much an adaptive block size could gain at most: decodes every benchmark prompt of a model with each fixed block
 * size, times each (prompt, n) pair (best of several repetitions), and compares the best fixed n over all prompts
 * with an oracle that picks the best n for every prompt separately. No adaptive rule can beat that oracle per prompt
 * (it sees the answer), and min-of-noisy timings only flatter it, so a small oracle gain means an adaptive block size
 * is not worth having.
 *
 * <pre>
 * java -cp ... dev.cllm.bench.BlockSizeOracle MODEL [n,n,...] [repetitions] [max-new-tokens]
 * </pre>
 * MODEL is a name {@link BenchModels} knows (e.g. {@code sql-cllm}) or {@code dir:PATH}; defaults: n = 1,2,4,6,8,12,16,
 * 5 repetitions, 64 new tokens (task models stop at EOS).
 */
public final class BlockSizeOracle {
    private BlockSizeOracle() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: BlockSizeOracle MODEL [n,n,...] [repetitions] [max-new-tokens]");
            System.exit(2);
        }
        String model = args[0];
        int[] ns = args.length > 1 ? Arrays.stream(args[1].split(",")).mapToInt(Integer::parseInt).toArray()
                : new int[]{1, 2, 4, 6, 8, 12, 16};
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        int maxNew = args.length > 3 ? Integer.parseInt(args[3]) : 64;
        try (TorchConsistencyModel loaded = BenchModels.load(model, "auto")) {
            TokenIds[] prompts = Prompts.forModel(model, loaded);
            double[][] ms = new double[ns.length][prompts.length];
            long[] passes = new long[ns.length];
            long[] tokens = new long[ns.length];
            for (double[] row : ms) {
                Arrays.fill(row, Double.MAX_VALUE);
            }
            try (DecodingSession session = loaded.newSession()) {
                for (int rep = 0; rep <= reps; rep++) {   // repetition 0 warms up
                    for (int k = 0; k < ns.length; k++) {
                        JacobiDecoder decoder = JacobiDecoder.builder().blockSize(ns[k]).maxNewTokens(maxNew)
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
            System.out.println("| n | tokens/pass | ms, all prompts (best of " + reps + " per prompt) |");
            System.out.println("|---:|---:|---:|");
            int best = 0;
            double[] totals = new double[ns.length];
            for (int k = 0; k < ns.length; k++) {
                totals[k] = Arrays.stream(ms[k]).sum();
                if (totals[k] < totals[best]) {
                    best = k;
                }
                System.out.printf(Locale.ROOT, "| %d | %.2f | %.1f |%n", ns[k], (double) tokens[k] / passes[k],
                        totals[k]);
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
            System.out.printf(Locale.ROOT, "%nbest fixed block size n = %d: %.1f ms; per-prompt oracle: %.1f ms "
                    + "(%.1f%% less); the oracle's choices: %s%n", ns[best], totals[best], oracle,
                    100 * (1 - oracle / totals[best]), picks);
        }
    }
}
