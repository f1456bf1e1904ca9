package dev.cllm.api;

/**
 * Receives generated tokens as soon as a decoder accepts them: one token per forward pass for autoregressive
 * decoding, possibly several for Jacobi decoding.
 *
 * <p>Called on the generating thread, in order. Tokens after a stop token are never delivered.
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
}
