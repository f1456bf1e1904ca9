package dev.cllm.torch;

import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DeviceOptional;
import org.bytedeco.pytorch.LongOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.empty;

/**
 * Small helpers over Bytedeco's signatures, so model and training code read like the PyTorch they mirror. The one
 * place these helpers live: the training module uses them too.
 *
 * <p>Java arrays cross into tensors and back with one bulk copy each; nothing here loops per element over JNI.
 * Ownership: {@link #own} keeps a native object alive past the {@code PointerScope} it was created in, until
 * {@link #release}; everything else returns objects attached to the caller's scope.
 */
public final class Tensors {
    static {
        TorchRuntime.ensureLoaded();
    }

    // constants: owned for the life of the process
    private static final TensorOptions CPU_LONG = own(new TensorOptions(ScalarType.Long));
    private static final TensorOptions CPU_FLOAT = own(new TensorOptions(ScalarType.Float));
    private static final TensorOptions CPU_BYTE = own(new TensorOptions(ScalarType.Byte));
    public static final LongOptional LAST_DIM = own(new LongOptional(-1));
    public static final Device CPU = own(new Device("cpu"));

    private Tensors() {
    }

    /**
     * Takes ownership of a native object (typically created inside a {@code PointerScope}): neither the scope's close
     * nor garbage collection frees it; {@link #release} does. Null-safe.
     */
    public static <P extends Pointer> P own(P p) {
        if (p != null) {
            p.retainReference();
        }
        return p;
    }

    /** Frees an object taken with {@link #own}. Null-safe and idempotent. */
    public static void release(Pointer p) {
        if (p != null && !p.isNull()) {
            p.releaseReference();
        }
    }

    /** Tensor options for {@code dtype} on {@code device}. */
    public static TensorOptions options(ScalarType dtype, Device device) {
        return new TensorOptions(dtype).device(new DeviceOptional(device));
    }

    /** A {@code [1, ids.length]} int64 tensor on {@code device}. */
    public static Tensor ids(int[] ids, int length, Device device) {
        long[] wide = new long[length];
        for (int i = 0; i < length; i++) {
            wide[i] = ids[i];
        }
        Tensor t = empty(new long[]{1, length}, CPU_LONG, null);
        new LongPointer(t.data_ptr()).put(wide, 0, length);
        return device.is_cuda() ? t.to(device, ScalarType.Long) : t;
    }

    /** A {@code [rows, cols]} int64 CPU tensor. */
    public static Tensor longs(long[] values, long... shape) {
        Tensor t = empty(shape, CPU_LONG, null);
        new LongPointer(t.data_ptr()).put(values, 0, values.length);
        return t;
    }

    /** A uint8 CPU tensor of the given shape holding {@code values} (row-major). */
    public static Tensor bytes(byte[] values, long... shape) {
        Tensor t = empty(shape, CPU_BYTE, null);
        new org.bytedeco.javacpp.BytePointer(t.data_ptr()).put(values, 0, values.length);
        return t;
    }

    /** A fp32 CPU tensor of the given shape holding {@code values} (row-major). */
    public static Tensor floats(float[] values, long... shape) {
        Tensor t = empty(shape, CPU_FLOAT, null);
        new FloatPointer(t.data_ptr()).put(values, 0, values.length);
        return t;
    }

    /** The values of an integer tensor (any device, any shape) as Java ints, row-major. */
    public static int[] toInts(Tensor t) {
        Tensor c = t.to(CPU, ScalarType.Long).contiguous();
        int n = (int) c.numel();
        long[] wide = new long[n];
        new LongPointer(c.data_ptr()).get(wide, 0, n);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = (int) wide[i];
        }
        return out;
    }

    /** The values of a floating tensor (any device, any dtype) as fp32, row-major. */
    public static float[] toFloats(Tensor t) {
        Tensor c = t.to(CPU, ScalarType.Float).contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        new FloatPointer(c.data_ptr()).get(out, 0, out.length);
        return out;
    }
}
