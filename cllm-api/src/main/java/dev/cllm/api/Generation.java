package dev.cllm.api;

import java.util.Objects;

/**
 * The result of one generation.
 *
 * @param prompt     the prompt ids
 * @param ids        the generated ids only (a stop token that ended the generation is not included; with a stop
 *                   string, the tokens from the one the stop string starts in are not included)
 * @param text       {@code ids} decoded by the model's tokenizer (cut before a stop string), or {@code null} when the
 *                   model has none
 * @param stopReason why the generation ended
 * @param stats      forward passes, tokens per pass and timings
 * @param seed       the sampling seed used (given or drawn), or null when tokens were selected greedily
 * @param stopToken  the stop token that ended the generation ({@link StopReason#STOP_TOKEN}), else -1
 * @param stopString the stop string that ended it ({@link StopReason#STOP_STRING}), else null
 */
public record Generation(TokenIds prompt, TokenIds ids, String text, StopReason stopReason, DecodingStats stats,
                         Long seed, int stopToken, String stopString) {

    public Generation {
        Objects.requireNonNull(prompt, "prompt");
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(stopReason, "stopReason");
        Objects.requireNonNull(stats, "stats");
        if (stopToken >= 0 && stopReason != StopReason.STOP_TOKEN || stopToken < -1) {
            throw new IllegalArgumentException("stop token " + stopToken + " with stop reason " + stopReason);
        }
        if ((stopReason == StopReason.STOP_STRING) != (stopString != null)) {
            throw new IllegalArgumentException("a stop string is given exactly when the stop reason is STOP_STRING");
        }
    }

    /** A greedy generation; which stop token ended it, if one did, is not recorded. */
    public Generation(TokenIds prompt, TokenIds ids, String text, StopReason stopReason, DecodingStats stats) {
        this(prompt, ids, text, stopReason, stats, null, -1, null);
    }
}
