package dev.cllm.jacobi;

import java.util.Locale;

/**
 * Where the guesses {@link LookaheadDecoder} verifies come from. Each can be switched on or off; all are lossless
 * (a guess only decides how many tokens a pass may accept, never which).
 */
public enum CandidateSource {
    /**
     * The Jacobi window: the previous pass's predictions after the first wrong guess, shifted by one (the Jacobi
     * update), refilled to the window length (Kou et al. 2024). With several blocks, the window reaches further ahead
     * (Jacobi Forcing's multi-block decoding).
     */
    JACOBI,
    /**
     * The n-gram pool: n-grams the model's own Jacobi trajectories produced (lookahead decoding's pool: each token
     * followed by what was predicted after it in the next passes), plus whatever a shared {@link NgramPool} was
     * filled with before (a dataset, earlier requests).
     */
    POOL,
    /** Prompt lookup: the tokens that followed the latest occurrence of the context's last tokens in the prompt and
     *  output so far (strong where the output copies the input). */
    PROMPT,
    /** Rejection recycling: continuations the model predicted in rejected tails of earlier passes, re-verified when
     *  their first token comes up (Jacobi Forcing). */
    RECYCLED,
    /** An application's own {@link Drafter} (a draft model, a retrieval index). */
    EXTERNAL;

    /** The lower-case name used in statistics and on the command line. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * The source named {@code label}.
     *
     * @throws IllegalArgumentException for an unknown name
     */
    public static CandidateSource of(String label) {
        for (CandidateSource s : values()) {
            if (s.label().equals(label.strip().toLowerCase(Locale.ROOT))) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown candidate source '" + label + "' (jacobi, pool, prompt, recycled, external)");
    }
}
