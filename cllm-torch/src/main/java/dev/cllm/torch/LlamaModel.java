package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.DoubleOptional;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptional;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantReadWriteLock;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.embedding;
import static org.bytedeco.pytorch.global.torch.fbgemm_linear_fp16_weight_fp32_activation;
import static org.bytedeco.pytorch.global.torch.fbgemm_pack_gemm_matrix_fp16;
import static org.bytedeco.pytorch.global.torch.linear;
import static org.bytedeco.pytorch.global.torch.mv;
import static org.bytedeco.pytorch.global.torch.ones;
import static org.bytedeco.pytorch.global.torch.rms_norm;
import static org.bytedeco.pytorch.global.torch.scaled_dot_product_attention;
import static org.bytedeco.pytorch.global.torch.silu;

/**
 * A LLaMA-family decoder on libtorch: RMSNorm, rotary embeddings (Hugging Face rotate-half convention), grouped-query
 * attention, SwiGLU MLP, tied or untied output projection, optional biases.
 *
 * <p>Owns its weights; {@link #close()} frees them. The weight layout is fixed once at load time: q, k and v
 * projections are fused into one matrix {@code wqkv}, the gate and up projections into {@code w13}; Hugging Face
 * names appear only in {@link HfNames}. Forward passes are thread-safe (weights are only read).
 */
public final class LlamaModel implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LlamaModel.class);

    private final LlamaConfig config;
    private final Device device;
    private final ScalarType dtype;
    private final Tensor embed;    // [V, D]
    private final Layer[] layers;
    private final Tensor norm;     // [D]
    private final Tensor lmHead;   // [V, D]; the same tensor as embed when tied
    private final Tensor ropeCos;  // [maxPos, hd]
    private final Tensor ropeSin;  // [maxPos, hd], first half negated: rotate_half folded into the table
    private final long[] normShape;
    private final DoubleOptional eps;
    private final TensorOptions boolOptions;
    private final boolean gemvFastPath;
    /** Projection weight -> its FBGEMM fp16 packing ({@link CpuGemm#FBGEMM_FP16}); empty when BLAS runs them. */
    private final Map<Tensor, Tensor> packedFp16 = new IdentityHashMap<>();
    /** Forward passes hold the read lock; {@link #close()} takes the write lock, so weights are never freed mid-pass. */
    private final ReentrantReadWriteLock lifecycle = new ReentrantReadWriteLock();
    private volatile boolean closed;

    /** One transformer block's weights (fused layout). Biases are null when absent. */
    record Layer(Tensor attnNorm, Tensor wqkv, Tensor bqkv, Tensor wo, Tensor bo,
                 Tensor mlpNorm, Tensor w13, Tensor b13, Tensor w2, Tensor b2) {
        List<Tensor> tensors() {
            List<Tensor> out = new ArrayList<>(Arrays.asList(attnNorm, wqkv, bqkv, wo, bo, mlpNorm, w13, b13, w2, b2));
            out.removeIf(t -> t == null);
            return out;
        }
    }

    private LlamaModel(LlamaConfig config, Device device, ScalarType dtype, Tensor embed, Layer[] layers, Tensor norm,
                       Tensor lmHead, boolean packFp16) {
        this.config = config;
        this.device = Tensors.own(device);
        this.dtype = dtype;
        this.embed = embed;
        this.layers = layers;
        this.norm = norm;
        this.lmHead = lmHead;
        this.normShape = new long[]{config.hiddenSize()};
        this.eps = Tensors.own(new DoubleOptional(config.rmsNormEps()));
        this.boolOptions = Tensors.own(Tensors.options(ScalarType.Bool, device));
        this.gemvFastPath = !device.is_cuda() && dtype == ScalarType.Float;
        Rope rope = new Rope(config);
        TensorOptions tableOptions = Tensors.options(dtype, device);
        try (PointerScope scope = new PointerScope()) {
            this.ropeCos = Tensors.own(rope.cosTable(tableOptions));
            this.ropeSin = Tensors.own(rope.signedSinTable(tableOptions));
        }
        if (packFp16) {
            packFp16Weights();
        }
    }

    /** Packs every projection weight for FBGEMM's fp16 GEMM; on failure (a CPU FBGEMM does not support) stays BLAS. */
    private void packFp16Weights() {
        List<Tensor> projections = new ArrayList<>();
        for (Layer l : layers) {
            projections.addAll(List.of(l.wqkv(), l.wo(), l.w13(), l.w2()));
        }
        projections.add(lmHead);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (Tensor w : projections) {
                packedFp16.put(w, Tensors.own(fbgemm_pack_gemm_matrix_fp16(w.contiguous())));
            }
        } catch (RuntimeException e) {
            packedFp16.values().forEach(Tensors::release);
            packedFp16.clear();
            LOG.warn("FBGEMM fp16 GEMM unavailable ({}); projections run in OpenBLAS", e.getMessage());
        }
    }

    /** The kernel the projections of decoding passes run in: {@link CpuGemm#FBGEMM_FP16} or {@link CpuGemm#BLAS}. */
    public CpuGemm gemm() {
        return packedFp16.isEmpty() ? CpuGemm.BLAS : CpuGemm.FBGEMM_FP16;
    }

    /**
     * Loads the weights of a Hugging Face checkpoint directory ({@code model.safetensors} or a sharded index).
     *
     * @throws CheckpointException naming the file and tensor when a tensor is missing, mis-shaped or not floating
     *                             point
     */
    public static LlamaModel load(Path dir, LlamaConfig config, TorchOptions options) {
        try (SafetensorsCheckpoint weights = SafetensorsCheckpoint.open(dir)) {
            return fromWeights(config, new WeightSource() {
                @Override
                public Set<String> names() {
                    return weights.names();
                }

                @Override
                public long[] shape(String name) {
                    return weights.info(name).shape().stream().mapToLong(Long::longValue).toArray();
                }

                @Override
                public boolean isFloating(String name) {
                    return switch (weights.info(name).dtype()) {
                        case F16, BF16, F32, F64 -> true;
                        default -> false;
                    };
                }

                @Override
                public String dtypeName(String name) {
                    return weights.info(name).dtype().name();
                }

                @Override
                public Tensor read(String name) {
                    return weights.read(name);
                }

                @Override
                public String locate(String name) {
                    return weights.fileOf(name).toString();
                }
            }, options);
        }
    }

    /**
     * Builds a model from tensors under their Hugging Face names (CPU or device, any floating dtype); the tensors are
     * copied, the map stays the caller's.
     */
    public static LlamaModel fromHfWeights(LlamaConfig config, Map<String, Tensor> weights, TorchOptions options) {
        return fromWeights(config, new WeightSource() {
            @Override
            public Set<String> names() {
                return weights.keySet();
            }

            @Override
            public long[] shape(String name) {
                return weights.get(name).shape();
            }

            @Override
            public boolean isFloating(String name) {
                return FLOATING.contains(weights.get(name).scalar_type().intern());
            }

            @Override
            public String dtypeName(String name) {
                return String.valueOf(weights.get(name).scalar_type().intern());
            }

            @Override
            public Tensor read(String name) {
                return weights.get(name);
            }

            @Override
            public String locate(String name) {
                return "in-memory weights";
            }
        }, options);
    }

    /**
     * A model with random weights ({@link RandomCheckpoint#hfWeights}: the same weights on every machine for a seed).
     */
    public static LlamaModel random(LlamaConfig config, long seed, TorchOptions options) {
        try (PointerScope scope = new PointerScope()) {
            return fromHfWeights(config, RandomCheckpoint.hfWeights(config, seed), options);
        }
    }

    /** Where weights come from: a checkpoint or a map. */
    interface WeightSource {
        Set<String> names();

        long[] shape(String name);

        /** Whether the stored tensor is floating point (F32, F16, BF16, F64). */
        boolean isFloating(String name);

        /** What the stored dtype is called, for messages. */
        String dtypeName(String name);

        Tensor read(String name);

        /** Where tensor {@code name} lives, for messages: its file, or the source as a whole. */
        String locate(String name);
    }

    private static LlamaModel fromWeights(LlamaConfig config, WeightSource source, TorchOptions options) {
        TorchRuntime.ensureLoaded();
        Device device = options.resolveDevice();
        ScalarType dtype = options.dtype().scalarType(device.is_cuda());
        if (!device.is_cuda()) {
            TorchRuntime.useDefaultsFor(dtype);
        }
        Map<String, long[]> expected = HfNames.expectedShapes(config);
        for (Map.Entry<String, long[]> e : expected.entrySet()) {
            String name = e.getKey();
            if (!source.names().contains(name)) {
                throw new CheckpointException(source.locate(name) + ": missing tensor '" + name + "' (expected "
                        + "shape " + Arrays.toString(e.getValue()) + " for " + config + ")");
            }
            long[] shape = source.shape(name);
            if (!Arrays.equals(shape, e.getValue())) {
                throw new CheckpointException(source.locate(name) + ": tensor '" + name + "' has shape "
                        + Arrays.toString(shape) + ", expected " + Arrays.toString(e.getValue())
                        + " from config.json");
            }
            if (!source.isFloating(name)) {
                throw new CheckpointException(source.locate(name) + ": tensor '" + name + "' has dtype "
                        + source.dtypeName(name) + "; expected F32, F16 or BF16");
            }
        }
        Set<String> unexpected = new TreeSet<>(source.names());
        unexpected.removeAll(expected.keySet());
        unexpected.removeIf(HfNames::isIgnorable);
        if (!unexpected.isEmpty()) {
            LOG.warn("ignoring {} tensor(s) the architecture does not use: {}", unexpected.size(), unexpected);
        }

        TensorOptions target = Tensors.options(dtype, device);
        Loader loader = new Loader(source, target);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor embed = loader.one(HfNames.EMBED);
            Layer[] layers = new Layer[config.numLayers()];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = new Layer(
                        loader.one(HfNames.layer(l, HfNames.ATTN_NORM)),
                        loader.fused(l, HfNames.Q, HfNames.K, HfNames.V, HfNames.WEIGHT),
                        config.qkvBias() ? loader.fused(l, HfNames.Q, HfNames.K, HfNames.V, HfNames.BIAS) : null,
                        loader.one(HfNames.layer(l, HfNames.O + HfNames.WEIGHT)),
                        config.outputBias() ? loader.one(HfNames.layer(l, HfNames.O + HfNames.BIAS)) : null,
                        loader.one(HfNames.layer(l, HfNames.MLP_NORM)),
                        loader.fused(l, HfNames.GATE, HfNames.UP, null, HfNames.WEIGHT),
                        config.mlpBias() ? loader.fused(l, HfNames.GATE, HfNames.UP, null, HfNames.BIAS) : null,
                        loader.one(HfNames.layer(l, HfNames.DOWN + HfNames.WEIGHT)),
                        config.mlpBias() ? loader.one(HfNames.layer(l, HfNames.DOWN + HfNames.BIAS)) : null);
            }
            Tensor norm = loader.one(HfNames.FINAL_NORM);
            Tensor lmHead = config.tieWordEmbeddings() ? embed : loader.one(HfNames.LM_HEAD);
            boolean packFp16 = !device.is_cuda() && dtype == ScalarType.Float
                    && (options.gemm() == CpuGemm.FBGEMM_FP16
                    || options.gemm() == CpuGemm.AUTO && halfPrecisionProjections(config, source));
            return new LlamaModel(config, device, dtype, embed, layers, norm, lmHead, packFp16);
        } catch (RuntimeException e) {
            loader.releaseAll(); // a load that fails part-way frees what it already read
            throw e;
        }
    }

    /** Whether every weight matrix (norms aside) is stored as bf16 or fp16, so an fp16 copy loses nothing that matters. */
    private static boolean halfPrecisionProjections(LlamaConfig config, WeightSource source) {
        for (String name : HfNames.expectedShapes(config).keySet()) {
            if (!HfNames.isNorm(name) && !HfNames.isBias(name)
                    && !Set.of("BF16", "F16", "BFloat16", "Half").contains(source.dtypeName(name))) {
                return false;
            }
        }
        return true;
    }

    private static final Set<ScalarType> FLOATING = Set.of(ScalarType.Float, ScalarType.Half, ScalarType.BFloat16,
            ScalarType.Double);

    /** Reads checked tensors, converts them to the compute dtype and device, and takes ownership. */
    private static final class Loader {
        private final WeightSource source;
        private final TensorOptions target;
        private final List<Tensor> owned = new ArrayList<>();

        Loader(WeightSource source, TensorOptions target) {
            this.source = source;
            this.target = target;
        }

        Tensor one(String name) {
            return keep(convert(read(name)));
        }

        private Tensor keep(Tensor t) {
            owned.add(Tensors.own(t));
            return t;
        }

        void releaseAll() {
            owned.forEach(Tensors::release);
            owned.clear();
        }

        /** Concatenates {@code layers.l.<a|b|c><suffix>} along dim 0 (c may be null). */
        Tensor fused(int l, String a, String b, String c, String suffix) {
            TensorVector parts = c == null
                    ? new TensorVector(read(HfNames.layer(l, a + suffix)), read(HfNames.layer(l, b + suffix)))
                    : new TensorVector(read(HfNames.layer(l, a + suffix)), read(HfNames.layer(l, b + suffix)),
                    read(HfNames.layer(l, c + suffix)));
            return keep(convert(cat(parts, 0)));
        }

        private Tensor read(String name) {
            return source.read(name);
        }

        private Tensor convert(Tensor t) {
            // always a fresh tensor (copy=true), never a view of the caller's weights
            return t.to(target, false, true, null).contiguous();
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
     * @param mask      bool {@code [T, T]}, true where token t may attend to token u (shared by the rows)
     * @return logits {@code [B, T, V]}, attached to the caller's {@code PointerScope}
     */
    public Tensor logits(Tensor ids, Tensor positions, Tensor mask) {
        checkOpen();
        Tensor cos = ropeCos.index_select(0, positions).unsqueeze(1);   // [T, 1, hd]
        Tensor sin = ropeSin.index_select(0, positions).unsqueeze(1);   // [T, 1, hd]
        return run(ids, null, 0, cos, sin, mask, false, false);
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
        // T new queries over pos + T keys: query i may see keys 0..pos+i. is_causal aligns top-left, which is only
        // right when pos == 0, so other cases need the explicit mask.
        Tensor mask = t > 1 && pos > 0 ? ones(new long[]{t, pos + t}, boolOptions).tril(pos) : null; // [T, pos+T]
        return run(ids, cache, pos, cos, sin, mask, t > 1 && pos == 0, lastOnly);
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
        int width = pos + s;
        byte[] bits = new byte[s * width];                            // every node sees the committed positions
        for (int i = 0; i < s; i++) {
            java.util.Arrays.fill(bits, i * width, i * width + pos, (byte) 1);
            for (int j = 0; j < s; j++) {
                bits[i * width + pos + j] = (byte) (ancestors[i * s + j] ? 1 : 0);
            }
        }
        Tensor mask = Tensors.bytes(bits, s, width).to(device, ScalarType.Bool);   // [S, pos + S]
        return run(ids, cache, pos, cos, sin, mask, false, false);
    }

    private Tensor run(Tensor ids, KvCache cache, int pos, Tensor cos, Tensor sin, Tensor mask, boolean causal,
                       boolean lastOnly) {
        long batch = ids.size(0);
        long t = ids.size(1);
        Tensor x = embedding(embed, ids);                              // [B, T, D]
        for (int l = 0; l < layers.length; l++) {
            x = attention(l, x, batch, t, cos, sin, cache, pos, mask, causal);
            x = mlp(layers[l], x);
        }
        if (lastOnly && t > 1) {
            x = x.narrow(1, t - 1, 1);                                 // [B, 1, D]
        }
        return project(rmsNorm(x, norm), lmHead, null);                // [B, T, V]
    }

    private Tensor attention(int l, Tensor x, long batch, long t, Tensor cos, Tensor sin, KvCache cache, int pos,
                             Tensor mask, boolean causal) {
        Layer w = layers[l];
        int h = config.numHeads();
        int kvh = config.numKvHeads();
        int hd = config.headDim();
        Tensor hidden = rmsNorm(x, w.attnNorm);                                      // [B, T, D]
        Tensor qkv = project(hidden, w.wqkv, w.bqkv).view(batch, t, h + 2L * kvh, hd); // [B, T, H+2Hkv, hd]
        Tensor qk = rope(qkv.narrow(2, 0, h + kvh), cos, sin);                       // [B, T, H+Hkv, hd]
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
        Tensor merged = o.transpose(1, 2).reshape(batch, t, (long) h * hd);          // [B, T, H*hd]
        return x.add(project(merged, w.wo, w.bo));                                   // [B, T, D]
    }

    private Tensor mlp(Layer w, Tensor x) {
        long ffn = config.intermediateSize();
        Tensor hidden = rmsNorm(x, w.mlpNorm);                                       // [B, T, D]
        Tensor gateUp = project(hidden, w.w13, w.b13);                               // [B, T, 2F]
        Tensor act = silu(gateUp.narrow(-1, 0, ffn)).mul(gateUp.narrow(-1, ffn, ffn)); // [B, T, F]
        return x.add(project(act, w.w2, w.b2));                                      // [B, T, D]
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
     * {@code x · wᵀ + b}. One fp32 row on CPU goes through {@code mv}: OpenBLAS's GEMM with a single row is several
     * times slower than its GEMV.
     */
    private Tensor project(Tensor x, Tensor w, Tensor b) {
        Tensor packed = packedFp16.isEmpty() ? null : packedFp16.get(w);
        if (packed != null && !w.requires_grad()) {
            return fbgemm_linear_fp16_weight_fp32_activation(x, packed,
                    b == null ? new TensorOptional() : new TensorOptional(b));
        }
        long in = w.size(1);
        if (gemvFastPath && x.numel() == in) {
            long[] shape = x.shape();
            shape[shape.length - 1] = w.size(0);
            Tensor y = mv(w, x.reshape(in));
            return (b == null ? y : y.add(b)).view(shape);
        }
        return b == null ? linear(x, w) : linear(x, w, new TensorOptional(b));
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public LlamaConfig config() {
        return config;
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
        return device.str().getString();
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
        checkOpen();
        return new KvCache(config, capacity, Tensors.options(dtype, device));
    }

    /**
     * The weights in the fused layout, in a fixed order, under short names: {@code embed}, per layer
     * {@code layers.L.attn_norm}, {@code .wqkv} (q, k and v rows stacked), {@code .bqkv}, {@code .wo}, {@code .bo},
     * {@code .mlp_norm}, {@code .w13} (gate then up rows), {@code .b13}, {@code .w2}, {@code .b2} (biases only when
     * the architecture has them), {@code norm}, and {@code lm_head} unless tied to {@code embed}. Borrowed: the model
     * owns them. Training updates them in place; export and quantisation read them.
     */
    public Map<String, Tensor> weights() {
        checkOpen();
        Map<String, Tensor> out = new LinkedHashMap<>();
        out.put("embed", embed);
        for (int l = 0; l < layers.length; l++) {
            Layer w = layers[l];
            String p = "layers." + l + ".";
            out.put(p + "attn_norm", w.attnNorm);
            out.put(p + "wqkv", w.wqkv);
            putIfPresent(out, p + "bqkv", w.bqkv);
            out.put(p + "wo", w.wo);
            putIfPresent(out, p + "bo", w.bo);
            out.put(p + "mlp_norm", w.mlpNorm);
            out.put(p + "w13", w.w13);
            putIfPresent(out, p + "b13", w.b13);
            out.put(p + "w2", w.w2);
            putIfPresent(out, p + "b2", w.b2);
        }
        out.put("norm", norm);
        if (lmHead != embed) {
            out.put("lm_head", lmHead);
        }
        return out;
    }

    private static void putIfPresent(Map<String, Tensor> out, String name, Tensor t) {
        if (t != null) {
            out.put(name, t);
        }
    }

    /** Number of weights (tied matrices once). */
    public long parameterCount() {
        return config.parameterCount();
    }

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
                freeWeights();
            }
        } finally {
            lifecycle.writeLock().unlock();
        }
    }

    private void freeWeights() {
        Map<Tensor, Boolean> distinct = new IdentityHashMap<>();
        distinct.put(embed, true);
        distinct.put(norm, true);
        distinct.put(lmHead, true);
        distinct.put(ropeCos, true);
        distinct.put(ropeSin, true);
        for (Layer layer : layers) {
            for (Tensor t : layer.tensors()) {
                distinct.put(t, true);
            }
        }
        distinct.keySet().forEach(Tensors::release);
        packedFp16.values().forEach(Tensors::release);
        Tensors.release(eps);
        Tensors.release(boolOptions);
        Tensors.release(device);
    }
}
