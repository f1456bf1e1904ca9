package dev.cllm.train;

import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Turns each rank's gradients into the gradient of the whole global batch before the optimizer step. Each rank's loss
 * terms are already divided by the positions of the whole micro-batch, so the gradients are summed, not averaged: in
 * buckets across the ranks of a data-parallel job ({@link #over}), not at all in one process
 * ({@link #SINGLE_PROCESS}).
 */
@FunctionalInterface
interface GradientSync {
    /** One process: its gradient is the whole batch's already. */
    GradientSync SINGLE_PROCESS = (params, step) -> {
    };

    /**
     * Sums the gradient of every parameter over the ranks, in place. Its temporaries live in the caller's scope.
     *
     * @param step the 1-based step, named in errors
     */
    void sum(List<Tensor> params, long step);

    /** The synchronisation for {@code group}: an all-reduce when it has more than one rank. */
    static GradientSync over(Collectives group) {
        return group.worldSize() > 1 ? new AllReduce(group) : SINGLE_PROCESS;
    }

    /** All-reduce of the gradients in flat buckets of about {@link Collectives#BUCKET_BYTES}. */
    final class AllReduce implements GradientSync {
        private final Collectives group;

        AllReduce(Collectives group) {
            this.group = group;
        }

        @Override
        public void sum(List<Tensor> params, long step) {
            List<Tensor> grads = new ArrayList<>(params.size());
            for (Tensor p : params) {
                Tensor g = p.grad();
                if (!g.defined()) {
                    throw new IllegalStateException("parameter of shape " + Arrays.toString(p.shape())
                            + " got no gradient on rank " + group.rank() + " at step " + step);
                }
                grads.add(g);
            }
            group.allReduceSum(grads, "the gradients of step " + step);
        }
    }
}
