package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.train.GlobalBatches.MicroBatch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.function.Supplier;

/**
 * The loss of a rank's share of one global micro-batch: the CLLM objective ({@link ConsistencyObjective}) or Jacobi
 * Forcing's ({@link JacobiForcingObjective}). Each term is divided by the positions it scores in the whole global
 * micro-batch, so that the ranks' gradients sum to the single-process gradient.
 */
interface TrainingObjective {

    /**
     * The terms of a micro-batch's loss: scalar tensors with their graphs, in the caller's {@code PointerScope}.
     *
     * @param total       what is back-propagated
     * @param consistency the consistency term, or null for language-model training
     * @param ar          the AR term, or null when ω is 0
     * @param anchor      the anchor term KL(p_base ‖ q) ({@link TrainingConfig#anchorWeight()}), or null without one
     */
    record Loss(Tensor total, Tensor consistency, Tensor ar, Tensor anchor) {
        Loss(Tensor total, Tensor consistency, Tensor ar) {
            this(total, consistency, ar, null);
        }
    }

    /** The loss of this rank's share of {@code batch}; creates its tensors on {@code device}, in the caller's scope. */
    Loss loss(LlamaModel model, MicroBatch batch, Device device);

    /**
     * The objective {@code config} trains.
     *
     * @param anchor the frozen model of the anchor term when {@link TrainingConfig#anchorWeight()} is positive, else
     *               null; not closed here
     */
    static TrainingObjective of(TrainingConfig config, LlamaModel anchor) {
        return config.objective() == TrainingConfig.Objective.JACOBI_FORCING
                ? new JacobiForcingObjective(config, JacobiForcingObjective.rowTokens(config), anchor)
                : new ConsistencyObjective(config, anchor);
    }

    /** {@code anchor}, checked against {@code config}: given exactly when the anchor weight is positive. */
    static LlamaModel checkAnchor(TrainingConfig config, LlamaModel anchor) {
        if ((config.anchorWeight() > 0) != (anchor != null)) {
            throw new IllegalArgumentException(anchor == null ? "anchor weight " + config.anchorWeight()
                    + " needs the frozen model it anchors to" : "an anchor model without an anchor weight");
        }
        return anchor;
    }

    /**
     * The anchor term, unweighted: KL(p_anchor ‖ q) per position of {@code logits} ({@code [B, T, V]}, the trained
     * model's, with their graph) against {@code anchorLogits} (the frozen model's at the same positions, computed here
     * without gradients), summed over the positions {@code mask} selects and divided by {@code count}, as the AR term
     * is.
     */
    static Tensor anchorTerm(Tensor logits, Supplier<Tensor> anchorLogits, Tensor mask, long count) {
        return Losses.consistency(logits, frozenPass(anchorLogits), mask, TrainingConfig.Distance.FORWARD_KL, count);
    }

    /**
     * Runs {@code pass}, a forward pass whose result takes no gradient, under no-grad in a {@code PointerScope} of its
     * own and returns its result in the caller's scope. The pass's intermediate tensors (every layer's activations,
     * logits that are then indexed) are freed when it returns instead of when the micro-batch's scope closes, so they
     * do not add to the peak memory of the passes that keep their graphs. The result shares the returned tensor's
     * storage. Without an enclosing scope it only runs under no-grad.
     */
    static Tensor frozenPass(Supplier<Tensor> pass) {
        PointerScope caller = PointerScope.getInnerScope();
        if (caller == null) {
            try (NoGradGuard noGrad = new NoGradGuard()) {
                return pass.get();
            }
        }
        try (PointerScope own = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            // a new handle on the result's storage, whatever owns the tensor the pass returned (this scope, an outer
            // one, a non-owning reference): the caller's scope then owns exactly this handle
            Tensor result = pass.get().detach();
            caller.attach(result);
            return result;
        }
    }

    /** {@code total} plus {@code weight} times the anchor term {@code anchored}, or {@code total} without one. */
    static Tensor plusAnchor(Tensor total, Tensor anchored, double weight) {
        return anchored == null ? total : total.add(anchored.mul(new Scalar(weight)));
    }
}
