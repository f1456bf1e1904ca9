package dev.cllm.torch;

import dev.cllm.api.CheckpointException;
import dev.cllm.torch.LlamaWeights.Layer;
import dev.cllm.torch.LlamaWeights.Projection;
import org.bytedeco.javacpp.Pointer;
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

        /**
         * Whether {@link #read} returns a new tensor each time (not one the caller still holds), so the loader may free
         * it as soon as it has converted it.
         */
        boolean readsAreFresh();

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
            public boolean readsAreFresh() {
                return true;
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
            public boolean readsAreFresh() {
                return false;
            }

            @Override
            public String locate(String name) {
                return "in-memory weights";
            }
        };
    }

    /**
     * Checks, reads, converts, fuses and (for the FBGEMM kernels of {@link CpuGemm}) packs the
     * weights, one tensor at a time: a projection is packed as soon as it is read and its fp32 matrix freed, so a
     * packed model never holds an fp32 copy of all its weights, even while loading. A load that fails part-way frees
     * what it already read.
     *
     * @param gemm the caller's choice; see {@link CpuGemm}: packing happens only for fp32 compute on CPU
     * @throws CheckpointException naming the file and tensor when a tensor is missing, mis-shaped or not floating point
     */
    static LlamaWeights load(LlamaConfig config, WeightSource source, Device device, ScalarType dtype, CpuGemm gemm) {
        check(config, source);
        CpuGemm kernel = kernel(config, source, device, dtype, gemm);
        Reader reader = new Reader(source, Tensors.options(dtype, device), kernel);
        try (NoGradGuard noGrad = new NoGradGuard()) {
            Tensor embed = reader.one(HfNames.EMBED);                                     // [V, D]
            Layer[] layers = new Layer[config.numLayers()];
            for (int l = 0; l < layers.length; l++) {
                layers[l] = new Layer(
                        reader.one(HfNames.layer(l, HfNames.ATTN_NORM)),
                        reader.projection(l, HfNames.Q, HfNames.K, HfNames.V, config.qkvBias()),
                        reader.projection(l, HfNames.O, null, null, config.outputBias()),
                        reader.one(HfNames.layer(l, HfNames.MLP_NORM)),
                        reader.projection(l, HfNames.GATE, HfNames.UP, null, config.mlpBias()),
                        reader.projection(l, HfNames.DOWN, null, null, config.mlpBias()));
                trim();
            }
            Tensor norm = reader.one(HfNames.FINAL_NORM);
            Projection lmHead = config.tieWordEmbeddings() ? reader.packed(embed, null, false)
                    : reader.projection(HfNames.LM_HEAD);
            trim();
            return new LlamaWeights(embed, layers, norm, lmHead, kernel);
        } catch (RuntimeException e) {
            reader.releaseAll();
            throw e;
        }
    }

    /**
     * Hands the memory the C allocator keeps from freed intermediates back to the system ({@code malloc_trim}; a no-op
     * where there is none). Without it glibc keeps the freed read/convert buffers of a layer (allocations below its
     * adaptive mmap threshold land in its heap, between blocks that stay in use).
     */
    private static void trim() {
        Pointer.trimMemory();
    }

    /**
     * The kernel the projections will run in: {@link CpuGemm#BLAS} on CUDA, for compute other than fp32, and where
     * FBGEMM is unavailable; AUTO resolves to FBGEMM_FP16 for bf16/fp16 checkpoints.
     */
    private static CpuGemm kernel(LlamaConfig config, WeightSource source, Device device, ScalarType dtype,
                                  CpuGemm gemm) {
        if (device.is_cuda() || dtype != ScalarType.Float) {
            if (gemm == CpuGemm.FBGEMM_INT8) {
                throw new IllegalArgumentException("int8 weights (CpuGemm.FBGEMM_INT8) need fp32 compute on the CPU; "
                        + "this model would compute in " + dtype + " on " + device.str().getString()
                        + " (choose device cpu and dtype f32 or auto)");
            }
            return CpuGemm.BLAS;
        }
        CpuGemm chosen = gemm == CpuGemm.AUTO
                ? halfPrecisionProjections(config, source) ? CpuGemm.FBGEMM_FP16 : CpuGemm.BLAS
                : gemm;
        if (chosen == CpuGemm.FBGEMM_INT8 && !TorchRuntime.fbgemmAvailable(chosen)) {
            throw new IllegalStateException("int8 weights (CpuGemm.FBGEMM_INT8) need FBGEMM's quantized kernels, "
                    + "which this CPU or libtorch build does not run (FBGEMM needs an x86-64 CPU with AVX2)");
        }
        if (chosen != CpuGemm.BLAS && !TorchRuntime.fbgemmAvailable(chosen)) {
            LOG.warn("FBGEMM {} kernels unavailable on this CPU or build; projections run in OpenBLAS", chosen);
            return CpuGemm.BLAS;
        }
        return chosen;
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
     * Reads checked tensors, converts them to the compute dtype and device, packs projections for the chosen kernel,
     * and takes ownership. Each tensor is read, converted and packed inside its own {@code PointerScope}, so the raw
     * and fp32 intermediates of one tensor are freed before the next is read.
     */
    private static final class Reader {
        private final WeightSource source;
        private final TensorOptions target;
        private final CpuGemm kernel;
        private final List<Tensor> owned = new ArrayList<>();
        private final List<Int8Linear> ownedInt8 = new ArrayList<>();

        Reader(WeightSource source, TensorOptions target, CpuGemm kernel) {
            this.source = source;
            this.target = target;
            this.kernel = kernel;
        }

        Tensor one(String name) {
            try (PointerScope scope = new PointerScope()) {
                return keep(convertRead(name));
            }
        }

        /** The projection whose weight is tensor {@code name} (no bias), packed for the kernel. */
        Projection projection(String name) {
            try (PointerScope scope = new PointerScope()) {
                return packed(convertRead(name), null, true);
            }
        }

        /**
         * The projection of layer {@code l} made of {@code layers.l.<a|b|c>.weight} stacked along dim 0 (b and c may be
         * null), with the biases stacked likewise when {@code bias}; packed for the kernel.
         */
        Projection projection(int l, String a, String b, String c, boolean bias) {
            try (PointerScope scope = new PointerScope()) {
                Tensor w = fused(l, a, b, c, HfNames.WEIGHT);
                Tensor bs = bias ? keep(fused(l, a, b, c, HfNames.BIAS)) : null;
                return packed(w, bs, true);
            }
        }

        /**
         * {@code w} (converted, not yet owned unless {@code !ownsW}) as a projection for the kernel: with BLAS as it
         * is, else packed, freeing {@code w} when {@code ownsW}.
         */
        Projection packed(Tensor w, Tensor b, boolean ownsW) {
            try (PointerScope scope = new PointerScope()) {
                switch (kernel) {
                    case FBGEMM_FP16 -> {
                        Tensor fp16 = keep(fbgemm_pack_gemm_matrix_fp16(w.contiguous()));
                        return new Projection(ownsW ? keep(w) : w, b, fp16);   // weights() still reads w
                    }
                    case FBGEMM_FP16_ONLY -> {
                        Tensor fp16 = keep(fbgemm_pack_gemm_matrix_fp16(w.contiguous()));
                        return new Projection(ownsW ? null : w, b, fp16, null, w.numel()); // w freed with the scope
                    }
                    case FBGEMM_INT8 -> {
                        Int8Linear int8 = Int8Linear.pack(w);
                        ownedInt8.add(int8);
                        return new Projection(ownsW ? null : w, b, null, int8, w.numel());
                    }
                    default -> {
                        return new Projection(ownsW ? keep(w) : w, b, null);
                    }
                }
            }
        }

        /** {@code layers.l.<a|b|c><suffix>} concatenated along dim 0 and converted (c, or b and c, may be null). */
        private Tensor fused(int l, String a, String b, String c, String suffix) {
            if (b == null) {
                return convertRead(HfNames.layer(l, a + suffix));
            }
            Tensor[] raw = c == null
                    ? new Tensor[]{source.read(HfNames.layer(l, a + suffix)), source.read(HfNames.layer(l, b + suffix))}
                    : new Tensor[]{source.read(HfNames.layer(l, a + suffix)), source.read(HfNames.layer(l, b + suffix)),
                    source.read(HfNames.layer(l, c + suffix))};
            TensorVector parts = new TensorVector(raw);
            Tensor joined = cat(parts, 0);
            parts.clear();
            free(raw);
            Tensor w = convert(joined);
            joined.reset();   // cat made it: ours to free before packing
            return w;
        }

        /** Tensor {@code name} read and converted; the stored copy freed at once when it is ours. */
        private Tensor convertRead(String name) {
            Tensor raw = source.read(name);
            Tensor w = convert(raw);
            free(raw);
            return w;
        }

        /**
         * Frees tensors read from the source now rather than when the enclosing scope closes (the peak of a load is
         * one projection's stored, fp32 and packed copies at once), unless they are the caller's.
         */
        private void free(Tensor... raw) {
            if (source.readsAreFresh()) {
                for (Tensor t : raw) {
                    t.reset();
                }
            }
        }

        private Tensor keep(Tensor t) {
            owned.add(Tensors.own(t));
            return t;
        }

        void releaseAll() {
            owned.forEach(Tensors::release);
            owned.clear();
            ownedInt8.forEach(Int8Linear::close);
            ownedInt8.clear();
        }

        private Tensor convert(Tensor t) {
            // always a fresh tensor (copy=true), never a view of the caller's weights
            return t.to(target, false, true, null).contiguous();
        }
    }
}
