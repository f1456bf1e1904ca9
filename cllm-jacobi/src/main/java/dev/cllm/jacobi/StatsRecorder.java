package dev.cllm.jacobi;

import dev.cllm.api.DecodingStats;
import dev.cllm.api.TokenIds;

import java.util.ArrayList;
import java.util.List;

/** Accumulates {@link DecodingStats} from the loop's events. One per generation; not thread-safe. */
final class StatsRecorder implements JacobiListener {
    private final int blockSize;
    private final long[] acceptedHistogram;   // index = tokens accepted by a pass
    private final List<Long> iterationsHistogram = new ArrayList<>(); // index = passes a block took
    private int newTokens;
    private int passes;
    private int blocks;
    private long fastForwarded;
    private long stationary;
    private long tokensVerified;
    private final List<Long> budgetHistogram = new ArrayList<>(); // index = tokens a decoding pass ran

    StatsRecorder(int blockSize) {
        this.blockSize = blockSize;
        this.acceptedHistogram = new long[blockSize + 1];
    }

    @Override
    public void onPrefill(TokenIds prompt, int firstToken) {
        passes++;
        acceptedHistogram[1]++;
    }

    @Override
    public void onIteration(JacobiIteration iteration) {
        passes++;
        acceptedHistogram[iteration.accepted()]++;
        fastForwarded += iteration.accepted() - 1;
        int ran = iteration.forwarded();
        tokensVerified += ran;
        while (budgetHistogram.size() <= ran) {
            budgetHistogram.add(0L);
        }
        budgetHistogram.set(ran, budgetHistogram.get(ran) + 1);
    }

    @Override
    public void onBlock(JacobiBlock block) {
        blocks++;
        while (iterationsHistogram.size() <= block.passes()) {
            iterationsHistogram.add(0L);
        }
        iterationsHistogram.set(block.passes(), iterationsHistogram.get(block.passes()) + 1);
        if (block.converged()) {
            stationary += stationaryTokens(block.trajectory());
        }
    }

    @Override
    public boolean onTokens(TokenIds accepted) {
        return true;
    }

    void delivered(int count) {
        newTokens += count;
    }

    /**
     * Positions that took their final value while an earlier position was still wrong and kept it to the end: for
     * each position i, find the first state J from which it never changes again; it is stationary if some position
     * before i is wrong in state J.
     */
    static int stationaryTokens(List<TokenIds> trajectory) {
        TokenIds fixedPoint = trajectory.get(trajectory.size() - 1);
        int n = fixedPoint.size();
        int count = 0;
        for (int i = 1; i < n; i++) {
            int settled = trajectory.size() - 1;
            while (settled > 0 && trajectory.get(settled - 1).get(i) == fixedPoint.get(i)) {
                settled--;
            }
            TokenIds state = trajectory.get(settled);
            for (int k = 0; k < i; k++) {
                if (state.get(k) != fixedPoint.get(k)) {
                    count++;
                    break;
                }
            }
        }
        return count;
    }

    DecodingStats stats(long prefillNanos, long decodeNanos) {
        List<Integer> accepted = new ArrayList<>();
        for (long c : acceptedHistogram) {
            accepted.add(Math.toIntExact(c));
        }
        List<Integer> iterations = iterationsHistogram.stream().map(Math::toIntExact).toList();
        return new DecodingStats(blockSize, newTokens, passes, blocks, fastForwarded, stationary, accepted, iterations,
                prefillNanos, decodeNanos, java.util.Map.of(), tokensVerified,
                budgetHistogram.stream().map(Math::toIntExact).toList());
    }
}
