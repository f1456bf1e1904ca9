package dev.cllm.api;

/** Why a generation ended. */
public enum StopReason {
    /** A stop token (by default the model's EOS) was generated; the output is cut before it. */
    STOP_TOKEN,
    /** A stop string appeared in the output text; the output is cut before it ({@link Generation#stopString()}). */
    STOP_STRING,
    /** The requested number of new tokens was generated. */
    MAX_NEW_TOKENS,
    /** The session's capacity (the model's context length, by default) is full. */
    CONTEXT_LIMIT,
    /** The listener asked to stop. */
    CANCELLED
}
