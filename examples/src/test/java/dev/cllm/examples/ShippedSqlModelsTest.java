package dev.cllm.examples;

import dev.cllm.api.Generation;
import dev.cllm.examples.demo.TaskConfigFile;
import dev.cllm.examples.sql.SqlEvaluator;
import dev.cllm.examples.sql.SqlExample;
import dev.cllm.examples.sql.SqlExample.Split;
import dev.cllm.examples.sql.SqlTask;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shipped text-to-SQL models: they load (bf16 weights, so through the FBGEMM kernel), answer held-out questions,
 * Jacobi decoding reproduces each model's own AR output, and the CLLM accepts several tokens per pass. The floors are
 * well below the model cards' measurements, so a regression fails and noise does not.
 */
class ShippedSqlModelsTest {
    private static final int QUESTIONS = 40;

    @Test
    void jacobiIsLosslessOnBothModelsAndTheCllmFastForwards() {
        ShippedModels.Pair models = ShippedModels.pair("sql");
        Path baseDir = models.base();
        Path cllmDir = models.cllm();
        SqlTask task = SqlTask.generate(TaskConfigFile.read(baseDir));
        List<SqlExample> heldOut = task.examples(Split.HELD_OUT).subList(0, QUESTIONS);
        TorchOptions cpu = TorchOptions.defaults().withDevice("cpu");
        try (TorchConsistencyModel base = TorchConsistencyModel.load(baseDir, cpu);
             TorchConsistencyModel cllm = TorchConsistencyModel.load(cllmDir, cpu);
             SqlEvaluator evaluator = SqlEvaluator.open(task.databases())) {
            assertThat(base.llama().gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            JacobiDecoder ar = JacobiDecoder.autoregressive(64);
            JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(8).maxNewTokens(64).build();
            int baseCorrect = 0;
            long cllmTokens = 0;
            long cllmPasses = 0;
            for (SqlExample e : heldOut) {
                String prompt = task.prompt(e);
                Generation baseAr = ar.generate(base, prompt);
                assertThat(jacobi.generate(base, prompt).ids()).as(prompt).isEqualTo(baseAr.ids());
                Generation cllmAr = ar.generate(cllm, prompt);
                Generation cllmJacobi = jacobi.generate(cllm, prompt);
                assertThat(cllmJacobi.ids()).as(prompt).isEqualTo(cllmAr.ids());
                cllmTokens += cllmJacobi.stats().newTokens();
                cllmPasses += cllmJacobi.stats().forwardPasses() - 1;   // decoding passes, prefill excluded
                baseCorrect += evaluator.executionMatch(e, baseAr.text().strip()) ? 1 : 0;
            }
            assertThat((double) baseCorrect / QUESTIONS).as("base execution accuracy").isGreaterThan(0.6);
            assertThat((double) cllmTokens / cllmPasses).as("CLLM tokens per decoding pass").isGreaterThan(1.5);
        }
    }
}
