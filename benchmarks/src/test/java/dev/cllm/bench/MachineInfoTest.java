package dev.cllm.bench;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The machine description names the libtorch build from its Maven metadata, without importing libtorch. */
class MachineInfoTest {
    @Test
    void namesThePytorchArtifactOnTheClassPath() {
        assertThat(MachineInfo.pytorchVersion()).matches("[0-9]+\\.[0-9]+\\.[0-9]+-[0-9.]+");
    }
}
