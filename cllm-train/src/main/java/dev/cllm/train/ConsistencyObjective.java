package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingConfig.Distance;
import dev.cllm.torch.LlamaModel;
import dev.cllm.train.GlobalBatches.MicroBatch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The loss of one micro-batch (Kou et al. 2024, equation 7): the consistency term plus ω times the AR term; for
 * language-model training (a batch without teacher inputs) the AR term alone.
 *
 * <p>The teacher pass runs the model on the context followed by the fixed point (global loss) or the next state
 * (local loss); its logits, detached, are the target distribution of the student pass on the context followed by the
 * sampled state. When the AR term reads the same sequence (global loss, AR on the teacher output), the teacher pass
 * keeps its graph and serves the AR term too: two forward passes per example instead of three. Each term is divided
 * by the positions of the whole global micro-batch ({@link Losses}), so that the ranks' gradients sum to the
 * single-process gradient. With an anchor weight β ({@link TrainingConfig#anchorWeight()}), the frozen anchor model
 * reads the AR term's input without gradients, and the loss adds β · KL(p_anchor ‖ q) at the AR term's positions.
 */
final class ConsistencyObjective implements TrainingObjective {
    private final double arWeight;
    private final double labelSmoothing;
    private final Distance distance;
    private final double anchorWeight;
    private final LlamaModel anchor;

    /** Without an anchor term. */
    ConsistencyObjective(TrainingConfig config) {
        this(config, null);
    }

    /** @param anchor the frozen model of the anchor term, given exactly when {@code config} weighs one */
    ConsistencyObjective(TrainingConfig config, LlamaModel anchor) {
        this.arWeight = config.arWeight();
        this.labelSmoothing = config.labelSmoothing();
        this.distance = config.distance();
        this.anchorWeight = config.anchorWeight();
        this.anchor = TrainingObjective.checkAnchor(config, anchor);
    }

    @Override
    public Loss loss(LlamaModel model, MicroBatch batch, Device device) {
        List<Example> pairs = new ArrayList<>(batch.share().size());
        for (TrainingExample e : batch.share()) {
            pairs.add((Example) e);
        }
        return of(model, Batch.of(pairs, device), batch.consistencyPositions(), batch.arPositions());
    }

    /**
     * The loss of {@code batch}, this rank's share of a global micro-batch whose loss terms score
     * {@code consistencyPositions} and {@code arPositions} positions. Runs two or three forward passes of
     * {@code model}; creates its tensors in the caller's scope.
     */
    Loss of(LlamaModel model, Batch batch, long consistencyPositions, long arPositions) {
        if (batch.teacher == null) {   // language-model training
            Tensor ar = Losses.autoregressive(model.logits(batch.arInput), batch.arTargets, batch.arMask,
                    labelSmoothing, arPositions);
            return new Loss(ar, null, ar);
        }
        Tensor teacherLogits;
        Tensor arLogits = null;   // the trained model on the AR term's input, with its graph
        boolean arPositionsScored = arWeight > 0 || anchor != null;
        if (batch.arInput == null && arPositionsScored) {
            teacherLogits = model.logits(batch.teacher);                         // [B, L, V], graph kept for AR
            arLogits = teacherLogits;
        } else {
            teacherLogits = TrainingObjective.frozenPass(() -> model.logits(batch.teacher));   // [B, L, V]
            if (arPositionsScored) {
                arLogits = model.logits(batch.arInput);                          // [B, L', V]
            }
        }
        Tensor ar = arWeight > 0
                ? Losses.autoregressive(arLogits, batch.arTargets, batch.arMask, labelSmoothing, arPositions) : null;
        Tensor anchored = null;
        if (anchor != null) {   // the frozen model on the AR term's input: its distributions at the AR positions
            anchored = TrainingObjective.anchorTerm(arLogits,
                    () -> anchor.logits(batch.arInput == null ? batch.teacher : batch.arInput), batch.arMask,
                    arPositions);
        }
        Tensor studentLogits = model.logits(batch.student);                      // [B, L, V]
        Tensor consistency = Losses.consistency(studentLogits, teacherLogits, batch.consistencyMask, distance,
                consistencyPositions);
        Tensor total = ar == null ? consistency : consistency.add(ar.mul(new Scalar(arWeight)));
        return new Loss(TrainingObjective.plusAnchor(total, anchored, anchorWeight), consistency, ar, anchored);
    }
}
