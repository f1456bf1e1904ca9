package dev.cllm.api;

import java.util.Objects;

/**
 * One session's part of a batched forward pass ({@link BatchedForward#forwardBatch}): what that session would have
 * run alone with {@link DecodingSession#prefill}, {@link DecodingSession#forward(int[])} or
 * {@link DecodingSession#forward(DraftTree)}.
 *
 * <p>A prefill holds its tokens as a chain. Immutable.
 *
 * @param session the session the pass runs on (borrowed)
 * @param prefill whether this is a prefill (the tokens are committed and the token after the last one is selected)
 * @param tree    the tokens: a chain for a prefill or a block, any tree otherwise
 */
public record BatchPass(DecodingSession session, boolean prefill, DraftTree tree) {

    public BatchPass {
        Objects.requireNonNull(session, "session");
        Objects.requireNonNull(tree, "tree");
        if (prefill && !tree.isChain()) {
            throw new IllegalArgumentException("a prefill is a chain of tokens, got " + tree);
        }
    }

    /** {@link DecodingSession#prefill(int[])} of {@code tokens} (copied). */
    public static BatchPass prefill(DecodingSession session, int[] tokens) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("prefill is empty");
        }
        return new BatchPass(session, true, DraftTree.chain(tokens));
    }

    /** {@link DecodingSession#forward(int[])} of {@code block} (copied). */
    public static BatchPass forward(DecodingSession session, int[] block) {
        if (block.length == 0) {
            throw new IllegalArgumentException("block is empty");
        }
        return new BatchPass(session, false, DraftTree.chain(block));
    }

    /** {@link DecodingSession#forward(DraftTree)} of {@code tree}. */
    public static BatchPass forward(DecodingSession session, DraftTree tree) {
        return new BatchPass(session, false, tree);
    }

    /** Number of tokens the pass runs. */
    public int size() {
        return tree.size();
    }

    /**
     * Runs this pass alone on its session: the reference a batched pass must equal.
     *
     * @return the selected tokens: one for a prefill, one per node otherwise
     */
    public int[] runAlone() {
        if (prefill) {
            return new int[]{session.prefill(tree.tokens())};
        }
        return tree.isChain() ? session.forward(tree.tokens()) : session.forward(tree);
    }
}
