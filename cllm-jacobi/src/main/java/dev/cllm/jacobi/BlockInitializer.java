package dev.cllm.jacobi;

import java.util.random.RandomGenerator;

/**
 * How a new Jacobi block's guesses are made. The block's first token is always the known-correct next token; this
 * fills the rest. Any choice is lossless (the fixed point does not depend on it); a good one converges sooner.
 */
@FunctionalInterface
public interface BlockInitializer {

    /**
     * Draws each guess uniformly, with replacement, from the tokens seen so far (prompt and output), as the CLLM
     * authors' code does (but seeded).
     */
    BlockInitializer CONTEXT_SAMPLE = (guesses, offset, count, context, contextLength, rng) -> {
        for (int i = 0; i < count; i++) {
            guesses[offset + i] = context[rng.nextInt(contextLength)];
        }
    };

    /** Repeats the known next token: cheap, and strong on repetitive text. */
    BlockInitializer REPEAT_LAST = (guesses, offset, count, context, contextLength, rng) -> {
        int last = context[contextLength - 1];
        for (int i = 0; i < count; i++) {
            guesses[offset + i] = last;
        }
    };

    /** Fills every guess with {@code token} (e.g. a pad id). */
    static BlockInitializer constant(int token) {
        if (token < 0) {
            throw new IllegalArgumentException("token id must be non-negative, got " + token);
        }
        return (guesses, offset, count, context, contextLength, rng) -> {
            for (int i = 0; i < count; i++) {
                guesses[offset + i] = token;
            }
        };
    }

    /**
     * The initializer named {@code context} ({@link #CONTEXT_SAMPLE}) or {@code repeat} ({@link #REPEAT_LAST}).
     *
     * @throws IllegalArgumentException for any other name
     */
    static BlockInitializer named(String name) {
        return switch (name) {
            case "context" -> CONTEXT_SAMPLE;
            case "repeat" -> REPEAT_LAST;
            default -> throw new IllegalArgumentException("unknown block initializer '" + name
                    + "' (context or repeat)");
        };
    }

    /**
     * Fills {@code guesses[offset, offset + count)}.
     *
     * @param context       prompt followed by every accepted token, the last being the block's known first token
     * @param contextLength number of valid entries in {@code context} (at least 1)
     * @param rng           the generation's seeded generator
     */
    void fill(int[] guesses, int offset, int count, int[] context, int contextLength, RandomGenerator rng);
}
