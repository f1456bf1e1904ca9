package dev.cllm.jacobi;

import dev.cllm.api.TokenIds;

import java.util.Collection;

/**
 * An n-gram pool that outlives one generation: token sequences the model is likely to produce again, proposed as
 * candidates by {@link LookaheadDecoder}. Fill it before decoding ({@link #add}: a trajectory dataset's fixed points,
 * a task's training answers) and/or let decoders add what they learn from each request (the n-grams their Jacobi
 * trajectories produce), so later requests start with what earlier ones found.
 *
 * <p>Bounded: it holds at most {@code capacity} tokens, forgetting the oldest. Thread-safe; decoders on several
 * threads may share one.
 */
public final class NgramPool {
    /** Default n-gram key length: candidates follow the longest matching suffix of up to this many tokens. */
    public static final int DEFAULT_MAX_KEY = 4;
    /** Default occurrences remembered per n-gram. */
    public static final int DEFAULT_PER_KEY = 8;
    /** Default capacity in tokens. */
    public static final int DEFAULT_CAPACITY = 1 << 20;

    private final NgramIndex index;

    private NgramPool(int maxKey, int perKey, int capacity) {
        this.index = new NgramIndex(maxKey, perKey, capacity);
    }

    /** An empty pool with the default key length, occurrences per key and capacity. */
    public static NgramPool create() {
        return new NgramPool(DEFAULT_MAX_KEY, DEFAULT_PER_KEY, DEFAULT_CAPACITY);
    }

    /**
     * An empty pool.
     *
     * @param maxKey   longest suffix matched (>= 1)
     * @param perKey   most recent occurrences kept per n-gram (>= 1)
     * @param capacity tokens kept (>= 2)
     */
    public static NgramPool create(int maxKey, int perKey, int capacity) {
        return new NgramPool(maxKey, perKey, capacity);
    }

    /** A pool holding {@code sequences} (for example the answers of a task's training set). */
    public static NgramPool of(Collection<TokenIds> sequences) {
        NgramPool pool = create();
        sequences.forEach(pool::add);
        return pool;
    }

    /** Adds one sequence (its n-grams become candidates for contexts that end like a prefix of it). */
    public void add(TokenIds sequence) {
        int[] ids = sequence.toArray();
        synchronized (index) {
            index.add(ids, 0, ids.length);
        }
    }

    void add(int[] tokens, int from, int to) {
        synchronized (index) {
            index.add(tokens, from, to);
        }
    }

    void continuations(int[] context, int length, int max, int maxTokens, NgramIndex.CandidateSink sink) {
        synchronized (index) {
            index.continuations(context, length, max, maxTokens, sink);
        }
    }
}
