package dev.cllm.jacobi;

import dev.cllm.api.TokenIds;

import java.util.List;

/**
 * A finished Jacobi block and its trajectory.
 *
 * @param index      index of the block within the generation (0-based)
 * @param position   absolute position of the block's first token (= length of its context)
 * @param trajectory every distinct state from the initial guess to the last one; when {@code converged} the last is
 *                   the fixed point, equal to the greedy autoregressive continuation
 * @param converged  whether the block reached its fixed point (false when a stop token, the token budget or a
 *                   cancellation ended the generation inside the block)
 * @param passes     forward passes spent on the block
 */
public record JacobiBlock(int index, int position, List<TokenIds> trajectory, boolean converged, int passes) {

    public JacobiBlock {
        trajectory = List.copyOf(trajectory);
        if (trajectory.isEmpty()) {
            throw new IllegalArgumentException("a block has at least its initial state");
        }
    }

    /** The block size of this block (the last block of a generation may be shorter than n). */
    public int size() {
        return trajectory.get(0).size();
    }

    /** The last state: the fixed point when {@link #converged()}. */
    public TokenIds lastState() {
        return trajectory.get(trajectory.size() - 1);
    }
}
