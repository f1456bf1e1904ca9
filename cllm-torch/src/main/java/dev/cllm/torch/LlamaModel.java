package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaWeights.Layer;
import dev.cllm.torch.LlamaWeights.Projection;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.embedding;
import static org.bytedeco.pytorch.global.torch.fbgemm_linear_fp16_weight_fp32_activation;
import static org.bytedeco.pytorch.global.torch.full;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.mv;
import static org.bytedeco.pytorch.global.torch.rms_norm;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.bytedeco.pytorch.global.torch.silu;

/**
 * A LLaMA-family decoder on libtorch: RMSNorm, rotary embeddings (Hugging Face rotate-half convention), grouped-query
 * attention, SwiGLU MLP, tied or untied output projection, optional biases.
 *
 * <p>Owns its weights ({@link LlamaWeights}, built by {@link LlamaLoader} in the layout fixed at load: q, k and v
 * fused into {@code wqkv}, gate and up into {@code w13}); {@link #close()} frees them. Forward passes are thread-safe
 * (weights are only read). {@link #close()} waits for the passes of {@link TorchConsistencyModel} sessions in flight;
 * {@link #logits} and {@link #weights()} are for the model's owner (a trainer), who must not close it meanwhile.
 *
 * <p>The kernel of the weight projections ({@link #gemm()}) is fixed at load by {@link TorchOptions#gemm()}.
 * {@link CpuGemm#FBGEMM_FP16} multiplies with fp16 copies of the weights packed at load: a snapshot that does not see
 * later changes to {@link #weights()}; {@link CpuGemm#FBGEMM_FP16_ONLY} keeps only those copies.
 * {@link CpuGemm#FBGEMM_INT8} multiplies with int8 weights packed at load and keeps no fp32 matrices either
 * ({@link #weights()} is then unavailable). A model whose weights will change (training) must
 * be loaded with {@link CpuGemm#BLAS}, which computes with the weights themselves and is differentiable.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig config;
    private final Device device;
    private final ScalarType dtype;
    private final LlamaWeights w;
    private final Tensor ropeCos;  // [maxPos, hd]
    private final Tensor ropeSin;  // [maxPos, hd], first half negated: rotate_half folded into the table
    private final long[] normShape;
    private final DoubleOptional eps;
    private final TensorOptions maskOptions;   // the compute dtype: attention masks are additive (0 or -inf)
    private final Scalar minusInfinity;
    private final Scalar zero;
    private final boolean gemvFastPath;
    private final String deviceName;
    /** Forward passes hold the read lock; {@link #close()} takes the write lock, so weights are never freed mid-pass. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    private LlamaModel(LlamaConfig config, Device device, ScalarType dtype, LlamaWeights weights) {
        this.config = config;
        this.device = Tensors.own(device);
        this.dtype = dtype;
        this.w = weights;
        this.normShape = new long[]{config.hiddenSize()};
        this.eps = Tensors.own(new DoubleOptional(config.rmsNormEps()));
        this.maskOptions = Tensors.own(Tensors.options(dtype, device));
        this.minusInfinity = Tensors.own(new Scalar(Double.NEGATIVE_INFINITY));
        this.zero = Tensors.own(new Scalar(0.0));
        this.gemvFastPath = !device.is_cuda() && dtype == ScalarType.Float;
        this.deviceName = device.str().getString();
        Rope rope = new Rope(config);
        TensorOptions tableOptions = Tensors.options(dtype, device);
        try (PointerScope scope = new PointerScope()) {
            this.ropeCos = Tensors.own(rope.cosTable(tableOptions));
            this.ropeSin = Tensors.own(rope.signedSinTable(tableOptions));
        }
    }

    // ------------------------------------------------------------------------------------------------ loading

    /**
     * Loads the weights of a Hugging Face checkpoint directory ({@code model.safetensors} or a sharded index).
     *
     * @throws CheckpointException naming the file and tensor when a tensor is missing, mis-shaped or not floating
     *                             point
     */
    public static LlamaModel load(Path dir, LlamaConfig config, TorchOptions options) {
        try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(dir)) {
            return create(config, LlamaLoader.checkpoint(weights), options);
        }
    }

    /**
     * Builds a model from tensors under their Hugging Face names (CPU or device, any floating dtype); the tensors are
     * copied, the map stays the caller's.
     */
    public static LlamaModel fromHfWeights(LlamaConfig config, Map<String, Tensor> weights, TorchOptions options) {
        return create(config, LlamaLoader.map(weights), options);
    }

    /**
     * A model with random weights: those {@link RandomCheckpoint#write} stores for the seed (in fp32), generated one
     * tensor at a time while loading, so building it never holds more than one fp32 weight beyond the model.
     */
    public static LlamaModel random(LlamaConfig config, long seed, TorchOptions options) {
        try (RandomCheckpoint.Source source = new RandomCheckpoint.Source(config, seed,
                RandomCheckpoint.defaultThreads())) {
            return create(config, source, options);
        }
    }

    private static LlamaModel create(LlamaConfig config, LlamaLoader.WeightSource source, TorchOptions options) {
        TorchRuntime.ensureLoaded();
        Device device = options.resolveDevice();
        ScalarType dtype = options.dtype().scalarType(device.is_cuda());
        if (!device.is_cuda()) {
            TorchRuntime.threadsForLoad(dtype);
        }
        LlamaWeights weights = LlamaLoader.load(config, source, device, dtype, options.gemm());
        try {
            return new LlamaModel(config, device, dtype, weights);
        } catch (RuntimeException e) {
            weights.close();
            throw e;
        }
    }

    // ------------------------------------------------------------------------------------------------ forward

    /**
     * Logits for a batch of sequences without a cache (training, scoring): position {@code t} of row {@code b} sees
     * tokens {@code 0..t} of that row.
     *
     * @param ids int64 {@code [B, T]} on this model's device
     * @return logits {@code [B, T, V]} in the compute dtype, attached to the caller's {@code PointerScope}
     */
    public Tensor logits(Tensor ids) {
        checkOpen();
        return forward(ids, null, 0, false);
    }

    /**
     * Logits for sequences that are not plain left-to-right text, without a cache (training on packed sequences):
     * token t of each row sits at position {@code positions[t]} (its rotary angle) and attends to the tokens
     * {@code mask[t]} allows. With {@code positions[t] = t} and a lower-triangular mask this is {@link #logits(Tensor)}.
     *
     * @param ids       int64 {@code [B, T]} on this model's device
     * @param positions int64 {@code [T]}: the position of each token, shared by the rows
     * @param mask      bool {@code [T, T]}, true where token t may attend to token u (shared by the rows); or the same
     *                  as an additive mask (0 or -inf) in the compute dtype
     * @return logits {@code [B, T, V]}, attached to the caller's {@code PointerScope}
     */
    public Tensor logits(Tensor ids, Tensor positions, Tensor mask) {
        checkOpen();
        Tensor cos = ropeCos.index_select(0, positions).unsqueeze(1);   // [T, 1, hd]
        Tensor sin = ropeSin.index_select(0, positions).unsqueeze(1);   // [T, 1, hd]
        Tensor additive = mask.scalar_type() == ScalarType.Bool                // once, not in every layer
                ? full(mask.sizes().vec().get(), minusInfinity, maskOptions).masked_fill_(mask, zero) : mask;
        return transformer(ids, null, 0, cos, sin, additive, false, false);
    }

    /**
     * The forward pass. Tokens {@code ids} occupy positions {@code [pos, pos + T)}; with a cache they attend to
     * the cached positions {@code [0, pos)} too, and their keys and values are written at {@code [pos, pos + T)}.
     *
     * @param ids      int64 {@code [B, T]} (B = 1 with a cache)
     * @param cache    null for a cache-free pass (then pos must be 0)
     * @param lastOnly project only the last position to the vocabulary (prefill)
     * @return logits {@code [B, T or 1, V]}
     */
    Tensor forward(Tensor ids, KvCache cache, int pos, boolean lastOnly) {
        long t = ids.size(1);
        Tensor cos = ropeCos.narrow(0, pos, t).unsqueeze(1);           // [T, 1, hd]
        Tensor sin = ropeSin.narrow(0, pos, t).unsqueeze(1);           // [T, 1, hd]
        return transformer(ids, cache, pos, cos, sin, chainMask(t, pos), t > 1 && pos == 0, lastOnly);
    }

    /**
     * The mask of a block of {@code t} new queries over {@code pos + t} keys ({@code [T, pos+T]}, query i may see keys
     * {@code 0..pos+i}), or null where none is needed: one query sees everything cached, and at {@code pos == 0}
     * {@code is_causal} does it (is_causal aligns top-left, which is only right when pos == 0).
     *
     * <p>The masks of a pass are additive (0 where a key is seen, -inf where not) in the compute dtype, built once per
     * pass: attention turns a boolean mask into exactly this in every layer, so the outputs are the same bits and the
     * layers skip the conversion.
     */
    private Tensor chainMask(long t, int pos) {
        return t > 1 && pos > 0 ? full(new long[]{t, pos + t}, minusInfinity, maskOptions).triu(pos + 1) : null;
    }

    /**
     * A pass over a tree of draft tokens (see {@link dev.cllm.api.DraftTree}): node i sits at position
     * {@code pos + depth[i]} and is written to cache slot {@code pos + i}; it sees the cached positions {@code [0, pos)}
     * and the nodes {@code ancestors[i]} marks (its ancestors and itself).
     *
     * @param ids       int64 {@code [1, S]}
     * @param depths    per node, its distance from the root
     * @param ancestors {@code S x S}, row-major: {@code ancestors[i * S + j]} = node j is node i or an ancestor of it
     * @return logits {@code [1, S, V]}
     */
    Tensor forwardTree(Tensor ids, KvCache cache, int pos, long[] depths, boolean[] ancestors) {
        int s = depths.length;
        long[] positions = new long[s];
        for (int i = 0; i < s; i++) {
            positions[i] = pos + depths[i];
        }
        Tensor index = Tensors.longs(positions, s).to(device, ScalarType.Long);
        Tensor cos = ropeCos.index_select(0, index).unsqueeze(1);     // [S, 1, hd]
        Tensor sin = ropeSin.index_select(0, index).unsqueeze(1);     // [S, 1, hd]
        return transformer(ids, cache, pos, cos, sin, treeMask(pos, s, ancestors), false, false);
    }

    /**
     * The mask of a tree of {@code s} nodes at {@code pos}: every node sees the committed positions and its ancestors
     * (additive, as {@link #chainMask}).
     */
    private Tensor treeMask(int pos, int s, boolean[] ancestors) {
        int width = pos + s;
        float[] mask = new float[s * width];                    // 0: seen (the committed positions and the ancestors)
        for (int i = 0; i < s; i++) {
            for (int j = 0; j < s; j++) {
                mask[i * width + pos + j] = ancestors[i * s + j] ? 0f : Float.NEGATIVE_INFINITY;
            }
        }
        return Tensors.floats(mask, s, width).to(device, dtype);                                 // [S, pos + S]
    }

    /**
     * One sequence of a {@link #forwardPacked packed pass}: its KV cache, the position its new tokens start at, and
     * either a block ({@code depths == null}: token t at {@code pos + t}, causal) or a tree ({@code depths} and the
     * row-major {@code ancestors} of {@link #forwardTree}).
     *
     * @param lastOnly project only the segment's last token to the vocabulary (a prefill)
     */
    record Segment(KvCache cache, int pos, int length, long[] depths, boolean[] ancestors, boolean lastOnly) {
        static Segment block(KvCache cache, int pos, int length, boolean lastOnly) {
            return new Segment(cache, pos, length, null, null, lastOnly);
        }

        static Segment tree(KvCache cache, int pos, long[] depths, boolean[] ancestors) {
            return new Segment(cache, pos, depths.length, depths, ancestors, false);
        }

        /** Rows of logits this segment gets: its length, or 1 for a prefill. */
        int rows() {
            return lastOnly ? 1 : length;
        }
    }

    /**
     * A forward pass over several sequences at once, each with its own KV cache (continuous batching): their new
     * tokens are packed into one {@code [1, T_total]} row, so every weight projection and the MLP read the weights once
     * for all of them, while attention runs per sequence against its own cache with its own mask (no padding, nothing
     * seen across sequences). Each segment is computed as {@link #forward} or {@link #forwardTree} would compute it
     * alone, with the same operations, except that the projections multiply more rows at once.
     *
     * @param ids      int64 {@code [1, T_total]}: the segments' tokens, in order
     * @param segments the sequences; their caches must be distinct
     * @return logits {@code [1, R, V]}: each segment's rows ({@link Segment#rows()}) in order
     */
    Tensor forwardPacked(Tensor ids, List<Segment> segments) {
        long total = ids.size(1);
        long[] positions = new long[(int) total];
        Tensor[] masks = new Tensor[segments.size()];
        long[] keep = new long[segments.stream().mapToInt(Segment::rows).sum()];
        int offset = 0;
        int kept = 0;
        for (int i = 0; i < segments.size(); i++) {
            Segment g = segments.get(i);
            for (int t = 0; t < g.length(); t++) {
                positions[offset + t] = g.pos() + (g.depths() == null ? t : g.depths()[t]);
            }
            masks[i] = g.depths() == null ? chainMask(g.length(), g.pos()) : treeMask(g.pos(), g.length(), g.ancestors());
            for (int r = g.rows(); r > 0; r--) {
                keep[kept++] = offset + g.length() - r;
            }
            offset += g.length();
        }
        if (offset != total) {
            throw new IllegalArgumentException("segments hold " + offset + " tokens, ids " + total);
        }
        Tensor index = Tensors.longs(positions, total).to(device, ScalarType.Long);
        Tensor cos = ropeCos.index_select(0, index).unsqueeze(1);                   // [T, 1, hd]
        Tensor sin = ropeSin.index_select(0, index).unsqueeze(1);                   // [T, 1, hd]
        Tensor x = embedding(w.embed, ids);                                          // [1, T, D]
        for (int l = 0; l < w.layers.length; l++) {
            Layer layer = w.layers[l];
            Tensor h = packedAttention(l, rmsNorm(x, layer.attnNorm()), total, cos, sin, segments, masks);
            x = x.add(h);                                                            // [1, T, D]
            x = x.add(mlp(layer, rmsNorm(x, layer.mlpNorm())));                      // [1, T, D]
        }
        if (kept < total) {
            x = x.index_select(1, Tensors.longs(keep, kept).to(device, ScalarType.Long)); // [1, R, D]
        }
        return project(rmsNorm(x, w.norm), w.lmHead);                                // [1, R, V]
    }

    /** {@link #attention} over packed segments: one qkv and one output projection, attention per segment. */
    private Tensor packedAttention(int l, Tensor x, long total, Tensor cos, Tensor sin, List<Segment> segments,
                                   Tensor[] masks) {
        Layer layer = w.layers[l];
        int h = config.numHeads();
        int kvh = config.numKvHeads();
        Tensor qkv = project(x, layer.wqkv()).view(1, total, h + 2L * kvh, config.headDim()); // [1, T, H+2Hkv, hd]
        Tensor qk = rope(qkv.narrow(2, 0, h + kvh), cos, sin);                      // [1, T, H+Hkv, hd]
        TensorVector parts = new TensorVector();
        long offset = 0;
        for (int i = 0; i < segments.size(); i++) {
            Segment g = segments.get(i);
            long t = g.length();
            parts.push_back(attend(l, qkv.narrow(1, offset, t), qk.narrow(1, offset, t), 1, t, g.cache(), g.pos(),
                    masks[i], g.depths() == null && t > 1 && g.pos() == 0));         // [1, t, H*hd]
            offset += t;
        }
        return project(cat(parts, 1), layer.wo());                                  // [1, T, D]
    }

    /**
     * Embedding, the blocks (each: x + attention(norm(x)), then x + mlp(norm(x))), the final norm and the output
     * projection. {@code cos}, {@code sin} are the rotary tables at the tokens' positions; the attention mask is
     * {@code mask} when given, else causal when {@code causal}, else none (one token sees everything cached).
     */
    private Tensor transformer(Tensor ids, KvCache cache, int pos, Tensor cos, Tensor sin, Tensor mask,
                               boolean causal, boolean lastOnly) {
        long batch = ids.size(0);
        long t = ids.size(1);
        Tensor x = embedding(w.embed, ids);                                          // [B, T, D]
        for (int l = 0; l < w.layers.length; l++) {
            Layer layer = w.layers[l];
            Tensor h = attention(l, rmsNorm(x, layer.attnNorm()), batch, t, cos, sin, cache, pos, mask, causal);
            x = x.add(h);                                                            // [B, T, D]
            x = x.add(mlp(layer, rmsNorm(x, layer.mlpNorm())));                      // [B, T, D]
        }
        if (lastOnly && t > 1) {
            x = x.narrow(1, t - 1, 1);                                               // [B, 1, D]
        }
        return project(rmsNorm(x, w.norm), w.lmHead);                                // [B, T, V]
    }

    /** Grouped-query attention over the normed input {@code x}, writing this block's keys and values to the cache. */
    private Tensor attention(int l, Tensor x, long batch, long t, Tensor cos, Tensor sin, KvCache cache, int pos,
                             Tensor mask, boolean causal) {
        Layer layer = w.layers[l];
        int h = config.numHeads();
        int kvh = config.numKvHeads();
        int hd = config.headDim();
        Tensor qkv = project(x, layer.wqkv()).view(batch, t, h + 2L * kvh, hd);       // [B, T, H+2Hkv, hd]
        Tensor qk = rope(qkv.narrow(2, 0, h + kvh), cos, sin);                       // [B, T, H+Hkv, hd]
        return project(attend(l, qkv, qk, batch, t, cache, pos, mask, causal), layer.wo()); // [B, T, D]
    }

    /**
     * The attention of one sequence (or a batch without cache) after the projection: q, k from the rotated
     * {@code qk}, v from {@code qkv}, this block's keys and values written to the cache, then scaled dot-product
     * attention. Returns the heads merged, {@code [B, T, H*hd]}.
     */
    private Tensor attend(int l, Tensor qkv, Tensor qk, long batch, long t, KvCache cache, int pos, Tensor mask,
                          boolean causal) {
        int h = config.numHeads();
        int kvh = config.numKvHeads();
        int hd = config.headDim();
        Tensor q = qk.narrow(2, 0, h).transpose(1, 2);                               // [B, H, T, hd]
        Tensor k = qk.narrow(2, h, kvh).transpose(1, 2);                             // [B, Hkv, T, hd]
        Tensor v = qkv.narrow(2, h + kvh, kvh).transpose(1, 2);                      // [B, Hkv, T, hd]
        if (cache != null) {
            cache.k[l].narrow(2, pos, t).copy_(k);
            cache.v[l].narrow(2, pos, t).copy_(v);
            k = cache.k[l].narrow(2, 0, pos + t);                                    // [1, Hkv, pos+T, hd]
            v = cache.v[l].narrow(2, 0, pos + t);                                    // [1, Hkv, pos+T, hd]
        }
        Tensor o = scaled_dot_product_attention(q, k, v,
                mask == null ? new TensorOptional() : new TensorOptional(mask), 0.0, causal,
                new DoubleOptional(), h != kvh);                                     // [B, H, T, hd]
        return o.transpose(1, 2).reshape(batch, t, (long) h * hd);                   // [B, T, H*hd]
    }

    /** SwiGLU over the normed input {@code x}: w2(silu(gate) * up), gate and up from the fused {@code w13}. */
    private Tensor mlp(Layer layer, Tensor x) {
        long ffn = config.intermediateSize();
        Tensor gateUp = project(x, layer.w13());                                     // [B, T, 2F]
        Tensor act = silu(gateUp.narrow(-1, 0, ffn)).mul(gateUp.narrow(-1, ffn, ffn)); // [B, T, F]
        return project(act, layer.w2());                                             // [B, T, D]
    }

    /** x·cos + rotate_half(x)·sin, with rotate_half(x) = [-x2, x1] = roll(x, half) · [-1.., +1..] folded into sin. */
    private static Tensor rope(Tensor x, Tensor cos, Tensor signedSin) {
        long half = x.size(-1) / 2;
        return x.mul(cos).add(x.roll(new long[]{half}, -1).mul(signedSin));
    }

    private Tensor rmsNorm(Tensor x, Tensor weight) {
        return rms_norm(x, normShape, new TensorOptional(weight), eps);
    }

    /**
     * {@code x · wᵀ + b} in the kernel fixed at load: FBGEMM's int8 or fp16 GEMM when the projection carries a packed
     * copy; else OpenBLAS, where one fp32 row on CPU goes through {@code mv} (its GEMM with a single row is several times
     * slower than its GEMV).
     */
    private Tensor project(Tensor x, Projection p) {
        if (p.int8() != null) {
            Tensor y = p.int8().apply(x);
            return p.b() == null ? y : y.add_(p.b());
        }
        if (p.packed() != null) {
            return fbgemm_linear_fp16_weight_fp32_activation(x, p.packed(),
                    p.b() == null ? new TensorOptional() : new TensorOptional(p.b()));
        }
        long in = p.w().size(1);
        if (gemvFastPath && x.numel() == in) {
            long[] shape = x.shape();
            shape[shape.length - 1] = p.w().size(0);
            Tensor y = mv(p.w(), x.reshape(in));
            return (p.b() == null ? y : y.add(p.b())).view(shape);
        }
        return p.b() == null ? linear(x, p.w()) : linear(x, p.w(), new TensorOptional(p.b()));
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public LlamaConfig config() {
        return config;
    }

    /**
     * The kernel the weight projections run in, fixed at load: {@link CpuGemm#FBGEMM_FP16} (packed fp16 weights),
     * {@link CpuGemm#FBGEMM_FP16_ONLY} (the same without fp32 matrices), {@link CpuGemm#FBGEMM_INT8} (packed int8
     * weights) or {@link CpuGemm#BLAS}.
     */
    public CpuGemm gemm() {
        return w.gemm;
    }

    /**
     * Bytes of memory the weights take as loaded: every tensor the model holds (a tied matrix once), fp16 packed
     * copies at 2 bytes and int8 ones at 1 byte per weight (FBGEMM's small per-matrix overheads aside); the RoPE tables
     * and caches not included.
     */
    public long weightBytes() {
        checkOpen();
        return w.bytes();
    }

    /** The device the weights live on (borrowed). */
    Device device() {
        return device;
    }

    ScalarType dtype() {
        return dtype;
    }

    /** {@code cpu}, {@code cuda:0}, ... */
    public String deviceName() {
        return deviceName;
    }

    /** {@code f32}, {@code bf16} or {@code f16}. */
    public String dtypeName() {
        return switch (dtype.intern()) {
            case BFloat16 -> "bf16";
            case Half -> "f16";
            default -> "f32";
        };
    }

    /** A new KV cache on this model's device (the caller closes it). */
    KvCache newCache(int capacity) {
        acquire();
        try {
            return new KvCache(config, capacity, Tensors.options(dtype, device));
        } finally {
            release();
        }
    }

    /**
     * The weights in the fused layout, in a fixed order, under short names: {@code embed}, per layer
     * {@code layers.L.attn_norm}, {@code .wqkv} (q, k and v rows stacked), {@code .bqkv}, {@code .wo}, {@code .bo},
     * {@code .mlp_norm}, {@code .w13} (gate then up rows), {@code .b13}, {@code .w2}, {@code .b2} (biases only when
     * the architecture has them), {@code norm}, and {@code lm_head} unless tied to {@code embed}. Borrowed: the model
     * owns them. Training updates them in place (with {@link CpuGemm#BLAS}: the packed copies of
     * {@link CpuGemm#FBGEMM_FP16} would not follow); export and quantisation read them.
     *
     * @throws IllegalStateException if the model was loaded with {@link CpuGemm#FBGEMM_INT8} or
     *                               {@link CpuGemm#FBGEMM_FP16_ONLY}, which keep no fp32 weight matrices
     */
    public Map<String, Tensor> weights() {
        checkOpen();
        return w.named();
    }

    /** Number of weights (tied matrices once). */
    public long parameterCount() {
        return config.parameterCount();
    }

    // ------------------------------------------------------------------------------------------------ lifecycle

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model is closed");
        }
    }

    boolean isClosed() {
        return closed;
    }

    /**
     * Takes the model for one forward pass: the weights stay allocated until {@link #release()}.
     *
     * @throws IllegalStateException if the model is closed
     */
    void acquire() {
        lifecycle.readLock().lock();
        if (closed) {
            lifecycle.readLock().unlock();
            throw new IllegalStateException("model is closed");
        }
    }

    void release() {
        lifecycle.readLock().unlock();
    }

    /** Frees the weights, after any forward pass in flight on another thread has finished. Idempotent. */
    @Override
    public void close() {
        lifecycle.writeLock().lock();
        try {
            if (!closed) {
                closed = true;
                w.close();
                Tensors.release(ropeCos);
                Tensors.release(ropeSin);
                Tensors.release(eps);
                Tensors.release(maskOptions);
                Tensors.release(minusInfinity);
                Tensors.release(zero);
                Tensors.release(device);
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }
}
