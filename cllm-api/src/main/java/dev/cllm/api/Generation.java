package dev.cllm.api;

import java.util.Objects;

/**
 * The result of one generation.
 *
 * @param prompt     the prompt ids
 * @param ids        the generated ids only (a stop token that ended the generation is not included)
 * @param text       {@code ids} decoded by the model's tokenizer, or {@code null} when the model has none
 * @param stopReason why the generation ended
 * @param stats      forward passes, tokens per pass and timings
 */
public record Generation(TokenIds prompt, TokenIds ids, String text, StopReason stopReason, DecodingStats stats) {

    public Generation {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(stopReason, "stopReason");
        Objects.requireNonNull(stats, "stats");
    }
}
