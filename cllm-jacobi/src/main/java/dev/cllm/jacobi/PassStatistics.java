package dev.cllm.jacobi;

import dev.cllm.api.DecodingStats;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The statistics of one {@link LookaheadDecoder} generation, accumulated pass by pass. Not thread-safe. */
final class PassStatistics {
    private int passes;
    private long fastForwarded;
    private long tokensVerified;
    private int newTokens;
    private final List<Integer> acceptedHistogram = new ArrayList<>();
    private final List<Integer> budgetHistogram = new ArrayList<>();
    private final long[] bySource = new long[CandidateSource.values().length];

    /** The prompt's prefill: one pass that yields one token. */
    void prefill() {
        passes++;
        count(acceptedHistogram, 1);
    }

    /**
     * A decoding pass that ran {@code size} tokens and accepted {@code accepted} (the selected token after the
     * deepest verified node included); the tokens beyond that one are credited to {@code source}.
     */
    void pass(int size, int accepted, CandidateSource source) {
        passes++;
        tokensVerified += size;
        count(budgetHistogram, size);
        count(acceptedHistogram, accepted);
        fastForwarded += accepted - 1;
        if (accepted > 1) {
            bySource[source.ordinal()] += accepted - 1;
        }
    }

    /** Tokens the output took (after its cuts). */
    void delivered(int count) {
        newTokens += count;
    }

    DecodingStats stats(int window, Set<CandidateSource> reported, long prefillNanos, long decodeNanos) {
        Map<String, Long> accepted = new LinkedHashMap<>();
        for (CandidateSource s : CandidateSource.values()) {
            if (reported.contains(s) || bySource[s.ordinal()] > 0) {
                accepted.put(s.label(), bySource[s.ordinal()]);
            }
        }
        return new DecodingStats(window, newTokens, passes, 0, fastForwarded, 0, acceptedHistogram, List.of(),
                prefillNanos, decodeNanos, accepted, tokensVerified, budgetHistogram);
    }

    private static void count(List<Integer> histogram, int index) {
        while (histogram.size() <= index) {
            histogram.add(0);
        }
        histogram.set(index, histogram.get(index) + 1);
    }
}
