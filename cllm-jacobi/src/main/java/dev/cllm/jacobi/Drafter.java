package dev.cllm.jacobi;

import java.util.function.Consumer;

/**
 * A source of guesses supplied by the application (a small draft model, a retrieval index, a grammar): given the
 * context, it proposes continuations that {@link LookaheadDecoder} verifies together with its own candidates
 * ({@link CandidateSource#EXTERNAL}). Any proposal is safe: a wrong guess costs pass time, never correctness.
 */
@FunctionalInterface
public interface Drafter {

    /**
     * Proposes continuations of {@code context[0, length)}, whose last token is the certain next token (the root of
     * the pass): each proposal is the tokens that would follow it.
     *
     * @param context   the prompt and the output so far (read only)
     * @param maxTokens proposals longer than this are cut
     * @param out       receives each proposal
     */
    void propose(int[] context, int length, int maxTokens, Consumer<int[]> out);
}
