package dev.cllm.api;

/**
 * One sequence being decoded: a KV cache and the position up to which it holds committed tokens.
 *
 * <p>The protocol every decoder uses:
 * <ol>
 *   <li>{@link #prefill} the prompt: commits it and returns the next token (see below);</li>
 *   <li>{@link #forward} a block of guessed tokens placed at {@code [position(), position() + block.length)}: returns
 *   the greedy prediction after each block position, and writes the block's keys and values into the cache
 *   without committing them;</li>
 *   <li>{@link #commit} the first {@code k} tokens of that block: their cache entries become part of the context and
 *   the position advances by {@code k}. The rest are discarded; the next forward overwrites them.</li>
 * </ol>
 * Greedy autoregressive decoding is the special case of one-token blocks committed at once.
 *
 * <p>Several candidate continuations are verified in one pass with {@link #forward(DraftTree)}, a tree of guesses
 * rooted at the certain token, and {@link #commitPath} keeps the verified path (its cache entries are moved to
 * follow the committed tokens).
 *
 * <p>"The token after a position" is the one the session's {@link TokenSelector} selects: by default the greedy
 * argmax; with {@link #select(TokenSelector)} a chain of penalties and a seeded sample that depends only on the
 * logits, the prefix, the seed and the position, so that every protocol above yields the same tokens.
 *
 * <p>Not thread-safe: use one session per thread. Close it to release the cache. Its model may be closed from another
 * thread at any time ({@link ConsistencyModel#close()}): a pass in flight finishes first, and then the session is
 * closed like by {@link #close()}.
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
     * @return {@code out[t]} = the token selected after {@code block[0..t]}, for each block position {@code t}
     * @throws IllegalArgumentException if the block is empty, an id is outside the vocabulary, or the block does not
     *                                  fit in the remaining capacity
     */
    int[] forward(int[] block);

    /**
     * Runs the model over a tree of guesses rooted at the certain token (node 0), node i at position
     * {@code position() + tree.depth(i)} and cache slot {@code position() + i}, each node seeing the committed tokens
     * and its own ancestors only. Nothing is committed.
     *
     * @return {@code out[i]} = the token selected after the path from the root to node i
     * @throws IllegalArgumentException if an id is outside the vocabulary or the tree does not fit in the remaining
     *                                  capacity ({@code position() + tree.size() <= capacity()})
     */
    int[] forward(DraftTree tree);

    /**
     * Commits the path from the root to {@code node} of the last forwarded tree (or block): its {@code depth + 1}
     * tokens become context and their keys and values are moved, if needed, to the slots right after the committed
     * ones. For a block (a chain), {@code commitPath(k - 1)} is {@code commit(k)}.
     *
     * @throws IllegalStateException    if nothing was forwarded since the last commit, prefill or rewind
     * @throws IllegalArgumentException if node is not a node of that tree
     */
    void commitPath(int node);

    /**
     * How the tokens after each position are selected from now on, for {@link #prefill}, {@link #forward} and
     * {@link #forward(DraftTree)}. The default, and after {@link #rewind} to 0, is {@link TokenSelector#GREEDY}.
     * Penalties read the committed tokens; generated tokens are those after the last {@link #prefill} from position
     * 0 (the prompt).
     */
    void select(TokenSelector selector);

    /** The selector in use. */
    TokenSelector selector();

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
     * Forwards and commits {@code tokens} (a prompt, or more context) and returns the token selected after
     * them. Implementations may split long inputs into chunks and skip the vocabulary projection for all but the
     * last position; the result equals {@code forward(tokens)[tokens.length - 1]} followed by a full commit.
     */
    int prefill(int[] tokens);

    /**
     * Moves the committed position back to {@code position} (0 starts a new sequence in the same cache, with the
     * greedy selector).
     */
    void rewind(int position);

    /**
     * Releases the cache. Idempotent; afterwards every call but {@link #model()}, {@link #capacity()} and this one
     * throws {@link IllegalStateException}. Closing the model closes its sessions the same way.
     */
    @Override
    void close();
}
