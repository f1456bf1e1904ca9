package dev.cllm.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Dispatcher;
import org.bytedeco.pytorch.IValue;
import org.bytedeco.pytorch.IValueVector;
import org.bytedeco.pytorch.OperatorHandle;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.maximum;
import static org.bytedeco.pytorch.global.torch.quantize_per_channel;
import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * One weight projection {@code x · wᵀ} with int8 weights in FBGEMM's packed layout ({@link CpuGemm#FBGEMM_INT8}).
 *
 * <p><b>Weights.</b> Each output channel (row of {@code w}) is quantized symmetrically to [-127, 127] with its own
 * fp32 scale {@code max|w_row| / 127}, then packed once by {@code quantized::linear_prepack}: 1 byte per weight.
 *
 * <p><b>Activations.</b> Each call divides every input row by twice its own largest magnitude {@code m} (so the row
 * lies in [-1/2, 1/2]) and splits it into {@link #PARTS} parts (default 3): the row itself, then what the kernel's
 * quantization of the previous part leaves over, in units of its step (again in [-1/2, 1/2]), and so on. The kernel
 * quantizes every part with the fixed parameters {@code scale 1/128, zero point 64} (values 0..128); all parts go
 * through {@code quantized::linear_with_input_q_dq_qweight_dq_output_fp32} in one call (the weights are read once),
 * and the result is {@code (y_0 + y_1 / 128 + y_2 / 128²) · 2m}. FBGEMM multiplies uint8 activations by int8
 * weights with int32 accumulation and returns fp32.
 *
 * <p><b>The split follows the kernel's rounding exactly.</b> FBGEMM quantizes {@code p} as
 * {@code round(fl(p / scale + zero point))} in fp32, rounding half to even <em>after</em> the zero point is added
 * (measured: 1.49999988 / 128 becomes 2, not 1; 0.50000006 / 128 becomes 0), with {@code 1 / scale} taken in fp32.
 * So each part's remainder is computed from the very value the kernel rounds: {@code v = fl(128 p + 64)} (exact
 * product: the scale is a power of two, so {@code 1 / scale} is exactly 128 in fp32), then
 * {@code v - round(v)}, which is exact. The remainder of part {@code k} is then exactly what part {@code k}'s
 * quantization left over, up to the fp32 rounding of {@code v} (2^-24 of {@code m}, the precision of the input
 * itself). The previous split (scale 1/63, remainders from {@code round(63 p)}) assumed the kernel rounds
 * {@code 63 p}; it rounds {@code fl(62.999996 p + 64)}, and on the elements where the two differ a whole 7-bit step
 * was lost (2 of 131,072 elements of random rows of 2,048 in {@code Int8WeightsTest}: errors of 1/63 of the row's
 * largest magnitude, against 6e-7 now).
 *
 * <p>Why three parts, measured on stories260K: with one (7-bit activations) the logit error against fp32 was 2.4x
 * (mean) to 3.3x (max) the error of the 8-bit weights alone; with two it is the weights' error, but a last-part
 * rounding step of about 6e-5 of a row's scale turns the fp32 rounding differences between a Jacobi pass and a
 * single-token pass (attention over n queries sums in another order) into logit differences near 1e-3, and greedy
 * Jacobi output left greedy AR output at top-2 gaps of 7e-4 (3 of 30 prompt and block-size cases); with three the
 * step is 1e-6 of a row's scale, near fp32 rounding itself, and all 30 agree. The system property
 * {@code cllm.int8.parts} (1 to 3) overrides it, for measurements.
 *
 * <p>Two choices here are deliberate:
 * <ul>
 * <li>Per-row scaling with fixed quantization parameters, rather than FBGEMM's dynamic quantization (one scale for
 * the whole input, computed at each call): with one scale per call a row's result would depend on the other rows of
 * the same pass, so a Jacobi pass over n tokens would not compute what n single-token passes compute. Here row i's
 * output is bit-identical whatever else is in the batch: the scaling is elementwise, the integer products are exact.
 * The price is a few elementwise operations per projection.</li>
 * <li>Activations of 0..128: on CPUs without VNNI (AVX2), FBGEMM's kernel sums pairs of uint8 x int8 products in
 * saturating 16-bit arithmetic ({@code vpmaddubsw}); with activations up to 128 and weights in [-127, 127] a pair
 * stays within 2 x 128 x 127 = 32512 < 32767, so nothing saturates (PyTorch's {@code reduce_range} for the same
 * reason).</li>
 * </ul>
 * Owns its packed weights; {@link #close()} frees them. Thread-safe for concurrent {@link #apply} calls.
 */
final class Int8Linear implements AutoCloseable {
    /**
     * Activation quantization: a part in [-1/2, 1/2] maps to round(fl(128 p + 64)), i.e. 0..128. A power of two, so
     * that the kernel's {@code 1 / scale} is exact and the split below can reproduce its rounding.
     */
    static final double X_SCALE = 1.0 / 128;
    static final long X_ZERO_POINT = 64;
    /** Each part after the first: the previous part's remainder in units of its quantization step (1/128). */
    static final double LO_GAIN = 128;
    /** How many 7-bit parts an activation is split into (the row, then each part's rounding error). */
    static final int PARTS = parts(Integer.getInteger("cllm.int8.parts", 3));
    /** Weight quantization range: symmetric, [-127, 127]. */
    static final double W_MAX = 127;

    private static final long[] LAST_DIM = {-1};

    private final IValue packed;
    private final long in;
    private final long out;

    private Int8Linear(IValue packed, long out, long in) {
        this.packed = packed;
        this.out = out;
        this.in = in;
    }

    /**
     * Quantizes and packs an fp32 CPU weight {@code [out, in]}; {@code w} stays the caller's.
     *
     * @throws RuntimeException (libtorch's) if this build has no FBGEMM quantized kernels
     */
    static Int8Linear pack(Tensor w) {
        try (PointerScope scope = new PointerScope()) {
            Tensor weight = w.contiguous();                                                  // [N, K] fp32
            long n = weight.size(0);
            // max |w| per row as max(max w, -min w): no |w| copy of the whole matrix while loading
            Tensor scales = maximum(weight.amax(new long[]{1}, false), weight.amin(new long[]{1}, false).neg()) // [N]
                    .div(new Scalar(W_MAX)).clamp_min_(Ops.TINY).to(ScalarType.Double);
            Tensor zeroPoints = zeros(new long[]{n}, new TensorOptions(ScalarType.Long));
            Tensor q = quantize_per_channel(weight, scales, zeroPoints, 0, ScalarType.QInt8); // [N, K] qint8
            IValueVector stack = new IValueVector(new IValue(q), Ops.NONE);
            Ops.PREPACK.callBoxed(stack);
            IValue result = Tensors.own(new IValue(stack.get(0)));
            return new Int8Linear(result, n, weight.size(1));
        }
    }

    /**
     * {@code x · wᵀ} for {@code x [..., in]} fp32 CPU: {@code [..., out]} fp32, attached to the caller's scope. Each row
     * goes through the GEMM {@link #PARTS} times in the same call (the weights are read once): its 7-bit quantization
     * and, scaled up by {@link #LO_GAIN}, what that quantization left over, so activations carry about 21 bits.
     */
    Tensor apply(Tensor x) {
        int dims = (int) x.dim();
        long rows = x.numel() / in;
        Tensor x2 = dims == 2 ? x : x.reshape(rows, in);
        Tensor m2 = x2.abs().amax(LAST_DIM, true).clamp_min_(Ops.TINY).mul_(Ops.TWO);       // [R, 1]: 2 max |x|
        Tensor[] parts = new Tensor[PARTS];
        parts[0] = x2.div(m2);                                                            // [R, in] in [-1/2, 1/2]
        for (int i = 1; i < PARTS; i++) {
            // v = fl(128 p + 64), the value the kernel rounds (128 p is exact); v - round(v) is exact, in [-1/2, 1/2]
            Tensor v = parts[i - 1].mul(Ops.GAIN).add_(Ops.ZERO_POINT);
            parts[i] = v.sub_(v.round());
        }
        IValueVector stack = new IValueVector(new IValue(PARTS == 1 ? parts[0] : cat(new TensorVector(parts), 0)),
                Ops.X_SCALE, Ops.X_ZERO_POINT, packed);
        Ops.LINEAR.callBoxed(stack);
        Tensor y = stack.get(0).toTensor();                                               // [PARTS R, out]
        Tensor result = PARTS == 1 ? y : y.narrow(0, (PARTS - 1) * rows, rows);
        for (int i = PARTS - 2; i >= 0; i--) {
            result = y.narrow(0, i * rows, rows).add(result, Ops.INV_GAIN);
        }
        result = result.mul_(m2);
        if (dims == 2) {
            return result;
        }
        long[] shape = new long[dims];
        for (int d = 0; d < dims - 1; d++) {
            shape[d] = x.size(d);
        }
        shape[dims - 1] = out;
        return result.reshape(shape);
    }

    private static int parts(int n) {
        if (n < 1 || n > 3) {
            throw new IllegalArgumentException("cllm.int8.parts must be 1, 2 or 3, not " + n);
        }
        return n;
    }

    /** Bytes of packed weights (1 per weight; FBGEMM's small per-column offsets aside). */
    long bytes() {
        return in * out;
    }

    @Override
    public void close() {
        Tensors.release(packed);
    }

    /** The operators and constants, looked up once (class initialisation is thread-safe). */
    private static final class Ops {
        static {
            TorchRuntime.ensureLoaded();
        }

        static final OperatorHandle PREPACK = Tensors.own(
                Dispatcher.singleton().findSchemaOrThrow("quantized::linear_prepack", ""));
        static final OperatorHandle LINEAR = Tensors.own(Dispatcher.singleton().findSchemaOrThrow(
                "quantized::linear_with_input_q_dq_qweight_dq_output_fp32", ""));
        static final IValue X_SCALE = Tensors.own(new IValue(Int8Linear.X_SCALE));
        static final IValue X_ZERO_POINT = Tensors.own(new IValue(Int8Linear.X_ZERO_POINT));
        static final IValue NONE = Tensors.own(new IValue());
        static final Scalar TINY = Tensors.own(new Scalar(Float.MIN_NORMAL));
        static final Scalar GAIN = Tensors.own(new Scalar(LO_GAIN));
        static final Scalar ZERO_POINT = Tensors.own(new Scalar((double) Int8Linear.X_ZERO_POINT));
        static final Scalar INV_GAIN = Tensors.own(new Scalar(1 / LO_GAIN));
        static final Scalar TWO = Tensors.own(new Scalar(2.0));
    }
}
