package dev.cllm.examples;

import dev.cllm.api.Generation;
import dev.cllm.examples.math.MathEvaluator;
import dev.cllm.examples.math.MathExample;
import dev.cllm.examples.math.MathExample.Split;
import dev.cllm.examples.math.MathTask;
import dev.cllm.examples.math.MathTaskConfigFile;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The shipped arithmetic word-problem models: they load (bf16, so through the FBGEMM kernel), solve held-out
 * problems, Jacobi decoding at block size 16 reproduces each model's own AR output over long answers, and the CLLM
 * accepts several tokens per pass while it answers about as many problems right as the base model. The floors are
 * well below the model cards' measurements, so a regression fails and noise does not.
 */
class ShippedMathModelsTest {
    private static final int QUESTIONS = 20;

    @Test
    void jacobiIsLosslessOnBothModelsAndTheCllmFastForwards() {
        ShippedModels.Pair models = ShippedModels.pair("math");
        Path baseDir = models.base();
        Path cllmDir = models.cllm();
        MathTask task = MathTask.generate(MathTaskConfigFile.read(baseDir));
        List<MathExample> heldOut = task.examples(Split.HELD_OUT).subList(0, QUESTIONS);
        TorchOptions cpu = TorchOptions.defaults().withDevice("cpu");
        try (TorchConsistencyModel base = TorchConsistencyModel.load(baseDir, cpu);
             TorchConsistencyModel cllm = TorchConsistencyModel.load(cllmDir, cpu)) {
            assertThat(base.llama().gemm()).isEqualTo(CpuGemm.FBGEMM_FP16);
            JacobiDecoder ar = JacobiDecoder.autoregressive(160);
            JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(16).maxNewTokens(160).build();
            int baseCorrect = 0;
            int cllmCorrect = 0;
            long baseTokens = 0;
            long cllmTokens = 0;
            long cllmPasses = 0;
            for (MathExample e : heldOut) {
                String prompt = MathTask.prompt(e);
                Generation baseAr = ar.generate(base, prompt);
                assertThat(jacobi.generate(base, prompt).ids()).as(prompt).isEqualTo(baseAr.ids());
                Generation cllmAr = ar.generate(cllm, prompt);
                Generation cllmJacobi = jacobi.generate(cllm, prompt);
                assertThat(cllmJacobi.ids()).as(prompt).isEqualTo(cllmAr.ids());
                cllmTokens += cllmJacobi.stats().newTokens();
                cllmPasses += cllmJacobi.stats().forwardPasses() - 1;   // decoding passes, prefill excluded
                baseTokens += baseAr.stats().newTokens();
                baseCorrect += MathEvaluator.answerMatch(e, baseAr.text().strip()) ? 1 : 0;
                cllmCorrect += MathEvaluator.answerMatch(e, cllmJacobi.text().strip()) ? 1 : 0;
            }
            assertThat((double) baseTokens / QUESTIONS).as("mean answer length").isGreaterThan(30);
            assertThat((double) baseCorrect / QUESTIONS).as("base final-answer accuracy").isGreaterThan(0.75);
            // the CLLM (Jacobi Forcing) keeps the base model's accuracy: 96.5% against 94.0% on all 200
            assertThat((double) cllmCorrect / QUESTIONS).as("CLLM final-answer accuracy").isGreaterThan(0.75);
            assertThat((double) cllmTokens / cllmPasses).as("CLLM tokens per decoding pass").isGreaterThan(1.5);
        }
    }
}
