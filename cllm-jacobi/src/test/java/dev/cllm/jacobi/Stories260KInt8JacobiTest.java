package dev.cllm.jacobi;

import dev.cllm.api.Generation;
import dev.cllm.api.TokenIds;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Jacobi decoding stays lossless on the int8 model: greedy Jacobi output equals greedy AR output of the same int8
 * model (not the fp32 model's: int8 is a different model) for every block size.
 */
class Stories260KInt8JacobiTest {
    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(),
                TorchOptions.defaults().withDevice("cpu").withGemm(CpuGemm.FBGEMM_INT8));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    @ParameterizedTest(name = "n = {0}")
    @ValueSource(ints = {2, 4, 8, 16, 32})
    void jacobiEqualsGreedyArOnTheInt8Model(int blockSize) {
        assertThat(model.llama().gemm()).isEqualTo(CpuGemm.FBGEMM_INT8);
        int differFromFp32 = 0;
        for (Stories260K.GreedyCase c : Stories260K.greedyCases()) {
            Generation ar = JacobiDecoder.builder().blockSize(1).maxNewTokens(c.maxNewTokens()).noStop().build()
                    .generate(model, TokenIds.of(c.promptIds()));
            Generation jacobi = JacobiDecoder.builder().blockSize(blockSize).maxNewTokens(c.maxNewTokens()).noStop()
                    .build().generate(model, TokenIds.of(c.promptIds()));
            assertThat(jacobi.ids().toArray()).as("n=%d prompt %s", blockSize, Arrays.toString(c.promptIds()))
                    .containsExactly(ar.ids().toArray());
            assertThat(jacobi.stats().forwardPasses()).isLessThanOrEqualTo(ar.stats().forwardPasses());
            differFromFp32 += Arrays.equals(ar.ids().toArray(), c.greedyIds()) ? 0 : 1;
        }
        System.out.printf("int8 stories260K: %d of %d greedy continuations differ from the fp32 reference%n",
                differFromFp32, Stories260K.greedyCases().size());
    }
}
