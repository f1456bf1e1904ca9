package dev.cllm.jacobi;

import dev.cllm.api.TokenIds;

/**
 * One Jacobi iteration (one forward pass) on a block: the state before and after it.
 *
 * <p>States are the full block of n tokens: positions below {@code fixedBefore} were accepted by earlier iterations
 * and are not recomputed. {@code after} is the Jacobi update of {@code before}:
 * {@code after[i] = argmax p(· | context, before[0..i))} for {@code i >= 1}, {@code after[0] = before[0]}, over the
 * positions the pass computed: the unaccepted ones, up to and including the first guessed stop token unless the
 * decoder completes whole blocks; later positions keep their guesses.
 *
 * @param block       index of the block within the generation (0-based)
 * @param iteration   index of this iteration within the block (0-based)
 * @param position    absolute position of the block's first token
 * @param before      the state that was fed to the model
 * @param after       the next state; equal to {@code before} only when the block has converged or the pass accepted
 *                    every guess it ran up to a guessed stop token (which ends the generation)
 * @param fixedBefore block positions already accepted before this iteration (at least 1: the first token is known)
 * @param accepted    tokens this iteration made certain: verified guesses plus the one new prediction (at least 1)
 * @param forwarded   tokens the pass ran: the certain one and the guesses after it, up to the block's end or its first
 *                    guessed stop token
 */
public record JacobiIteration(int block, int iteration, int position, TokenIds before, TokenIds after,
                              int fixedBefore, int accepted, int forwarded) {

    /** An iteration whose pass ran the block's whole unaccepted part. */
    public JacobiIteration(int block, int iteration, int position, TokenIds before, TokenIds after, int fixedBefore,
                           int accepted) {
        this(block, iteration, position, before, after, fixedBefore, accepted, before.size() - fixedBefore + 1);
    }
}
