package dev.cllm.bench;

import dev.cllm.torch.CpuGemm;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Model names with a CPU GEMM suffix. */
class BenchModelsTest {
    @Test
    void aSuffixPicksTheCpuGemm() {
        assertThat(BenchModels.gemm("random50M")).isEqualTo(CpuGemm.AUTO);
        assertThat(BenchModels.gemm("random50M+fbgemm")).isEqualTo(CpuGemm.FBGEMM_FP16);
        assertThat(BenchModels.gemm("sql-base+blas")).isEqualTo(CpuGemm.BLAS);
        assertThat(BenchModels.gemm("random50M+int8")).isEqualTo(CpuGemm.FBGEMM_INT8);
        assertThat(BenchModels.base("random50M+fbgemm")).isEqualTo("random50M");
        assertThat(BenchModels.missing("random50M+fbgemm")).isEmpty();
        assertThat(BenchModels.missing("random50M+mkl")).hasValueSatisfying(m -> assertThat(m).contains("mkl"));
    }
}
