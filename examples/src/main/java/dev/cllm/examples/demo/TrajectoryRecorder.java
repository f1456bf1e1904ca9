package dev.cllm.examples.demo;

import dev.cllm.jacobi.JacobiBlock;
import dev.cllm.jacobi.JacobiIteration;
import dev.cllm.jacobi.JacobiListener;

import java.util.ArrayList;
import java.util.List;

/**
 * Records the iterations and blocks of one Jacobi generation, as the decoder's own loop reports them: attach it to
 * the decoding call whose trajectory is to be shown. One per generation; not thread-safe.
 */
public final class TrajectoryRecorder implements JacobiListener {
    private final List<JacobiIteration> iterations = new ArrayList<>();
    private final List<JacobiBlock> blocks = new ArrayList<>();

    @Override
    public void onIteration(JacobiIteration iteration) {
        iterations.add(iteration);
    }

    @Override
    public void onBlock(JacobiBlock block) {
        blocks.add(block);
    }

    /** Every iteration, in order. */
    public List<JacobiIteration> iterations() {
        return List.copyOf(iterations);
    }

    /** Every finished block, in order. */
    public List<JacobiBlock> blocks() {
        return List.copyOf(blocks);
    }
}
