package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingConfig.Distance;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.Tensors;
import dev.cllm.train.GlobalBatches.MicroBatch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Jacobi Forcing's loss of a micro-batch (arXiv 2512.14681, section 3.1): the progressive consistency term plus ω
 * times the AR term, both read from one forward pass over each packed answer ({@link PackedSequence}): the student's
 * logits at the noisy copies, the teacher's (detached) at the clean copies, the AR targets at the clean copies.
 *
 * <p>Packed answers are laid side by side in rows of at most {@code rowTokens} tokens (an answer longer than that gets
 * a row of its own) with a block-diagonal mask, one forward pass per row: answers in one row see nothing of each
 * other. Rows are short ({@value #ROW_TOKENS} tokens) because a row's attention and its mask cost the square of its
 * length while its answers see nothing of each other: with the whole micro-batch in one row (eight math answers of
 * about 200 tokens), most of a step went to masked-out attention. Against rows of 2,048 tokens, rows of 256 trained
 * the 3.7M-parameter math model 1.95x and the SQL model 1.73x as many tokens per second at the same loss on an idle
 * 2-core CPU (1.76x and 1.57x on a loaded one, where rows of 512 did as well on math and 1.49x on SQL, rows of 128
 * 1.38x on SQL: its 80-token answers then make small matrix products).
 *
 * <p>Each term is divided by the positions it scores in the whole global micro-batch ({@link Losses}), so that the
 * ranks' gradients sum to the single-process gradient; a consistency position weighs 1/T, T the blocks of its answer.
 * With one answer per micro-batch (the authors' batch) that is their loss: the consistency term's mean over kept
 * positions divided by T, the AR term's mean over its pairs.
 *
 * <p>With an anchor weight β ({@link TrainingConfig#anchorWeight()}), the frozen anchor model reads each row too,
 * without gradients, and the loss adds β · KL(p_anchor ‖ q) at the AR term's positions: the clean copies, where the
 * mask shows both models the context and the clean blocks only. The anchor term is divided as the AR term is.
 */
final class JacobiForcingObjective implements TrainingObjective {
    private final double arWeight;
    private final double labelSmoothing;
    private final Distance distance;
    private final int rowTokens;
    private final double anchorWeight;
    private final LlamaModel anchor;

    /** The longest row of side-by-side answers (a longer answer gets a row of its own). */
    static final int ROW_TOKENS = 256;

    /** Rows of {@link #rowTokens(TrainingConfig)} tokens, no anchor term. */
    JacobiForcingObjective(TrainingConfig config) {
        this(config, rowTokens(config), null);
    }

    JacobiForcingObjective(TrainingConfig config, int rowTokens) {
        this(config, rowTokens, null);
    }

    /** @param anchor the frozen model of the anchor term, given exactly when {@code config} weighs one */
    JacobiForcingObjective(TrainingConfig config, int rowTokens, LlamaModel anchor) {
        this.arWeight = config.arWeight();
        this.labelSmoothing = config.labelSmoothing();
        this.distance = config.distance();
        this.rowTokens = rowTokens;
        this.anchorWeight = config.anchorWeight();
        this.anchor = TrainingObjective.checkAnchor(config, anchor);
    }

    /** At most {@value #ROW_TOKENS} tokens a row, or {@code config.maxSequenceLength()} if that is fewer. */
    static int rowTokens(TrainingConfig config) {
        return Math.min(ROW_TOKENS, config.maxSequenceLength());
    }

    @Override
    public Loss loss(LlamaModel model, MicroBatch batch, Device device) {
        List<PackedSequence> answers = new ArrayList<>(batch.share().size());
        for (TrainingExample e : batch.share()) {
            answers.add((PackedSequence) e);
        }
        return of(model, answers, device, batch.consistencyPositions(), batch.arPositions());
    }

    /**
     * The loss of {@code answers}, this rank's share of a global micro-batch whose terms score
     * {@code consistencyPositions} and {@code arPositions} positions. One forward pass of {@code model} per row;
     * creates its tensors in the caller's scope.
     */
    Loss of(LlamaModel model, List<PackedSequence> answers, Device device, long consistencyPositions,
            long arPositions) {
        if (answers.isEmpty()) {
            throw new IllegalArgumentException("no answers: every rank needs at least one");
        }
        Tensor consistency = null;
        Tensor ar = null;
        Tensor anchored = null;
        Tensor logits = null;
        for (List<PackedSequence> row : rows(answers, rowTokens)) {
            Row r = Row.of(row);
            int length = r.ids.length;
            Tensor mask = onDevice(Tensors.bytes(r.mask, length, length), device).to(ScalarType.Bool);   // [L, L]
            Tensor ids = onDevice(Tensors.longs(r.ids, 1, length), device);
            Tensor positions = onDevice(Tensors.longs(r.positions, length), device);
            logits = model.logits(ids, positions, mask);                                            // [1, L, V]
            if (r.students.length > 0) {
                Tensor student = logits.index_select(1, index(r.students, device));           // [1, K, V]
                Tensor teacher = logits.index_select(1, index(r.teachers, device));           // [1, K, V]
                Tensor weights = onDevice(Tensors.floats(r.weights, 1, r.weights.length), device);   // [1, K]
                consistency = sum(consistency, Losses.consistency(student, teacher, weights, distance,
                        consistencyPositions));
            }
            if ((arWeight > 0 || anchor != null) && r.arLogits.length > 0) {
                Tensor at = index(r.arLogits, device);
                Tensor predicted = logits.index_select(1, at);                                 // [1, K', V]
                float[] ones = new float[r.arTargets.length];
                Arrays.fill(ones, 1f);
                Tensor weights = onDevice(Tensors.floats(ones, 1, ones.length), device);       // [1, K']
                if (arWeight > 0) {
                    Tensor targets = onDevice(Tensors.longs(r.arTargets, 1, r.arTargets.length), device);  // [1, K']
                    ar = sum(ar, Losses.autoregressive(predicted, targets, weights, labelSmoothing, arPositions));
                }
                if (anchor != null) {   // the frozen model on the same row: its distributions at the AR positions
                    anchored = sum(anchored, TrainingObjective.anchorTerm(predicted,
                            () -> anchor.logits(ids, positions, mask).index_select(1, at), weights, arPositions));
                }
            }
        }
        if (consistency == null) {   // nothing differs anywhere: a zero that still has a graph
            consistency = logits.sum().mul(new Scalar(0.0));
        }
        Tensor total = ar == null ? consistency : consistency.add(ar.mul(new Scalar(arWeight)));
        return new Loss(TrainingObjective.plusAnchor(total, anchored, anchorWeight), consistency, ar, anchored);
    }

    /** {@code answers} in order, cut into rows of at most {@code rowTokens} tokens (at least one answer each). */
    static List<List<PackedSequence>> rows(List<PackedSequence> answers, int rowTokens) {
        List<List<PackedSequence>> rows = new ArrayList<>();
        List<PackedSequence> row = new ArrayList<>();
        int tokens = 0;
        for (PackedSequence a : answers) {
            if (!row.isEmpty() && tokens + a.length() > rowTokens) {
                rows.add(row);
                row = new ArrayList<>();
                tokens = 0;
            }
            row.add(a);
            tokens += a.length();
        }
        if (!row.isEmpty()) {
            rows.add(row);
        }
        return rows;
    }

    private static Tensor sum(Tensor a, Tensor b) {
        return a == null ? b : a.add(b);
    }

    private static Tensor index(int[] indices, Device device) {
        long[] l = new long[indices.length];
        for (int i = 0; i < l.length; i++) {
            l[i] = indices[i];
        }
        return onDevice(Tensors.longs(l, l.length), device);
    }

    private static Tensor onDevice(Tensor t, Device device) {
        return device.is_cuda() ? t.to(device, t.scalar_type()) : t;
    }

    /** Answers side by side: ids, positions, the block-diagonal mask and the loss indices, offset into the row. */
    private static final class Row {
        long[] ids;
        long[] positions;
        byte[] mask;
        int[] students;
        int[] teachers;
        float[] weights;
        int[] arLogits;
        long[] arTargets;

        static Row of(List<PackedSequence> answers) {
            Row r = new Row();
            int length = answers.stream().mapToInt(PackedSequence::length).sum();
            int pairs = (int) answers.stream().mapToLong(PackedSequence::consistencyPositions).sum();
            int arPairs = (int) answers.stream().mapToLong(PackedSequence::arPositions).sum();
            r.ids = new long[length];
            r.positions = new long[length];
            r.mask = new byte[length * length];
            r.students = new int[pairs];
            r.teachers = new int[pairs];
            r.weights = new float[pairs];
            r.arLogits = new int[arPairs];
            r.arTargets = new long[arPairs];
            int offset = 0;
            int k = 0;
            int m = 0;
            for (PackedSequence a : answers) {
                for (int i = 0; i < a.length(); i++) {
                    r.ids[offset + i] = a.id(i);
                    r.positions[offset + i] = a.position(i);
                }
                a.writeMask(r.mask, length, offset);
                int[] s = a.students();
                int[] t = a.teachers();
                for (int i = 0; i < s.length; i++, k++) {
                    r.students[k] = offset + s[i];
                    r.teachers[k] = offset + t[i];
                    r.weights[k] = (float) a.consistencyWeight();
                }
                int[] logitsAt = a.arLogits();
                int[] targets = a.arTargets();
                for (int i = 0; i < logitsAt.length; i++, m++) {
                    r.arLogits[m] = offset + logitsAt[i];
                    r.arTargets[m] = targets[i];
                }
                offset += a.length();
            }
            return r;
        }
    }
}
