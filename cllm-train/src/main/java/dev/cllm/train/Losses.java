package dev.cllm.train;

import dev.cllm.api.TrainingConfig.Distance;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.log_softmax;

/**
 * The two terms of the CLLM objective (Kou et al. 2024, equations 4-7), as masked means over token positions.
 *
 * <p>All inputs are {@code [B, T, ...]} over the same positions; a float mask {@code [B, T]} of 1s and 0s selects the
 * positions that count (other values weigh them: Jacobi Forcing weighs its consistency positions by 1/T). The result
 * is a scalar: the weighted sum over selected positions divided by their number (0 when none is selected), or by a
 * given count: a data-parallel rank divides its share by the positions of the whole global
 * batch, so that the ranks' gradients sum to the gradient of the whole batch's mean.
 */
final class Losses {
    private Losses() {
    }

    /**
     * The consistency term: D(p ‖ q) per position, with p the teacher's next-token distribution (gradient stopped)
     * and q the student's.
     *
     * @param student logits {@code [B, T, V]} of the model on the trajectory state
     * @param teacher logits {@code [B, T, V]} of the model on the fixed point (global) or the next state (local);
     *                detached here
     * @param mask    {@code [B, T]}: positions whose inputs differ between student and teacher
     */
    static Tensor consistency(Tensor student, Tensor teacher, Tensor mask, Distance distance) {
        return consistency(student, teacher, mask, distance, -1);
    }

    /** As {@link #consistency(Tensor, Tensor, Tensor, Distance)}, divided by {@code positions} when it is ≥ 0. */
    static Tensor consistency(Tensor student, Tensor teacher, Tensor mask, Distance distance, long positions) {
        Tensor logQ = log_softmax(student.to(ScalarType.Float), -1);            // [B, T, V]
        Tensor logP = log_softmax(teacher.detach().to(ScalarType.Float), -1);   // [B, T, V]
        Tensor perPosition = switch (distance) {
            case FORWARD_KL -> logP.exp().mul(logP.sub(logQ)).sum(-1L);         // [B, T]
            case REVERSE_KL -> logQ.exp().mul(logQ.sub(logP)).sum(-1L);         // [B, T]
        };
        return maskedMean(perPosition, mask, positions);
    }

    /**
     * The AR term: next-token cross-entropy with label smoothing ε, as {@code transformers}' LabelSmoother computes
     * it: {@code (1 - ε) · (-log q(target)) + ε · mean over the vocabulary of (-log q)}.
     *
     * @param logits  {@code [B, T, V]}; position t predicts {@code targets[t]}
     * @param targets int64 {@code [B, T]} (any id where the mask is 0)
     * @param mask    {@code [B, T]}
     */
    static Tensor autoregressive(Tensor logits, Tensor targets, Tensor mask, double labelSmoothing) {
        return autoregressive(logits, targets, mask, labelSmoothing, -1);
    }

    /** As {@link #autoregressive(Tensor, Tensor, Tensor, double)}, divided by {@code positions} when it is ≥ 0. */
    static Tensor autoregressive(Tensor logits, Tensor targets, Tensor mask, double labelSmoothing, long positions) {
        Tensor logQ = log_softmax(logits.to(ScalarType.Float), -1);                       // [B, T, V]
        Tensor nll = logQ.gather(-1, targets.unsqueeze(-1)).squeeze(-1).neg();            // [B, T]
        Tensor perPosition = nll;
        if (labelSmoothing > 0) {
            Tensor smooth = logQ.mean(new long[]{-1}, false, null).neg();                 // [B, T]
            perPosition = nll.mul(new Scalar(1 - labelSmoothing)).add(smooth.mul(new Scalar(labelSmoothing)));
        }
        return maskedMean(perPosition, mask, positions);
    }

    /** sum(values · mask) / max(1, sum(mask)), or / max(1, positions) when {@code positions} ≥ 0. */
    static Tensor maskedMean(Tensor values, Tensor mask, long positions) {
        Tensor sum = values.mul(mask).sum();
        return positions < 0 ? sum.div(mask.sum().clamp_min(new Scalar(1.0)))
                : sum.div(new Scalar((double) Math.max(1, positions)));
    }
}
