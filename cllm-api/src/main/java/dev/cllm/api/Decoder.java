package dev.cllm.api;

/**
 * A greedy decoding strategy (autoregressive, Jacobi, ...). Implementations are immutable and thread-safe; the
 * state of one generation lives in the {@link DecodingSession} it runs on.
 */
public interface Decoder {

    /**
     * Generates a continuation of {@code prompt}, reusing {@code session}'s cache from position 0 (the session is
     * rewound first).
     *
     * @throws IllegalArgumentException if the prompt is empty, holds ids outside the vocabulary, or leaves no room in
     *                                  the session for a single new token
     */
    Generation generate(DecodingSession session, TokenIds prompt, GenerationListener listener);

    /** Opens a session sized for this prompt and this decoder's limits, generates, and closes it. */
    Generation generate(ConsistencyModel model, TokenIds prompt, GenerationListener listener);

    /** Generates with no listener. */
    default Generation generate(ConsistencyModel model, TokenIds prompt) {
        return generate(model, prompt, GenerationListener.NONE);
    }

    /**
     * Encodes {@code prompt} with the model's tokenizer and generates.
     *
     * @throws IllegalStateException if the model has no tokenizer
     */
    default Generation generate(ConsistencyModel model, String prompt) {
        Tokenizer tokenizer = model.tokenizer().orElseThrow(
                () -> new IllegalStateException("the model has no tokenizer; pass token ids instead"));
        return generate(model, TokenIds.of(tokenizer.encode(prompt)), GenerationListener.NONE);
    }

    /** A short name for tables and logs, e.g. {@code ar} or {@code jacobi-16}. */
    String name();
}
