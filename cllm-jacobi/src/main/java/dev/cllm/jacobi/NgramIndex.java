package dev.cllm.jacobi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Token sequences indexed by their n-grams, to propose continuations of a context: the k tokens before the root
 * (for k from {@code maxKey} down to 1) are looked up, and the tokens that followed their most recent occurrences
 * are the candidates, longer matches first. The prompt-lookup, pool and recycling sources are this one structure fed
 * with different sequences.
 *
 * <p>Sequences live in a ring buffer of {@code capacity} tokens: the oldest are forgotten as new ones arrive, and each
 * n-gram keeps only its {@code perKey} most recent occurrences, so memory is bounded however long the index is fed.
 * Not thread-safe; {@link NgramPool} guards a shared one.
 */
final class NgramIndex {
    private static final int SEPARATOR = -1;

    private final int maxKey;
    private final int perKey;
    private final int[] ring;
    private long end;                      // absolute offset of the next token to write
    private int run;                       // tokens of the current sequence written so far
    private final Map<Long, long[]> occurrences = new HashMap<>(); // n-gram hash -> most recent end offsets (ring)
    private final Map<Long, Integer> heads = new HashMap<>();

    NgramIndex(int maxKey, int perKey, int capacity) {
        if (maxKey < 1 || perKey < 1 || capacity < 2) {
            throw new IllegalArgumentException("maxKey, perKey >= 1 and capacity >= 2, got " + maxKey + ", " + perKey
                    + ", " + capacity);
        }
        this.maxKey = maxKey;
        this.perKey = perKey;
        this.ring = new int[capacity];
    }

    int maxKey() {
        return maxKey;
    }

    /** Adds one token to the current sequence and indexes the n-grams that end at it. */
    void append(int token) {
        ring[(int) (end % ring.length)] = token;
        end++;
        run++;
        // the n-grams ending at the new token; its continuation starts at `end`
        long h = 0;
        for (int k = 1; k <= Math.min(maxKey, run); k++) {
            h = mix(h, tokenAt(end - k), k);
            remember(h, end);
        }
    }

    /** Adds a whole sequence and ends it. */
    void add(int[] tokens, int from, int to) {
        for (int i = from; i < to; i++) {
            append(tokens[i]);
        }
        endSequence();
    }

    /** Ends the current sequence: no n-gram or continuation crosses the boundary. */
    void endSequence() {
        if (run > 0) {
            ring[(int) (end % ring.length)] = SEPARATOR;
            end++;
            run = 0;
        }
    }

    /**
     * Up to {@code max} distinct continuations of {@code context[0, length)}, each of at most {@code maxTokens}
     * tokens: for k = maxKey .. 1, the tokens after the most recent occurrences of the context's last k tokens.
     *
     * @param sink receives (tokens, k) for each candidate, best first
     */
    void continuations(int[] context, int length, int max, int maxTokens, CandidateSink sink) {
        if (max <= 0 || maxTokens <= 0 || length <= 0) {
            return;
        }
        List<int[]> seen = new ArrayList<>();
        long h = 0;
        long[] keys = new long[Math.min(maxKey, length)];
        for (int k = 1; k <= keys.length; k++) {
            h = mix(h, context[length - k], k);
            keys[k - 1] = h;
        }
        for (int k = keys.length; k >= 1 && seen.size() < max; k--) {
            long[] at = occurrences.get(keys[k - 1]);
            if (at == null) {
                continue;
            }
            int head = heads.get(keys[k - 1]);
            for (int i = 0; i < perKey && seen.size() < max; i++) {
                long start = at[Math.floorMod(head - 1 - i, perKey)];
                if (start <= 0 || start <= end - ring.length || !matches(context, length, k, start)) {
                    continue; // empty slot, forgotten by the ring, or a hash collision
                }
                int[] cont = continuation(start, maxTokens);
                if (cont.length == 0 || contains(seen, cont)) {
                    continue;
                }
                seen.add(cont);
                sink.accept(cont, k);
            }
        }
    }

    /** Receives candidates. */
    @FunctionalInterface
    interface CandidateSink {
        void accept(int[] tokens, int matchLength);
    }

    private int[] continuation(long start, int maxTokens) {
        int n = 0;
        int[] out = new int[maxTokens];
        for (long o = start; o < end && n < maxTokens; o++) {
            int t = tokenAt(o);
            if (t == SEPARATOR) {
                break;
            }
            out[n++] = t;
        }
        return n == maxTokens ? out : Arrays.copyOf(out, n);
    }

    private boolean matches(int[] context, int length, int k, long start) {
        for (int i = 1; i <= k; i++) {
            if (start - i <= end - ring.length - 1 || tokenAt(start - i) != context[length - i]) {
                return false;
            }
        }
        return true;
    }

    private static boolean contains(List<int[]> seen, int[] c) {
        for (int[] s : seen) {
            if (Arrays.equals(s, c)) {
                return true;
            }
        }
        return false;
    }

    private int tokenAt(long offset) {
        return ring[(int) (offset % ring.length)];
    }

    private void remember(long key, long continuationStart) {
        long[] at = occurrences.get(key);
        int head;
        if (at == null) {
            at = new long[perKey];
            occurrences.put(key, at);
            head = 0;
        } else {
            head = heads.get(key);
        }
        at[head] = continuationStart;
        heads.put(key, (head + 1) % perKey);
        if (occurrences.size() > 4L * ring.length) {
            prune();
        }
    }

    /** Drops keys whose every occurrence the ring has forgotten. */
    private void prune() {
        occurrences.entrySet().removeIf(e -> {
            for (long s : e.getValue()) {
                if (s > end - ring.length) {
                    return false;
                }
            }
            heads.remove(e.getKey());
            return true;
        });
    }

    private static long mix(long h, int token, int k) {
        long z = (h ^ (token + 1L)) * 0x9E3779B97F4A7C15L + k;
        return z ^ (z >>> 29);
    }
}
