package dev.cllm.train;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class RendezvousTest {
    private static final Duration T = Duration.ofSeconds(30);

    @Test
    void parsesAddressAndPort() {
        Rendezvous r = Rendezvous.of(4, 3, "10.0.0.7:29501", T);
        assertThat(r.masterAddress()).isEqualTo("10.0.0.7");
        assertThat(r.masterPort()).isEqualTo(29501);
        assertThat(r.isLeader()).isFalse();
        assertThat(Rendezvous.of(2, 0, "[::1]:1234", T).masterAddress()).isEqualTo("::1");
    }

    @Test
    void badValuesNameTheProblem() {
        assertThatThrownBy(() -> Rendezvous.of(2, 0, "localhost", T)).hasMessageContaining("ADDR:PORT")
                .hasMessageContaining("'localhost'");
        assertThatThrownBy(() -> Rendezvous.of(2, 0, "host:http", T)).hasMessageContaining("'http'");
        assertThatThrownBy(() -> Rendezvous.of(2, 2, "host:1", T)).hasMessageContaining("rank 2 is outside 0..1");
        assertThatThrownBy(() -> Rendezvous.of(0, 0, "host:1", T)).hasMessageContaining("world size");
        assertThatThrownBy(() -> Rendezvous.of(2, 0, "host:70000", T)).hasMessageContaining("port 70000");
        assertThatThrownBy(() -> new Rendezvous(2, 0, "host", 1, Duration.ZERO)).hasMessageContaining("timeout");
    }

    @Test
    void readsTorchrunStyleEnvironmentVariables() {
        assertThat(Rendezvous.fromEnvironment(Map.of(), T)).isNull();
        Rendezvous r = Rendezvous.fromEnvironment(Map.of("WORLD_SIZE", "2", "RANK", "1", "MASTER_ADDR", "node0"), T);
        assertThat(r).isEqualTo(new Rendezvous(2, 1, "node0", 29500, T));
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(Map.of("WORLD_SIZE", "2", "MASTER_ADDR", "a"), T))
                .hasMessageContaining("RANK is not");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(Map.of("WORLD_SIZE", "two", "RANK", "0",
                "MASTER_ADDR", "a"), T)).hasMessageContaining("WORLD_SIZE='two'");
        assertThatThrownBy(() -> Rendezvous.fromEnvironment(Map.of("WORLD_SIZE", "2", "RANK", "0"), T))
                .hasMessageContaining("MASTER_ADDR");
    }
}
