package dev.cllm.train;

import dev.cllm.api.TrainingConfig.Distance;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.cllm.torch.Tensors.floats;
import static dev.cllm.torch.Tensors.longs;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The consistency and AR terms against values computed by hand. */
class LossesTest {
    // [B=1, T=2, V=3]
    private static final float[] STUDENT = {1f, 2f, 3f, 0f, 0f, 5f};
    private static final float[] TEACHER = {3f, 1f, 0f, 2f, 2f, 1f};

    static {
        dev.cllm.torch.TorchRuntime.ensureLoaded();
    }

    static double[] logSoftmax(float[] v, int row, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < vocab; i++) {
            max = Math.max(max, v[row * vocab + i]);
        }
        double sum = 0;
        for (int i = 0; i < vocab; i++) {
            sum += Math.exp(v[row * vocab + i] - max);
        }
        double[] out = new double[vocab];
        for (int i = 0; i < vocab; i++) {
            out[i] = v[row * vocab + i] - max - Math.log(sum);
        }
        return out;
    }

    static double kl(double[] logP, double[] logQ) {
        double s = 0;
        for (int i = 0; i < logP.length; i++) {
            s += Math.exp(logP[i]) * (logP[i] - logQ[i]);
        }
        return s;
    }

    @Test
    void forwardAndReverseKlMatchHandComputedValuesAndMasksSelectPositions() {
        try (PointerScope scope = new PointerScope()) {
            Tensor student = floats(STUDENT, 1, 2, 3);
            Tensor teacher = floats(TEACHER, 1, 2, 3);
            double[] q0 = logSoftmax(STUDENT, 0, 3);
            double[] q1 = logSoftmax(STUDENT, 1, 3);
            double[] p0 = logSoftmax(TEACHER, 0, 3);
            double[] p1 = logSoftmax(TEACHER, 1, 3);

            double both = Losses.consistency(student, teacher, floats(new float[]{1, 1}, 1, 2), Distance.FORWARD_KL)
                    .item_double();
            assertThat(both).isCloseTo((kl(p0, q0) + kl(p1, q1)) / 2, within(1e-5));
            double second = Losses.consistency(student, teacher, floats(new float[]{0, 1}, 1, 2),
                    Distance.FORWARD_KL).item_double();
            assertThat(second).isCloseTo(kl(p1, q1), within(1e-5));
            double reverse = Losses.consistency(student, teacher, floats(new float[]{1, 0}, 1, 2),
                    Distance.REVERSE_KL).item_double();
            assertThat(reverse).isCloseTo(kl(q0, p0), within(1e-5));
            double none = Losses.consistency(student, teacher, floats(new float[]{0, 0}, 1, 2),
                    Distance.FORWARD_KL).item_double();
            assertThat(none).isZero();
        }
    }

    @Test
    void consistencyIsZeroWhenStudentEqualsTeacherAndMaskedPositionsDoNotCount() {
        try (PointerScope scope = new PointerScope()) {
            Tensor logits = floats(STUDENT, 1, 2, 3);
            assertThat(Losses.consistency(logits, logits, floats(new float[]{1, 1}, 1, 2), Distance.FORWARD_KL)
                    .item_double()).isCloseTo(0, within(1e-7));
            // position 0 differs wildly but is masked out: same loss as identical logits there
            float[] other = STUDENT.clone();
            other[0] = 50f;
            double masked = Losses.consistency(floats(other, 1, 2, 3), floats(TEACHER, 1, 2, 3),
                    floats(new float[]{0, 1}, 1, 2), Distance.FORWARD_KL).item_double();
            double reference = Losses.consistency(floats(STUDENT, 1, 2, 3), floats(TEACHER, 1, 2, 3),
                    floats(new float[]{0, 1}, 1, 2), Distance.FORWARD_KL).item_double();
            assertThat(masked).isEqualTo(reference);
        }
    }

    @Test
    void gradientsReachTheStudentNotTheTeacher() {
        try (PointerScope scope = new PointerScope()) {
            Tensor student = floats(STUDENT, 1, 2, 3).requires_grad_(true);
            Tensor teacher = floats(TEACHER, 1, 2, 3).requires_grad_(true);
            Losses.consistency(student, teacher, floats(new float[]{1, 1}, 1, 2), Distance.FORWARD_KL).backward();
            assertThat(student.grad().defined()).isTrue();
            assertThat(student.grad().abs().sum().item_double()).isGreaterThan(0);
            assertThat(teacher.grad().defined()).as("the teacher is a stop-gradient target").isFalse();
        }
    }

    @Test
    void arLossIsCrossEntropyWithTransformersLabelSmoothing() {
        try (PointerScope scope = new PointerScope()) {
            Tensor logits = floats(STUDENT, 1, 2, 3);
            Tensor targets = longs(new long[]{2, 0}, 1, 2);
            double[] q0 = logSoftmax(STUDENT, 0, 3);
            double[] q1 = logSoftmax(STUDENT, 1, 3);
            double plain = Losses.autoregressive(logits, targets, floats(new float[]{1, 1}, 1, 2), 0).item_double();
            assertThat(plain).isCloseTo((-q0[2] - q1[0]) / 2, within(1e-5));
            double eps = 0.1;
            double smooth0 = (1 - eps) * -q0[2] + eps * -(q0[0] + q0[1] + q0[2]) / 3;
            double smooth1 = (1 - eps) * -q1[0] + eps * -(q1[0] + q1[1] + q1[2]) / 3;
            double smoothed = Losses.autoregressive(logits, targets, floats(new float[]{1, 1}, 1, 2), eps)
                    .item_double();
            assertThat(smoothed).isCloseTo((smooth0 + smooth1) / 2, within(1e-5));
            double onlyFirst = Losses.autoregressive(logits, targets, floats(new float[]{1, 0}, 1, 2), 0)
                    .item_double();
            assertThat(onlyFirst).isCloseTo(-q0[2], within(1e-5));
        }
    }
}
