package dev.cllm.jacobi;

import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;

/**
 * Observes the Jacobi loop: the prompt, every iteration, every finished block, and the accepted tokens. Metrics,
 * streaming and trajectory recording are all listeners; there is one loop.
 *
 * <p>Called on the generating thread, in order: {@code onPrefill}, then per iteration {@code onIteration} followed by
 * {@code onTokens} (when the iteration accepted tokens), and {@code onBlock} when a block ends.
 */
public interface JacobiListener extends GenerationListener {

    /** The prompt was prefilled; {@code firstToken} is the greedy next token (delivered by {@code onTokens} too). */
    default void onPrefill(TokenIds prompt, int firstToken) {
    }

    /** One forward pass over a block. */
    default void onIteration(JacobiIteration iteration) {
    }

    /** A block ended, converged or cut short. */
    default void onBlock(JacobiBlock block) {
    }

    @Override
    default boolean onTokens(TokenIds accepted) {
        return true;
    }

    /** Adapts a plain token listener. */
    static JacobiListener of(GenerationListener listener) {
        if (listener instanceof JacobiListener j) {
            return j;
        }
        return new JacobiListener() {
            @Override
            public boolean onTokens(TokenIds accepted) {
                return listener.onTokens(accepted);
            }
        };
    }
}
