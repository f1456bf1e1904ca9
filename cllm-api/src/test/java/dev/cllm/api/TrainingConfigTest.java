package dev.cllm.api;

import dev.cllm.api.TrainingConfig.NoiseSchedule;
import dev.cllm.api.TrainingConfig.Objective;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The Jacobi Forcing settings of {@link TrainingConfig}: defaults, validation and the summary. */
class TrainingConfigTest {

    @Test
    void jacobiForcingDefaultsToThePapersLinearScheduleOverAWindowOf16() {
        TrainingConfig c = TrainingConfig.builder().objective(Objective.JACOBI_FORCING).build();
        assertThat(c.noiseWindow()).isEqualTo(16);
        assertThat(c.noiseSchedule()).isEqualTo(NoiseSchedule.LINEAR);
        assertThat(c.arOnPrompt()).as("the authors' code scores the prompt too").isTrue();
        assertThat(c.toBuilder().build().noiseWindow()).isEqualTo(16);
        assertThat(c.toString()).endsWith("seed 42, noise LINEAR window 16]");
        assertThat(TrainingConfig.builder().noiseWindow(3).build().toString()).as("CLLM summaries are unchanged")
                .doesNotContain("noise").endsWith("seed 42]");
    }

    @Test
    void invalidSettingsAreRefusedNamingTheField() {
        assertThatThrownBy(() -> TrainingConfig.builder().noiseWindow(0).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("noiseWindow must be >= 1, got 0");
        assertThatThrownBy(() -> TrainingConfig.builder().noiseSchedule(null).build())
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("noiseSchedule");
        assertThatThrownBy(() -> TrainingConfig.builder().objective(Objective.JACOBI_FORCING)
                .consistencyLoss(TrainingConfig.ConsistencyLoss.LOCAL).build())
                .hasMessageContaining("consistencyLoss LOCAL");
        assertThatThrownBy(() -> TrainingConfig.builder().objective(Objective.JACOBI_FORCING)
                .stateSampling(TrainingConfig.StateSampling.ALL).build()).hasMessageContaining("stateSampling ALL");
        assertThat(TrainingConfig.builder().objective(Objective.JACOBI_FORCING)
                .arTarget(TrainingConfig.ArTarget.LABELS).build().arTarget()).isEqualTo(TrainingConfig.ArTarget.LABELS);
        assertThatThrownBy(() -> TrainingConfig.builder().arOnPrompt(false).build())
                .hasMessageContaining("arOnPrompt false applies only to JACOBI_FORCING");
        assertThat(TrainingConfig.builder().objective(Objective.JACOBI_FORCING).arOnPrompt(false).build().toString())
                .endsWith("window 16, AR on the answer only]");
        assertThatThrownBy(() -> TrainingConfig.builder().anchorWeight(-1).build())
                .hasMessageContaining("anchor weight must be finite and >= 0, got -1.0");
        assertThatThrownBy(() -> TrainingConfig.builder().anchorWeight(Double.NaN).build())
                .hasMessageContaining("anchor weight must be finite");
        assertThatThrownBy(() -> TrainingConfig.builder().objective(Objective.LANGUAGE_MODEL).anchorWeight(1).build())
                .hasMessageContaining("anchor weight 1.0 applies only to consistency training");
        assertThat(TrainingConfig.builder().anchorWeight(0.5).build().toString()).endsWith(", anchor weight 0.500]");
        assertThat(TrainingConfig.builder().objective(Objective.JACOBI_FORCING).anchorWeight(2).build().toString())
                .endsWith("window 16, anchor weight 2.00]");
        assertThat(TrainingConfig.builder().build().toString()).doesNotContain("anchor");
    }
}
