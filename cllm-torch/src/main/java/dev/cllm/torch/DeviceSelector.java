package dev.cllm.torch;

import dev.cllm.api.TokenSelector;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.ScalarTypeOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.util.Arrays;
import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.empty;
import static org.bytedeco.pytorch.global.torch.softmax;
import static org.bytedeco.pytorch.global.torch.where;

/**
 * {@link TokenSelector} on the device: the penalties, the minimum length, then an argmax or the seeded Gumbel-max
 * sample, computed on the logits where the forward pass left them; only one id per row comes back to the heap. It selects what {@link TokenSelector#select} selects on the same logits (in double precision; up to the order
 * of floating-point sums).
 *
 * <p>Each row is the position after a prefix: the committed tokens plus the row's own tokens (a block's tokens up to
 * the row, or a tree node's path from the root). Runs inside the caller's {@code PointerScope}.
 */
final class DeviceSelector {
    private DeviceSelector() {
    }

    /**
     * Selects the token after each row.
     *
     * @param logits      {@code [S, V]}, any floating dtype, on the model's device
     * @param history     the committed tokens ({@code history[0, committed)})
     * @param outputStart where the generated tokens start in the committed ones
     * @param rowTokens   per row, the tokens after the committed ones that its prefix holds (root first)
     * @param positions   per row, the absolute position of the token being selected
     */
    static int[] select(Tensor logits, TokenSelector s, int[] history, int committed, int outputStart,
                        int[][] rowTokens, int[] positions) {
        int rows = (int) logits.size(0);
        int vocab = (int) logits.size(1);
        Tensor x = logits.to(ScalarType.Double);                                       // [S, V]
        if (s.repetitionPenalty() != 1.0) {
            x = repetitionPenalty(x, s.repetitionPenalty(), history, committed, rowTokens, vocab);
        }
        if (s.presencePenalty() != 0.0 || s.frequencyPenalty() != 0.0) {
            x = presenceAndFrequency(x, s, history, committed, outputStart, rowTokens, vocab);
        }
        if (s.minNewTokens() > 0 && !s.minNewTokensStopIds().isEmpty()) {
            x = minimumLength(x, s, positions, outputStart, vocab);
        }
        if (!s.sample()) {
            return Tensors.toInts(x.argmax(Tensors.LAST_DIM, false));
        }
        Tensor p = softmax(x.div(new Scalar(s.temperature())), -1);                    // [S, V] double
        Tensor zero = scalarLike(p, 0.0);
        if (s.topK() > 0 && s.topK() < vocab) {
            Tensor kth = x.topk(s.topK(), -1, true, true).get0().narrow(1, s.topK() - 1, 1); // [S, 1]
            p = where(x.lt(kth), zero, p);
        }
        if (s.topP() < 1.0) {
            org.bytedeco.pytorch.T_TensorTensor_T sorted = p.sort(new org.bytedeco.pytorch.BoolOptional(true), -1,
                    true);                                                              // stable, descending
            Tensor values = sorted.get0();
            Tensor order = sorted.get1();
            Tensor before = values.cumsum(-1).sub(values);                              // mass before each token
            Tensor mass = p.sum(new long[]{-1}, true, new ScalarTypeOptional());     // [S, 1]
            Tensor keepSorted = before.lt(mass.mul(new Scalar(s.topP())));
            Tensor keep = keepSorted.scatter(1, order, keepSorted);
            p = where(keep, p, zero);
        }
        if (s.minP() > 0.0) {
            Tensor best = p.amax(new long[]{-1}, true);
            p = where(p.lt(best.mul(new Scalar(s.minP()))), zero, p);
        }
        // Gumbel-max over the kept tokens, with the counter-based noise of TokenSelector.uniform(seed, position, id)
        long[] keys = new long[rows];
        for (int r = 0; r < rows; r++) {
            keys[r] = TokenSelector.positionKey(s.seed(), positions[r]) & 0xFFFFFFFFL;
        }
        Tensor key = Tensors.longs(keys, rows, 1).to(p.device(), ScalarType.Long);             // [S, 1]
        Tensor hashed = mix32(tokenHashes(vocab, p).bitwise_xor(key));                          // [S, V]
        Tensor u = hashed.to(ScalarType.Double).add(new Scalar(0.5)).mul(new Scalar(0x1.0p-32));
        Tensor gumbel = u.log().neg().log().neg();
        Tensor score = where(p.gt(zero), x.div(new Scalar(s.temperature())).add(gumbel),
                scalarLike(x, Double.NEGATIVE_INFINITY));
        return Tensors.toInts(score.argmax(Tensors.LAST_DIM, false));
    }

    /** {@link TokenSelector#tokenHash} of every id, as unsigned 32-bit values in an int64 {@code [1, V]} tensor. */
    private static Tensor tokenHashes(int vocab, Tensor like) {
        long[] h = new long[vocab];
        for (int v = 0; v < vocab; v++) {
            h[v] = TokenSelector.tokenHash(v) & 0xFFFFFFFFL;
        }
        return Tensors.longs(h, 1, vocab).to(like.device(), ScalarType.Long);
    }

    /** {@link TokenSelector#mix32} on unsigned 32-bit values held in int64 (no product exceeds 2^49). */
    private static Tensor mix32(Tensor x) {
        x = x.bitwise_xor(x.__rshift__(new Scalar(16)));
        x = mul32(x, 0x7feb352dL);
        x = x.bitwise_xor(x.__rshift__(new Scalar(15)));
        x = mul32(x, 0x846ca68bL);
        return x.bitwise_xor(x.__rshift__(new Scalar(16)));
    }

    /** {@code x * c mod 2^32} for x, c in [0, 2^32), from 16-bit halves of c. */
    private static Tensor mul32(Tensor x, long c) {
        Tensor low = x.mul(new Scalar(c & 0xFFFF));
        Tensor high = x.mul(new Scalar(c >>> 16)).bitwise_and(new Scalar(0xFFFFL)).mul(new Scalar(65536L));
        return low.add(high).bitwise_and(new Scalar(0xFFFFFFFFL));
    }

    /** Repetition penalty on every token of each row's prefix (once per token, as Hugging Face applies it). */
    private static Tensor repetitionPenalty(Tensor x, double r, int[] history, int committed, int[][] rowTokens,
                                            int vocab) {
        Tensor penalized = where(x.gt(scalarLike(x, 0.0)), x.div(new Scalar(r)), x.mul(new Scalar(r)));
        BitSet seen = new BitSet(vocab);
        for (int i = 0; i < committed; i++) {
            seen.set(history[i]);
        }
        if (!seen.isEmpty()) {
            Tensor mask = Tensors.longs(seen.stream().mapToLong(i -> i).toArray(), seen.cardinality())
                    .to(x.device(), ScalarType.Long);
            Tensor seenMask = org.bytedeco.pytorch.global.torch.zeros(new long[]{vocab},
                    Tensors.options(ScalarType.Bool, x.device())).index_fill(0, mask, new Scalar(1));
            x = where(seenMask.unsqueeze(0), penalized, x);
        }
        // each row's own tokens that the committed prefix does not hold
        long[][] pairs = pairs(rowTokens, seen);
        if (pairs[0].length > 0) {
            Tensor at = flatIndex(pairs[0], pairs[1], pairs[0].length, vocab, x);
            x = x.reshape(-1).index_copy(0, at, penalized.reshape(-1).index_select(0, at)).view(x.size(0), vocab);
        }
        return x;
    }

    /** OpenAI's presence and frequency penalties over the generated tokens of each row's prefix. */
    private static Tensor presenceAndFrequency(Tensor x, TokenSelector s, int[] history, int committed,
                                               int outputStart, int[][] rowTokens, int vocab) {
        Map<Integer, Integer> counts = new HashMap<>();
        for (int i = Math.max(0, outputStart); i < committed; i++) {
            counts.merge(history[i], 1, Integer::sum);
        }
        if (!counts.isEmpty()) {
            long[] cols = new long[counts.size()];
            double[] deltas = new double[counts.size()];
            int n = 0;
            for (Map.Entry<Integer, Integer> e : counts.entrySet()) {
                cols[n] = e.getKey();
                deltas[n++] = s.presencePenalty() + s.frequencyPenalty() * e.getValue();
            }
            Tensor colIndex = Tensors.longs(cols, n).to(x.device(), ScalarType.Long);
            Tensor delta = doubles(deltas, 1, n).to(x.device(), ScalarType.Double).expand(x.size(0), n);
            x = x.index_add(1, colIndex, delta.neg());
        }
        int pairsCount = 0;
        for (int[] row : rowTokens) {
            pairsCount += row.length;
        }
        if (pairsCount > 0 && committed >= outputStart) {
            long[] rows = new long[pairsCount];
            long[] cols = new long[pairsCount];
            double[] deltas = new double[pairsCount];
            int n = 0;
            for (int r = 0; r < rowTokens.length; r++) {
                Map<Integer, Integer> own = new HashMap<>();
                for (int t : rowTokens[r]) {
                    own.merge(t, 1, Integer::sum);
                }
                for (Map.Entry<Integer, Integer> e : own.entrySet()) {
                    rows[n] = r;
                    cols[n] = e.getKey();
                    boolean present = counts.containsKey(e.getKey());
                    deltas[n++] = (present ? 0 : s.presencePenalty()) + s.frequencyPenalty() * e.getValue();
                }
            }
            Tensor at = flatIndex(rows, cols, n, vocab, x);
            Tensor delta = doubles(Arrays.copyOf(deltas, n), n).to(x.device(), ScalarType.Double);
            x = x.reshape(-1).index_add(0, at, delta.neg()).view(x.size(0), vocab);
        }
        return x;
    }

    /** The stop ids cannot be selected while fewer than min_new_tokens tokens have been generated. */
    private static Tensor minimumLength(Tensor x, TokenSelector s, int[] positions, int outputStart, int vocab) {
        int[] stops = s.minNewTokensStopIds().stream().filter(id -> id < vocab).mapToInt(Integer::intValue).toArray();
        int rows = positions.length;
        long[] r = new long[rows * stops.length];
        long[] c = new long[rows * stops.length];
        int n = 0;
        for (int row = 0; row < rows; row++) {
            if (positions[row] - outputStart < s.minNewTokens()) {
                for (int id : stops) {
                    r[n] = row;
                    c[n++] = id;
                }
            }
        }
        if (n == 0) {
            return x;
        }
        Tensor at = flatIndex(r, c, n, vocab, x);
        return x.reshape(-1).index_fill(0, at, new Scalar(Double.NEGATIVE_INFINITY)).view(x.size(0), vocab);
    }

    /** (row, token) pairs of each row's tokens not in {@code excluded}, each pair once. */
    private static long[][] pairs(int[][] rowTokens, BitSet excluded) {
        int total = 0;
        for (int[] row : rowTokens) {
            total += row.length;
        }
        long[] rows = new long[total];
        long[] cols = new long[total];
        int n = 0;
        for (int r = 0; r < rowTokens.length; r++) {
            BitSet done = new BitSet();
            for (int t : rowTokens[r]) {
                if (!excluded.get(t) && !done.get(t)) {
                    done.set(t);
                    rows[n] = r;
                    cols[n++] = t;
                }
            }
        }
        return new long[][]{Arrays.copyOf(rows, n), Arrays.copyOf(cols, n)};
    }

    private static Tensor scalarLike(Tensor t, double value) {
        return org.bytedeco.pytorch.global.torch.full(new long[]{}, new Scalar(value),
                Tensors.options(t.scalar_type(), t.device()));
    }

    /** A double CPU tensor of the given shape. */
    private static Tensor doubles(double[] values, long... shape) {
        Tensor t = empty(shape, new TensorOptions(ScalarType.Double), null);
        new DoublePointer(t.data_ptr()).put(values, 0, values.length);
        return t;
    }

    /** The positions {@code row * vocab + col} of (row, col) pairs in the flattened {@code [S, V]} tensor. */
    private static Tensor flatIndex(long[] rows, long[] cols, int n, int vocab, Tensor like) {
        long[] flat = new long[n];
        for (int i = 0; i < n; i++) {
            flat[i] = rows[i] * vocab + cols[i];
        }
        return Tensors.longs(flat, n).to(like.device(), ScalarType.Long);
    }
}
