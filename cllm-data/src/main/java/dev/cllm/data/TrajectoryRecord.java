package dev.cllm.data;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;

import java.util.Objects;

/**
 * One line of a trajectory file: a {@link Trajectory} with what a dataset needs besides it.
 *
 * <p>{@code labels} and {@code completeTeacherOutput} exist so that the authors' files import losslessly; data we
 * collect leaves both empty. They hold only what cannot be derived: {@link #fullLabels()} and
 * {@link AuthorsFormat} derive the rest.
 *
 * @param trajectory            the block's Jacobi trajectory
 * @param promptLength          the length of the original prompt at the start of the trajectory's context; equal to
 *                              the context length for block 0. Training needs it to tell prompt from generated tokens
 * @param labels                the authors' {@code labels_ids} (prompt and ground-truth answer tokenized together),
 *                              kept verbatim only when they are not the prompt followed by a non-empty answer (that
 *                              case is stored as the trajectory's answer); empty otherwise
 * @param completeTeacherOutput the authors' {@code complete_teacher_output_ids}, kept only when it differs from the
 *                              teacher output of the last block of the same prompt in the file; empty otherwise
 * @param augmented             whether the states were synthesized by {@link Augmenter} rather than decoded: they are
 *                              not a Jacobi trajectory (adjacent states are not one Jacobi step apart), only states
 *                              ordered by correct prefix that end at the fixed point
 */
public record TrajectoryRecord(Trajectory trajectory, int promptLength, TokenIds labels,
                               TokenIds completeTeacherOutput, boolean augmented) {

    public TrajectoryRecord {
        Objects.requireNonNull(trajectory, "trajectory");
        Objects.requireNonNull(labels, "labels");
        Objects.requireNonNull(completeTeacherOutput, "completeTeacherOutput");
        int contextLength = trajectory.context().size();
        if (promptLength < 1 || promptLength > contextLength) {
            throw new IllegalArgumentException("promptLength " + promptLength + " outside [1, " + contextLength
                    + "] (the context length) for prompt " + trajectory.promptIndex() + " block "
                    + trajectory.block());
        }
        if (!labels.isEmpty()) {
            if (!trajectory.answer().isEmpty()) {
                throw new IllegalArgumentException("prompt " + trajectory.promptIndex() + " block "
                        + trajectory.block() + " has both an answer and verbatim labels; keep one");
            }
            if (isPromptPlusAnswer(labels, trajectory.context(), promptLength)) {
                throw new IllegalArgumentException("labels " + labels + " of prompt " + trajectory.promptIndex()
                        + " block " + trajectory.block() + " are the prompt followed by an answer: store the answer "
                        + "in the trajectory instead");
            }
        }
    }

    /** A collected record: no verbatim labels, no stored complete teacher output, not augmented. */
    public static TrajectoryRecord of(Trajectory trajectory, int promptLength) {
        return new TrajectoryRecord(trajectory, promptLength, TokenIds.empty(), TokenIds.empty(), false);
    }

    /** The original prompt: the first {@link #promptLength()} tokens of the context. */
    public TokenIds prompt() {
        return trajectory.context().subSequence(0, promptLength);
    }

    /**
     * The prompt followed by the ground-truth answer, what the authors call {@code labels_ids}: the verbatim labels
     * if present, else prompt + answer, else empty (no ground truth).
     */
    public TokenIds fullLabels() {
        if (!labels.isEmpty()) {
            return labels;
        }
        return trajectory.answer().isEmpty() ? TokenIds.empty() : prompt().concat(trajectory.answer());
    }

    /** A copy with other verbatim labels. */
    public TrajectoryRecord withLabels(TokenIds newLabels) {
        return new TrajectoryRecord(trajectory, promptLength, newLabels, completeTeacherOutput, augmented);
    }

    /** A copy with another stored complete teacher output. */
    public TrajectoryRecord withCompleteTeacherOutput(TokenIds output) {
        return new TrajectoryRecord(trajectory, promptLength, labels, output, augmented);
    }

    /** Whether {@code labels} are the first {@code promptLength} context tokens followed by at least one more. */
    static boolean isPromptPlusAnswer(TokenIds labels, TokenIds context, int promptLength) {
        if (labels.size() <= promptLength) {
            return false;
        }
        for (int i = 0; i < promptLength; i++) {
            if (labels.get(i) != context.get(i)) {
                return false;
            }
        }
        return true;
    }
}
