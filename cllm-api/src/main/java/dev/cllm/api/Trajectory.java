package dev.cllm.api;

import java.util.List;
import java.util.Objects;

/**
 * One Jacobi block's trajectory: the training example of a CLLM (Kou et al. 2024, section 3.2).
 *
 * <p>Decoding prompt {@code promptIndex} block by block with block size n, block {@code block} started after
 * {@code context} (the prompt followed by the fixed points of the blocks before it). Its Jacobi states run from the
 * initial guess to the fixed point, which comes last and equals the greedy autoregressive continuation of the context.
 * The first token of every state is the one certain token that starts the block.
 *
 * @param promptIndex index of the prompt in its source (0-based), the same for all blocks of one prompt
 * @param block       index of the block within the prompt's generation (0-based)
 * @param context     prompt plus the fixed points of the earlier blocks
 * @param states      every distinct state from the initial guess to the fixed point (the last); all of length n
 * @param answer      ground-truth answer ids supplied with the prompt (empty when none): the answer only, without
 *                    the prompt
 */
public record Trajectory(long promptIndex, int block, TokenIds context, List<TokenIds> states, TokenIds answer) {

    public Trajectory {
        Objects.requireNonNull(context, "context");
        Objects.requireNonNull(answer, "answer");
        states = List.copyOf(states);
        if (promptIndex < 0 || block < 0) {
            throw new IllegalArgumentException("negative prompt index " + promptIndex + " or block " + block);
        }
        if (context.isEmpty()) {
            throw new IllegalArgumentException("trajectory of prompt " + promptIndex + " block " + block
                    + " has an empty context");
        }
        if (states.isEmpty()) {
            throw new IllegalArgumentException("trajectory of prompt " + promptIndex + " block " + block
                    + " has no states");
        }
        int n = states.get(0).size();
        if (n == 0) {
            throw new IllegalArgumentException("trajectory of prompt " + promptIndex + " block " + block
                    + " has empty states");
        }
        for (int i = 1; i < states.size(); i++) {
            if (states.get(i).size() != n) {
                throw new IllegalArgumentException("trajectory of prompt " + promptIndex + " block " + block
                        + ": state " + i + " has " + states.get(i).size() + " tokens, state 0 has " + n);
            }
        }
    }

    /** The block size n. */
    public int blockSize() {
        return states.get(0).size();
    }

    /** The converged state: the greedy continuation of {@link #context()}. */
    public TokenIds fixedPoint() {
        return states.get(states.size() - 1);
    }

    /** The context followed by the fixed point: what the CLLM authors call the teacher output. */
    public TokenIds teacherOutput() {
        return context.concat(fixedPoint());
    }

    /** Number of leading tokens of {@code state} that equal the fixed point's (its correct prefix). */
    public int correctPrefix(TokenIds state) {
        TokenIds fixed = fixedPoint();
        int k = 0;
        while (k < state.size() && state.get(k) == fixed.get(k)) {
            k++;
        }
        return k;
    }
}
