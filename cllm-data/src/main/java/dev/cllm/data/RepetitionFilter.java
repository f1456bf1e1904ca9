package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Drops trajectories whose teacher output (context + fixed point) collapsed into repetition, the failure mode the
 * CLLM authors clean their data of.
 *
 * <p>Two tests, both looking only at what the block itself generated, cut at the first EOS in the fixed point when
 * EOS ids are given (tokens after EOS are padding of the last block, not output):
 * <ol>
 *   <li><b>token run</b>: {@code maxRun} identical consecutive tokens in the fixed point together with the
 *   {@code maxRun - 1} context tokens before it, so a run must reach into the fixed point; runs entirely inside the
 *   context (or the prompt) do not count. The authors' test ({@code detect_repetitive_patterns} with
 *   {@code repeat_ngram_size=10} in {@code cllm/utils.py}) looks for the same run anywhere in the teacher
 *   output up to the first EOS, which also drops blocks for repetition in the prompt;</li>
 *   <li><b>repeated n-gram</b>: an n-gram of {@code ngramSize} tokens that ends inside the fixed point and occurs at
 *   least {@code maxNgramRepeats} times (overlaps included) in the generated tokens: the context after the original
 *   prompt, then the fixed point. Catches sentence-level loops that a token run misses. Not in the authors' code.</li>
 * </ol>
 * Either test is off when its length is 0. Immutable and thread-safe.
 *
 * @param maxRun          length of a run of one token that marks repetition (0: off); the authors' value is
 *                        {@value #AUTHORS_MAX_RUN}
 * @param ngramSize       n-gram length of the second test (0: off); default {@value #DEFAULT_NGRAM_SIZE}
 * @param maxNgramRepeats occurrences of one n-gram that mark repetition; default {@value #DEFAULT_MAX_NGRAM_REPEATS}
 * @param eosTokenIds     ids at which the fixed point is cut (empty: never cut)
 */
public record RepetitionFilter(int maxRun, int ngramSize, int maxNgramRepeats, Set<Integer> eosTokenIds) {
    /** cllm/utils.py, {@code jacobian_generated_data_postprocessed}: {@code repeat_ngram_size=10}. */
    public static final int AUTHORS_MAX_RUN = 10;
    /** Our default, not the authors': a phrase of 4 tokens that occurs 4 times in one generation is a loop. */
    public static final int DEFAULT_NGRAM_SIZE = 4;
    /** See {@link #DEFAULT_NGRAM_SIZE}. */
    public static final int DEFAULT_MAX_NGRAM_REPEATS = 4;

    /** What the filter decided about one trajectory. */
    public enum Verdict {
        /** Not repetitive. */
        KEEP,
        /** A run of {@code maxRun} identical tokens reaches into the fixed point. */
        TOKEN_RUN,
        /** An n-gram ending in the fixed point occurs {@code maxNgramRepeats} times in the generated tokens. */
        REPEATED_NGRAM
    }

    public RepetitionFilter {
        if (maxRun != 0 && maxRun < 2) {
            throw new IllegalArgumentException("maxRun must be 0 (off) or >= 2, got " + maxRun);
        }
        if (ngramSize < 0) {
            throw new IllegalArgumentException("ngramSize must be 0 (off) or positive, got " + ngramSize);
        }
        if (maxNgramRepeats < 2) {
            throw new IllegalArgumentException("maxNgramRepeats must be >= 2, got " + maxNgramRepeats);
        }
        eosTokenIds = Set.copyOf(eosTokenIds);
    }

    /** Runs of {@value #AUTHORS_MAX_RUN}, 4-grams repeated 4 times, no EOS. */
    public static RepetitionFilter defaults() {
        return new RepetitionFilter(AUTHORS_MAX_RUN, DEFAULT_NGRAM_SIZE, DEFAULT_MAX_NGRAM_REPEATS, Set.of());
    }

    /** Keeps everything. */
    public static RepetitionFilter off() {
        return new RepetitionFilter(0, 0, DEFAULT_MAX_NGRAM_REPEATS, Set.of());
    }

    /** A copy with another run length (0: off). */
    public RepetitionFilter withMaxRun(int run) {
        return new RepetitionFilter(run, ngramSize, maxNgramRepeats, eosTokenIds);
    }

    /** A copy with another n-gram test: {@code size} tokens (0: off) occurring {@code repeats} times. */
    public RepetitionFilter withNgram(int size, int repeats) {
        return new RepetitionFilter(maxRun, size, repeats, eosTokenIds);
    }

    /** A copy that cuts fixed points at these ids, e.g. {@code model.config().eosTokenIds()}. */
    public RepetitionFilter withEosTokenIds(Set<Integer> eos) {
        return new RepetitionFilter(maxRun, ngramSize, maxNgramRepeats, eos);
    }

    /** Judges a record (its prompt length tells prompt from generated context). */
    public Verdict verdict(TrajectoryRecord record) {
        return verdict(record.trajectory(), record.promptLength());
    }

    /**
     * Judges a trajectory whose context starts with a prompt of {@code promptLength} tokens (for block 0 the whole
     * context; for later blocks the block-0 context length of the same prompt).
     */
    public Verdict verdict(Trajectory t, int promptLength) {
        TokenIds context = t.context();
        if (promptLength < 0 || promptLength > context.size()) {
            throw new IllegalArgumentException("promptLength " + promptLength + " outside [0, " + context.size()
                    + "]");
        }
        TokenIds fixed = t.fixedPoint();
        int fixedLength = 0;
        while (fixedLength < fixed.size() && !eosTokenIds.contains(fixed.get(fixedLength))) {
            fixedLength++;
        }
        if (fixedLength == 0) {
            return Verdict.KEEP;
        }
        if (maxRun > 0 && hasRun(context, fixed, fixedLength)) {
            return Verdict.TOKEN_RUN;
        }
        if (ngramSize > 0 && hasRepeatedNgram(context, promptLength, fixed, fixedLength)) {
            return Verdict.REPEATED_NGRAM;
        }
        return Verdict.KEEP;
    }

    private boolean hasRun(TokenIds context, TokenIds fixed, int fixedLength) {
        int from = Math.max(0, context.size() - (maxRun - 1));
        int run = 0;
        int previous = -1;
        for (int i = from; i < context.size() + fixedLength; i++) {
            int token = i < context.size() ? context.get(i) : fixed.get(i - context.size());
            run = token == previous ? run + 1 : 1;
            previous = token;
            if (run >= maxRun) {
                return true;
            }
        }
        return false;
    }

    private boolean hasRepeatedNgram(TokenIds context, int promptLength, TokenIds fixed, int fixedLength) {
        int generatedContext = context.size() - promptLength;
        int[] g = new int[generatedContext + fixedLength];
        for (int i = 0; i < generatedContext; i++) {
            g[i] = context.get(promptLength + i);
        }
        for (int i = 0; i < fixedLength; i++) {
            g[generatedContext + i] = fixed.get(i);
        }
        Map<Ngram, Integer> counts = new HashMap<>();
        for (int start = 0; start + ngramSize <= g.length; start++) {
            counts.merge(new Ngram(g, start, ngramSize), 1, Integer::sum);
        }
        // n-grams ending inside the fixed point: their last token's index is >= generatedContext
        for (int start = Math.max(0, generatedContext - ngramSize + 1); start + ngramSize <= g.length; start++) {
            if (counts.get(new Ngram(g, start, ngramSize)) >= maxNgramRepeats) {
                return true;
            }
        }
        return false;
    }

    /** A window of an int array, compared by content. */
    private static final class Ngram {
        private final int[] ids;
        private final int from;
        private final int length;
        private final int hash;

        Ngram(int[] ids, int from, int length) {
            this.ids = ids;
            this.from = from;
            this.length = length;
            int h = 1;
            for (int i = from; i < from + length; i++) {
                h = 31 * h + ids[i];
            }
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ngram other && Arrays.equals(ids, from, from + length, other.ids, other.from,
                    other.from + other.length);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }
}
