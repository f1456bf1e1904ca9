package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which CPU kernel runs the projections, and that FBGEMM's fp16 path computes what OpenBLAS computes. */
class CpuGemmTest {
    private static final TorchOptions CPU = TorchOptions.defaults().withDevice("cpu");

    @Test
    void autoPacksHalfPrecisionCheckpointsOnlyAndTheChoiceCanBeForced(@TempDir Path tmp) throws Exception {
        Path bf16 = write(tmp.resolve("bf16"), ComputeDtype.BF16);
        Path f32 = write(tmp.resolve("f32"), ComputeDtype.F32);
        LlamaConfig config = TinyCheckpoints.base().build();
        try (LlamaModel a = LlamaModel.load(bf16, config, CPU);
             LlamaModel b = LlamaModel.load(f32, config, CPU);
             LlamaModel c = LlamaModel.load(f32, config, CPU.withGemm(CpuGemm.FBGEMM_FP16));
             LlamaModel d = LlamaModel.load(bf16, config, CPU.withGemm(CpuGemm.BLAS))) {
            assertThat(a.gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            assertThat(b.gemm()).isEqualTo(CpuGemm.BLAS);
            assertThat(c.gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            assertThat(d.gemm()).isEqualTo(CpuGemm.BLAS);
        }
    }

    @Test
    void fp16PackedWeightsGiveTheBlasLogitsForABf16Checkpoint(@TempDir Path tmp) {
        Path bf16 = write(tmp, ComputeDtype.BF16);
        int[] tokens = RandomCheckpointTest.randomTokens(97, 40, 3);
        try (TorchConsistencyModel blas = TorchConsistencyModel.load(bf16, CPU.withGemm(CpuGemm.BLAS));
             TorchConsistencyModel fbgemm = TorchConsistencyModel.load(bf16, CPU.withGemm(CpuGemm.FBGEMM_FP16));
             DecodingSession s1 = blas.newSession();
             DecodingSession s2 = fbgemm.newSession()) {
            // a prefill, then single-token and few-token passes: every GEMM shape the decoders use
            s1.prefill(java.util.Arrays.copyOf(tokens, 20));
            s2.prefill(java.util.Arrays.copyOf(tokens, 20));
            int p = 20;
            for (int chunk : new int[]{1, 8, 1, 3, 7}) {
                int[] block = java.util.Arrays.copyOfRange(tokens, p, p + chunk);
                Logits x = s1.forwardLogits(block);
                Logits y = s2.forwardLogits(block);
                for (int t = 0; t < chunk; t++) {
                    RandomCheckpointTest.assertClose(y.row(t), x.row(t), "position " + (p + t));
                }
                s1.commit(chunk);
                s2.commit(chunk);
                p += chunk;
            }
        }
    }

    /** Training loads with BLAS: every projection then computes with the weights themselves and has a gradient. */
    @Test
    void aBlasLoadedModelIsDifferentiableThroughEveryProjection(@TempDir Path tmp) {
        Path bf16 = write(tmp, ComputeDtype.BF16);
        try (LlamaModel model = LlamaModel.load(bf16, TinyCheckpoints.base().build(), CPU.withGemm(CpuGemm.BLAS));
             PointerScope scope = new PointerScope()) {
            assertThat(model.gemm()).isEqualTo(CpuGemm.BLAS);
            model.weights().values().forEach(w -> w.requires_grad_(true));
            Tensor ids = Tensors.longs(new long[]{1, 5, 9, 4}, new long[]{1, 4});
            Tensor loss = model.logits(ids).sum();
            assertThat(loss.requires_grad()).isTrue();
            loss.backward();
            model.weights().forEach((name, w) -> {
                assertThat(w.grad().defined()).as("gradient of %s", name).isTrue();
                assertThat(w.grad().abs().sum().item_double()).as("|gradient| of %s", name).isPositive();
            });
        }
    }

    /**
     * The kernel is chosen at load, never per call: a packed model's logits do not change when its weights start to
     * require gradients, nor when they are changed in place (the packed copies are a snapshot taken at load), while
     * a BLAS model computes with the weights as they are.
     */
    @Test
    void thePackedKernelIsFixedAtLoadAndItsWeightsAreASnapshot(@TempDir Path tmp) {
        Path bf16 = write(tmp, ComputeDtype.BF16);
        LlamaConfig config = TinyCheckpoints.base().build();
        try (LlamaModel packed = LlamaModel.load(bf16, config, CPU.withGemm(CpuGemm.FBGEMM_FP16));
             LlamaModel blas = LlamaModel.load(bf16, config, CPU.withGemm(CpuGemm.BLAS));
             PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Tensor ids = Tensors.longs(new long[]{1, 5, 9, 4}, new long[]{1, 4});
            float[] before = Tensors.toFloats(packed.logits(ids));
            float[] blasBefore = Tensors.toFloats(blas.logits(ids));

            packed.weights().values().forEach(w -> w.requires_grad_(true));
            assertThat(packed.gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            assertThat(Tensors.toFloats(packed.logits(ids))).containsExactly(before);

            packed.weights().values().forEach(w -> w.requires_grad_(false));
            packed.weights().get("layers.0.wqkv").zero_();
            blas.weights().get("layers.0.wqkv").zero_();
            assertThat(Tensors.toFloats(packed.logits(ids))).as("packed copies are a snapshot").containsExactly(before);
            assertThat(Tensors.toFloats(blas.logits(ids))).as("BLAS reads the weights").isNotEqualTo(blasBefore);
        }
    }

    @Test
    void parsesTheNames() {
        assertThat(CpuGemm.parse("fbgemm-fp16")).isEqualTo(CpuGemm.FBGEMM_FP16);
        assertThat(CpuGemm.parse("BLAS")).isEqualTo(CpuGemm.BLAS);
        assertThat(CpuGemm.parse("int8")).isEqualTo(CpuGemm.FBGEMM_INT8);
        assertThat(CpuGemm.parse("FBGEMM_INT8")).isEqualTo(CpuGemm.FBGEMM_INT8);
        assertThatThrownBy(() -> CpuGemm.parse("mkl")).hasMessageContaining("unknown CPU GEMM 'mkl'");
    }

    private static Path write(Path dir, ComputeDtype storage) {
        return new TinyCheckpoints.Variant("t", TinyCheckpoints.base().build(), storage, Long.MAX_VALUE)
                .write(dir, 11);
    }
}
