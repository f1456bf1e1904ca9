package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.TrainingConfig;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/** The configuration as a checkpoint records it and as a resume and the ranks compare it: every field, exactly. */
class TrainingConfigJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void everyGetterOfTheConfigurationIsAField() {
        Set<String> getters = Arrays.stream(TrainingConfig.class.getDeclaredMethods())
                .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
                .filter(m -> m.getParameterCount() == 0 && m.getReturnType() != void.class)
                .map(Method::getName)
                .filter(n -> !Set.of("toString", "hashCode", "toBuilder").contains(n))
                .collect(java.util.stream.Collectors.toSet());
        assertThat(TrainingConfigJson.names()).containsExactlyInAnyOrderElementsOf(getters);
        assertThat(TrainingConfigJson.write(TrainingConfig.builder().build()).size()).isEqualTo(getters.size());
    }

    @Test
    void aConfigurationReadBackFromTextEqualsItself() throws Exception {
        TrainingConfig config = TrainingConfig.builder().learningRate(1.0 / 3).adamEpsilon(1e-8).betas(0.9, 0.95)
                .maxSteps(1234).seed(Long.MAX_VALUE).consistencyLoss(TrainingConfig.ConsistencyLoss.LOCAL).build();
        JsonNode read = JSON.readTree(JSON.writeValueAsString(TrainingConfigJson.write(config)));
        assertThat(TrainingConfigJson.differences(read, TrainingConfigJson.write(config))).isEmpty();
        assertThat(read.get("learningRate").doubleValue()).isEqualTo(1.0 / 3);
    }

    @Test
    void aDifferenceInTheFourthDigitOrInAFieldTheSummaryLeavesOutIsNamedWithBothValues() {
        TrainingConfig a = TrainingConfig.builder().learningRate(3e-3).build();
        TrainingConfig b = TrainingConfig.builder().learningRate(3.001e-3).build();
        assertThat(a.toString()).as("the rounded summary cannot tell them apart").isEqualTo(b.toString());
        assertThat(TrainingConfigJson.differences(TrainingConfigJson.write(a), TrainingConfigJson.write(b)))
                .containsExactly("learningRate 0.003 vs 0.003001");

        TrainingConfig c = TrainingConfig.builder().adamEpsilon(1e-6).maxSequenceLength(512).build();
        assertThat(c.toString()).isEqualTo(TrainingConfig.builder().build().toString());
        assertThat(TrainingConfigJson.differences(TrainingConfigJson.write(TrainingConfig.builder().build()),
                TrainingConfigJson.write(c)))
                .containsExactly("adamEpsilon 1.0E-8 vs 1.0E-6", "maxSequenceLength 2048 vs 512");
    }

    @Test
    void plansDifferInTheirDataStepsOrConfigurationFields() {
        TrainingConfig config = TrainingConfig.builder().build();
        TrainingPlan plan = new TrainingPlan("tiny, 10 examples, hash 1", config, 100, "llama");
        assertThat(TrainingPlan.differences(plan.toJson(), plan.toJson())).isEmpty();
        TrainingPlan other = new TrainingPlan("tiny, 10 examples, hash 2", config.toBuilder().evalEvery(5).build(),
                100, "llama");
        assertThat(TrainingPlan.differences(other.toJson(), plan.toJson())).containsExactly(
                "data \"tiny, 10 examples, hash 2\" vs \"tiny, 10 examples, hash 1\"", "config: evalEvery 5 vs 0");
    }

    @Test
    void aCheckpointWrittenBeforeAFieldExistedResumesWhenTheFieldHasItsDefault() {
        ObjectNode old = TrainingConfigJson.write(TrainingConfig.builder().build());
        old.remove("noiseWindow");
        old.remove("noiseSchedule");
        old.remove("arOnPrompt");
        old.remove("anchorWeight");
        ObjectNode now = TrainingConfigJson.write(TrainingConfig.builder().build());
        assertThat(TrainingConfigJson.resumeDifferences(old, now)).isEmpty();
        assertThat(TrainingConfigJson.resumeDifferences(old, TrainingConfigJson.write(TrainingConfig.builder()
                .noiseWindow(4).build()))).containsExactly("noiseWindow 16 vs 4");
        assertThat(TrainingConfigJson.resumeDifferences(old, TrainingConfigJson.write(TrainingConfig.builder()
                .anchorWeight(10).build()))).containsExactly("anchorWeight 0.0 vs 10.0");
        assertThat(TrainingConfigJson.differences(old, TrainingConfigJson.write(TrainingConfig.builder().build())))
                .as("ranks compare complete configurations: a missing field is a difference")
                .containsExactly("noiseWindow none vs 16", "noiseSchedule none vs LINEAR", "arOnPrompt none vs true",
                        "anchorWeight none vs 0.0");
    }
}
