package dev.cllm.api;

/**
 * One sequence being decoded: a KV cache and the position up to which it holds committed tokens.
 *
 * <p>The protocol every decoder uses:
 * <ol>
 *   <li>{@link #prefill} the prompt: commits it and returns the greedy next token;</li>
 *   <li>{@link #forward} a block of guessed tokens placed at {@code [position(), position() + block.length)}: returns
 *   the greedy prediction after each block position, and writes the block's keys and values into the cache
 *   without committing them;</li>
 *   <li>{@link #commit} the first {@code k} tokens of that block: their cache entries become part of the context and
 *   the position advances by {@code k}. The rest are discarded; the next forward overwrites them.</li>
 * </ol>
 * Greedy autoregressive decoding is the special case of one-token blocks committed at once.
 *
 * <p>Not thread-safe: use one session per thread. Close it to release the cache.
 */
public interface DecodingSession extends AutoCloseable {

    /** The model this session decodes with (borrowed). */
    ConsistencyModel model();

    /** Number of committed tokens: the position the next block starts at. */
    int position();

    /** The most positions this session can hold. */
    int capacity();

    /**
     * Runs the model over {@code block} placed right after the committed tokens.
     *
     * @param block token ids (not retained)
     * @return {@code out[t]} = the argmax next token after {@code block[0..t]}, for each block position {@code t}
     * @throws IllegalArgumentException if the block is empty, an id is outside the vocabulary, or the block does not
     *                                  fit in the remaining capacity
     */
    int[] forward(int[] block);

    /** Like {@link #forward} but returns the full logits of every block position (costs a copy to the heap). */
    Logits forwardLogits(int[] block);

    /**
     * Commits the first {@code count} tokens of the last forwarded block.
     *
     * @throws IllegalStateException    if nothing was forwarded since the last commit, prefill or rewind
     * @throws IllegalArgumentException if count is not in {@code [0, last block length]}
     */
    void commit(int count);

    /**
     * Forwards and commits {@code tokens} (a prompt, or more context) and returns the greedy token that follows
     * them. Implementations may split long inputs into chunks and skip the vocabulary projection for all but the
     * last position; the result equals {@code forward(tokens)[tokens.length - 1]} followed by a full commit.
     */
    int prefill(int[] tokens);

    /** Moves the committed position back to {@code position} (0 starts a new sequence in the same cache). */
    void rewind(int position);

    /**
     * Releases the cache. Idempotent; afterwards every call that reads or moves the position or runs the model throws
     * {@link IllegalStateException} ({@link #model()} and {@link #capacity()} still answer).
     */
    @Override
    void close();
}
