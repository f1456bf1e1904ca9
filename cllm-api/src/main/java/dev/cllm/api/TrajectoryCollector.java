package dev.cllm.api;

import java.util.List;

/**
 * Collects the Jacobi trajectories a CLLM is trained on: decodes a prompt block by block and returns one
 * {@link Trajectory} per converged block.
 *
 * <p>Implementations are immutable and thread-safe; use one session per thread.
 */
public interface TrajectoryCollector {

    /** What one prompt gave: its trajectories and what decoding it cost. */
    record Result(Prompt prompt, List<Trajectory> trajectories, Generation generation) {
        public Result {
            trajectories = List.copyOf(trajectories);
        }
    }

    /**
     * Decodes {@code prompt} on {@code session} (rewound first) and returns its trajectories, block by block in order.
     *
     * @throws IllegalArgumentException if the prompt is empty, has ids outside the vocabulary, or leaves no room for
     *                                  one block in the session
     */
    Result collect(DecodingSession session, Prompt prompt);

    /** The block size n of every trajectory this collector returns. */
    int blockSize();

    /** The most new tokens decoded per prompt (whole blocks). */
    int maxNewTokens();

    /**
     * Whether a prompt of {@code promptLength} tokens leaves room for one block in a session of {@code capacity}
     * positions; {@link #collect} refuses prompts that do not.
     */
    default boolean fits(int promptLength, int capacity) {
        return (long) promptLength + blockSize() < capacity;
    }
}
