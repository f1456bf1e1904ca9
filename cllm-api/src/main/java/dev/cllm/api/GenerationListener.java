package dev.cllm.api;

import java.util.function.Consumer;

/**
 * Receives a generation's output as soon as a decoder accepts it: tokens (one per forward pass for autoregressive
 * decoding, possibly several for Jacobi decoding) and, when the model has a tokenizer, the text they decode to.
 *
 * <p>Called on the generating thread, in order. Tokens after a stop token are never delivered. When the request has
 * stop strings, tokens and text that could still be the start of a stop string are held back until they cannot be,
 * so nothing delivered is ever taken back: the concatenated deliveries equal {@link Generation#ids()} and
 * {@link Generation#text()}.
 */
@FunctionalInterface
public interface GenerationListener {

    /** Listens to nothing. */
    GenerationListener NONE = accepted -> true;

    /**
     * @param accepted the tokens accepted by one forward pass (at least one)
     * @return {@code true} to go on, {@code false} to cancel: the generation ends with {@link StopReason#CANCELLED}
     *         and keeps the tokens delivered so far
     */
    boolean onTokens(TokenIds accepted);

    /**
     * The text of newly delivered tokens (only when the model has a tokenizer): never splits a character, and the
     * pieces concatenate to the generation's text. Called after {@link #onTokens} for the same tokens (a piece may
     * come later than its tokens when a character or word is still incomplete).
     *
     * @return {@code true} to go on, {@code false} to cancel
     */
    default boolean onText(String piece) {
        return true;
    }

    /** A listener that streams text pieces to {@code sink} and ignores token ids. */
    static GenerationListener text(Consumer<String> sink) {
        return new GenerationListener() {
            @Override
            public boolean onTokens(TokenIds accepted) {
                return true;
            }

            @Override
            public boolean onText(String piece) {
                sink.accept(piece);
                return true;
            }
        };
    }
}
