package dev.cllm.api;

import java.util.Objects;

/**
 * A prompt to collect trajectories for, with its optional ground-truth answer.
 *
 * @param index  position in its source (0-based); identifies the prompt across runs, shards and resumptions
 * @param ids    the prompt's token ids
 * @param answer ground-truth answer ids (empty when none)
 */
public record Prompt(long index, TokenIds ids, TokenIds answer) {

    public Prompt {
        Objects.requireNonNull(ids, "ids");
        Objects.requireNonNull(answer, "answer");
        if (index < 0) {
            throw new IllegalArgumentException("negative prompt index " + index);
        }
    }

    /** A prompt without an answer. */
    public static Prompt of(long index, TokenIds ids) {
        return new Prompt(index, ids, TokenIds.empty());
    }
}
