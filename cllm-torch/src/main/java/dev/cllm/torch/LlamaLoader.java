package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaWeights.Layer;
import dev.cllm.torch.LlamaWeights.Projection;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.TensorVector;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.bytedeco.pytorch.global.torch.cat;
import static org.bytedeco.pytorch.global.torch.fbgemm_pack_gemm_matrix_fp16;

/**
 * Builds {@link LlamaWeights} from a checkpoint or a map of tensors under their Hugging Face names: checks every
 * expected tensor's presence, shape and dtype, converts to the compute dtype and device, fuses q/k/v and gate/up, and
 * packs the projections for FBGEMM's fp16 GEMM when that kernel is chosen. The layout surgery happens here, once.
 */
final class LlamaLoader {
    private static final Logger LOG = LoggerFactory.getLogger(LlamaLoader.class);
    private static final Set<ScalarType> FLOATING = Set.of(ScalarType.Float, ScalarType.Half, ScalarType.BFloat16,
            ScalarType.Double);

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

    private LlamaLoader() {
    }

    /** The tensors of an open checkpoint (read while loading; the caller closes the checkpoint). */
    static WeightSource checkpoint(SafetensorsCheckpoint weights) {
        return new WeightSource() {
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
        };
    }

    /** Tensors in memory (any device, any floating dtype); they are copied, the map stays the caller's. */
    static WeightSource map(Map<String, Tensor> weights) {
        return new WeightSource() {
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
        };
    }

    /**
     * Checks, reads, converts, fuses and (for {@link CpuGemm#FBGEMM_FP16}) packs the weights. A load that fails part-way
     * frees what it already read.
     *
     * @param gemm the caller's choice; see {@link CpuGemm}: packing happens only for fp32 compute on CPU
     * @throws CheckpointException naming the file and tensor when a tensor is missing, mis-shaped or not floating point
     */
    static LlamaWeights load(LlamaConfig config, WeightSource source, Device device, ScalarType dtype, CpuGemm gemm) {
        check(config, source);
        Reader reader = new Reader(source, Tensors.options(dtype, device));
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor embed = reader.one(HfNames.EMBED);                                     // [V, D]
            Layer[] layers = new Layer[config.numLayers()];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = new Layer(
                        reader.one(HfNames.layer(l, HfNames.ATTN_NORM)),
                        new Projection(reader.fused(l, HfNames.Q, HfNames.K, HfNames.V, HfNames.WEIGHT),
                                config.qkvBias() ? reader.fused(l, HfNames.Q, HfNames.K, HfNames.V, HfNames.BIAS)
                                        : null, null),
                        new Projection(reader.one(HfNames.layer(l, HfNames.O + HfNames.WEIGHT)),
                                config.outputBias() ? reader.one(HfNames.layer(l, HfNames.O + HfNames.BIAS)) : null,
                                null),
                        reader.one(HfNames.layer(l, HfNames.MLP_NORM)),
                        new Projection(reader.fused(l, HfNames.GATE, HfNames.UP, null, HfNames.WEIGHT),
                                config.mlpBias() ? reader.fused(l, HfNames.GATE, HfNames.UP, null, HfNames.BIAS)
                                        : null, null),
                        new Projection(reader.one(HfNames.layer(l, HfNames.DOWN + HfNames.WEIGHT)),
                                config.mlpBias() ? reader.one(HfNames.layer(l, HfNames.DOWN + HfNames.BIAS)) : null,
                                null));
            }
            Tensor norm = reader.one(HfNames.FINAL_NORM);
            Tensor lmHead = config.tieWordEmbeddings() ? embed : reader.one(HfNames.LM_HEAD);
            LlamaWeights weights = new LlamaWeights(embed, layers, norm, new Projection(lmHead, null, null),
                    CpuGemm.BLAS);
            boolean pack = !device.is_cuda() && dtype == ScalarType.Float
                    && (gemm == CpuGemm.FBGEMM_FP16 || gemm == CpuGemm.AUTO && halfPrecisionProjections(config, source));
            return pack ? packFp16(weights) : weights;
        } catch (RuntimeException e) {
            reader.releaseAll();
            throw e;
        }
    }

    /** Every expected tensor is present, shaped as config.json says and floating point; extra ones are logged. */
    private static void check(LlamaConfig config, WeightSource source) {
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

    /**
     * Adds FBGEMM's fp16 packing to every projection (a snapshot of the weights as they are now). On a CPU FBGEMM does
     * not support, packs nothing and the projections stay in OpenBLAS.
     */
    private static LlamaWeights packFp16(LlamaWeights w) {
        TorchRuntime.raiseFbgemmNotices();
        List<Tensor> packed = new ArrayList<>();
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Layer[] layers = new Layer[w.layers.length];
            for (int l = 0; l < layers.length; l++) {
                Layer a = w.layers[l];
                layers[l] = new Layer(a.attnNorm(), pack(a.wqkv(), packed), pack(a.wo(), packed), a.mlpNorm(),
                        pack(a.w13(), packed), pack(a.w2(), packed));
            }
            return new LlamaWeights(w.embed, layers, w.norm, pack(w.lmHead, packed), CpuGemm.FBGEMM_FP16);
        } catch (RuntimeException e) {
            packed.forEach(Tensors::release);
            LOG.warn("FBGEMM fp16 GEMM unavailable ({}); projections run in OpenBLAS", e.getMessage());
            return w;
        }
    }

    private static Projection pack(Projection p, List<Tensor> packed) {
        Tensor fp16 = Tensors.own(fbgemm_pack_gemm_matrix_fp16(p.w().contiguous()));
        packed.add(fp16);
        return p.packedAs(fp16);
    }

    /** Reads checked tensors, converts them to the compute dtype and device, and takes ownership. */
    private static final class Reader {
        private final WeightSource source;
        private final TensorOptions target;
        private final List<Tensor> owned = new ArrayList<>();

        Reader(WeightSource source, TensorOptions target) {
            this.source = source;
            this.target = target;
        }

        Tensor one(String name) {
            return keep(convert(source.read(name)));
        }

        /** Concatenates {@code layers.l.<a|b|c><suffix>} along dim 0 (c may be null). */
        Tensor fused(int l, String a, String b, String c, String suffix) {
            TensorVector parts = c == null
                    ? new TensorVector(source.read(HfNames.layer(l, a + suffix)),
                    source.read(HfNames.layer(l, b + suffix)))
                    : new TensorVector(source.read(HfNames.layer(l, a + suffix)),
                    source.read(HfNames.layer(l, b + suffix)), source.read(HfNames.layer(l, c + suffix)));
            return keep(convert(cat(parts, 0)));
        }

        private Tensor keep(Tensor t) {
            owned.add(Tensors.own(t));
            return t;
        }

        void releaseAll() {
            owned.forEach(Tensors::release);
            owned.clear();
        }

        private Tensor convert(Tensor t) {
            // always a fresh tensor (copy=true), never a view of the caller's weights
            return t.to(target, false, true, null).contiguous();
        }
    }
}
