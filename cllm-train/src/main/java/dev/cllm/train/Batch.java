package dev.cllm.train;

import dev.cllm.torch.Tensors;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.List;

/**
 * A micro-batch as tensors: inputs right-padded to the longest example (padding is masked out, and with causal
 * attention it cannot affect earlier positions), masks and AR targets. Created inside the step's
 * {@code PointerScope}.
 */
final class Batch {
    private static final int PAD = 0;

    final Tensor student;          // [B, L] int64, or null
    final Tensor teacher;          // [B, L] int64, or null
    final Tensor consistencyMask;  // [B, L] float
    final Tensor arInput;          // [B, L'] int64, or null when the AR term reads the teacher's pass
    final Tensor arTargets;        // [B, L or L'] int64
    final Tensor arMask;           // [B, L or L'] float
    final int examples;
    final long consistencyPositions;
    final long arPositions;

    private Batch(Tensor student, Tensor teacher, Tensor consistencyMask, Tensor arInput, Tensor arTargets,
                  Tensor arMask, int examples, long consistencyPositions, long arPositions) {
        this.student = student;
        this.teacher = teacher;
        this.consistencyMask = consistencyMask;
        this.arInput = arInput;
        this.arTargets = arTargets;
        this.arMask = arMask;
        this.examples = examples;
        this.consistencyPositions = consistencyPositions;
        this.arPositions = arPositions;
    }

    static Batch of(List<Example> examples, Device device) {
        int b = examples.size();
        boolean consistency = examples.get(0).teacher() != null;
        boolean shared = consistency && examples.stream().allMatch(Example::arSharesTeacher);
        int pairLength = consistency ? examples.stream().mapToInt(e -> e.teacher().length).max().orElse(0) : 0;
        int arLength = shared ? pairLength : examples.stream().mapToInt(e -> e.arInput().length).max().orElse(0);

        long[] student = consistency ? new long[b * pairLength] : null;
        long[] teacher = consistency ? new long[b * pairLength] : null;
        float[] consistencyMask = consistency ? new float[b * pairLength] : null;
        long[] arInput = shared ? null : new long[b * arLength];
        long[] targets = new long[b * arLength];
        float[] arMask = new float[b * arLength];
        long consistencyPositions = 0;
        long arPositions = 0;
        for (int i = 0; i < b; i++) {
            Example e = examples.get(i);
            if (consistency) {
                copy(e.student(), student, i * pairLength);
                copy(e.teacher(), teacher, i * pairLength);
                for (int t = e.consistencyFrom(); t < e.consistencyTo(); t++) {
                    consistencyMask[i * pairLength + t] = 1f;
                    consistencyPositions++;
                }
            }
            if (!shared) {
                copy(e.arInput(), arInput, i * arLength);
            }
            int[] in = e.arInput();
            for (int t = e.arFrom(); t < e.arTo(); t++) {
                targets[i * arLength + t] = in[t + 1];
                arMask[i * arLength + t] = 1f;
                arPositions++;
            }
        }
        return new Batch(
                consistency ? longs(student, b, pairLength, device) : null,
                consistency ? longs(teacher, b, pairLength, device) : null,
                consistency ? floats(consistencyMask, b, pairLength, device) : null,
                shared ? null : longs(arInput, b, arLength, device),
                longs(targets, b, arLength, device),
                floats(arMask, b, arLength, device),
                b, consistencyPositions, arPositions);
    }

    private static void copy(int[] ids, long[] dst, int offset) {
        for (int t = 0; t < ids.length; t++) {
            dst[offset + t] = ids[t];
        }
        // the rest stays PAD (0)
        assert PAD == 0;
    }

    private static Tensor longs(long[] values, int rows, int cols, Device device) {
        Tensor t = Tensors.longs(values, rows, cols);
        return device.is_cuda() ? t.to(device, ScalarType.Long) : t;
    }

    private static Tensor floats(float[] values, int rows, int cols, Device device) {
        Tensor t = Tensors.floats(values, rows, cols);
        return device.is_cuda() ? t.to(device, ScalarType.Float) : t;
    }
}
