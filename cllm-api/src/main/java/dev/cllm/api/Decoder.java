package dev.cllm.api;

import java.util.concurrent.ThreadLocalRandom;

/**
 * A decoding strategy (autoregressive, Jacobi, Jacobi with candidates, ...). Every strategy produces exactly the
 * tokens autoregressive decoding would select under the same {@link GenerationConfig} (greedy, or sampled with the
 * same seed); they differ in how many forward passes that takes. Implementations are immutable and thread-safe; the
 * state of one generation lives in the {@link DecodingSession} it runs on.
 */
public interface Decoder {

    /**
     * Generates a continuation of {@code prompt} as {@code config} asks, reusing {@code session}'s cache from position
     * 0 (the session is rewound first, and its selector set for this request).
     *
     * @throws IllegalArgumentException if the prompt is empty, holds ids outside the vocabulary, or leaves no room in
     *                                  the session for a single new token, or if the config asks for stop strings and
     *                                  the model has no tokenizer
     */
    Generation generate(DecodingSession session, TokenIds prompt, GenerationConfig config,
                        GenerationListener listener);

    /** This decoder's own generation settings (from its builder), used when a call passes none. */
    GenerationConfig defaults();

    /**
     * Cache positions this decoder wants beyond the prompt and the new tokens (room to verify guesses near the end),
     * for sessions it opens itself.
     */
    default int scratchPositions() {
        return 0;
    }

    /** Generates with this decoder's defaults. */
    default Generation generate(DecodingSession session, TokenIds prompt, GenerationListener listener) {
        return generate(session, prompt, defaults(), listener);
    }

    /** Opens a session sized for this prompt and config (the model's context at most), generates, and closes it. */
    default Generation generate(ConsistencyModel model, TokenIds prompt, GenerationConfig config,
                                GenerationListener listener) {
        long needed = (long) prompt.size() + config.maxNewTokens() + scratchPositions();
        int capacity = (int) Math.max(2, Math.min(model.config().contextLength(), needed));
        try (DecodingSession session = model.newSession(capacity)) {
            return generate(session, prompt, config, listener);
        }
    }

    /** Generates with this decoder's defaults in a session of its own. */
    default Generation generate(ConsistencyModel model, TokenIds prompt, GenerationListener listener) {
        return generate(model, prompt, defaults(), listener);
    }

    /** Generates with no listener. */
    default Generation generate(ConsistencyModel model, TokenIds prompt) {
        return generate(model, prompt, GenerationListener.NONE);
    }

    /**
     * Encodes {@code prompt} with the model's tokenizer and generates with this decoder's defaults.
     *
     * @throws IllegalStateException if the model has no tokenizer
     */
    default Generation generate(ConsistencyModel model, String prompt) {
        return generate(model, prompt, defaults(), GenerationListener.NONE);
    }

    /**
     * Encodes {@code prompt} with the model's tokenizer (with its special tokens, e.g. BOS) and generates as
     * {@code config} asks; the listener receives tokens and text pieces as they are accepted.
     *
     * @throws IllegalStateException if the model has no tokenizer
     */
    default Generation generate(ConsistencyModel model, String prompt, GenerationConfig config,
                                GenerationListener listener) {
        Tokenizer tokenizer = model.tokenizer().orElseThrow(
                () -> new IllegalStateException("the model has no tokenizer; pass token ids instead"));
        return generate(model, TokenIds.of(tokenizer.encode(prompt)), config, listener);
    }

    /**
     * Generates the assistant's reply to a chat conversation: renders it with the checkpoint's chat template (with the
     * generation prompt), encodes it without adding special tokens again, and stops at the template's end-of-turn
     * tokens as well as {@code config}'s stops.
     *
     * @throws IllegalStateException if the model has no tokenizer or its checkpoint no chat template
     */
    default Generation generate(ConsistencyModel model, java.util.List<ChatMessage> messages, GenerationConfig config,
                                GenerationListener listener) {
        Tokenizer tokenizer = model.tokenizer().orElseThrow(
                () -> new IllegalStateException("the model has no tokenizer, so it cannot take chat messages"));
        ChatTemplate template = ChatTemplate.require(tokenizer);
        int[] ids = tokenizer.encodeWithoutSpecialTokens(template.render(messages, true));
        java.util.Set<Integer> stops = new java.util.LinkedHashSet<>(config.stopTokenIds());
        stops.addAll(template.endOfTurnIds(tokenizer));
        return generate(model, TokenIds.of(ids), config.toBuilder().stopTokenIds(stops).build(), listener);
    }

    /** A short name for tables and logs, e.g. {@code ar} or {@code jacobi-16}. */
    String name();

    /**
     * The seed a request samples with: the config's, or a fresh random one when it gives none; null when it does not
     * sample (greedy selection needs none).
     */
    static Long resolveSeed(GenerationConfig config) {
        if (!config.doSample()) {
            return null;
        }
        return config.seed() != null ? config.seed() : ThreadLocalRandom.current().nextLong();
    }
}
