package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The model cards say how each recipe's models were made: its objective, its commands and the demo's numbers. */
class ModelCardsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @ParameterizedTest
    @EnumSource(TaskPipeline.Recipe.class)
    void aCardNamesItsRecipesObjectiveCommandsAndMeasurements(TaskPipeline.Recipe recipe, @TempDir Path work)
            throws Exception {
        TaskPipeline pipeline = new TaskPipeline(recipe, work);
        Map<String, ObjectNode> steps = new LinkedHashMap<>();
        for (TaskPipeline.Step step : pipeline.steps()) {
            steps.put(step.name(), JSON.createObjectNode().put("command", step.commandLine()).put("elapsed_ms", 61_000));
        }
        steps.get("collect").set("result", JSON.readTree("{\"prompts\": 1500, \"records\": 6996}"));
        steps.get("collect").put("elapsed_ms", 130_000).put("sittings", 2);   // interrupted once and resumed
        steps.put("demo", (ObjectNode) JSON.readTree("{\"result\": {\"questions\": 200, \"block_size\": "
                + recipe.blockSize() + ", \"repeats\": 3, \"threads\": 1, \"blas_threads\": 2, "
                + "\"rows\": [{\"decoder\": \"jacobi-cllm\", \"exec_accuracy\": 0.835, "
                + "\"accuracy\": 0.835, \"exact_match\": 0.83, \"tokens_per_pass\": 2.67, \"tokens_per_s\": 1996, "
                + "\"speedup\": 1.87}]}}"));
        Files.createDirectories(pipeline.baseModel());
        Files.createDirectories(pipeline.cllmModel());

        ModelCards.write(pipeline, steps);

        String cllm = Files.readString(pipeline.cllmModel().resolve("README.md"));
        String train = steps.get("train").path("command").asText();
        assertThat(cllm).contains("` | 2 min 10 s in 2 sittings |");
        assertThat(cllm).contains("`" + train + "` | 1 min 1 s |").contains("6996 blocks")
                .contains("| jacobi-cllm | 83.5% | 83.0% | 2.67 | 1996 | 1.87x |")
                .contains("block size " + recipe.blockSize() + ", 3 timed sweeps (medians), 1 libtorch and 2 OpenBLAS "
                        + "threads, ").contains(", CPU kernels ATen ");
        // both shipped CLLMs are Jacobi Forcing runs; the recipes differ in the seed and the answers per step
        assertThat(cllm).contains("Jacobi Forcing").doesNotContain("local consistency");
        assertThat(train).contains("--objective jacobi-forcing");
        if (recipe == TaskPipeline.Recipe.SQL) {
            assertThat(cllm).contains("seed 4").contains("16 answers per step")
                    .contains("anchored to sql-base with weight 10");
        } else {
            assertThat(cllm).contains("seed 2").contains("8 answers per step").contains("3000 steps, then ")
                    .doesNotContain("anchored");
            for (TaskPipeline.Step step : pipeline.steps()) {
                if (step.name().startsWith("continue")) {
                    assertThat(step.commandLine()).contains("--steps 1500");
                    assertThat(cllm).contains("| " + step.name() + " | `" + step.commandLine() + "` | 1 min 1 s");
                }
            }
            assertThat(cllm).contains("| continue |");
        }
        assertThat(Files.readString(pipeline.baseModel().resolve("README.md"))).contains(recipe.task() + "-base");
    }
}
