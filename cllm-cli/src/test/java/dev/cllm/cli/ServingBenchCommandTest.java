package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./cllm bench-serving} on stories260K: one row per mode and client count, each checked against decoding alone;
 * bad values exit with status 2 naming them.
 */
class ServingBenchCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void measuresServiceAndPerThreadModesForEachClientCount() throws Exception {
        Stories260K.dir();
        CliRunner.Run r = CliRunner.run("bench-serving", "--models", "stories260K", "--clients", "1,2",
                "--decoders", "ar,jacobi", "--max-new-tokens", "8", "--requests-per-client", "1", "--max-wait-ms", "5",
                "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode root = JSON.readTree(r.out());
        JsonNode rows = root.get("serving");
        assertThat(rows).hasSize(8);
        for (JsonNode row : rows) {
            assertThat(row.get("identical_to_alone").asBoolean()).as(row.toString()).isTrue();
            assertThat(row.get("new_tokens").asInt()).isEqualTo(8 * row.get("clients").asInt());
            assertThat(row.get("aggregate_tokens_per_s").asDouble()).isPositive();
            assertThat(row.get("ttft_p50_ms").asDouble()).isLessThanOrEqualTo(row.get("latency_p50_ms").asDouble());
        }
        assertThat(rows.get(0).get("decoder").asText()).isEqualTo("ar");
        assertThat(rows.get(0).get("mode").asText()).isEqualTo("service");
        assertThat(rows.get(1).get("mode").asText()).isEqualTo("per_thread");
        assertThat(root.get("machine").get("command").asText()).startsWith("./cllm bench-serving");
    }

    @Test
    void badValuesAreNamed() {
        CliRunner.Run clients = CliRunner.run("bench-serving", "--clients", "0");
        assertThat(clients.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(clients.err()).contains("--clients must be >= 1");
        CliRunner.Run decoder = CliRunner.run("bench-serving", "--models", "stories260K", "--decoders", "beam");
        assertThat(decoder.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(decoder.err()).contains("unknown decoder 'beam'");
        CliRunner.Run wait = CliRunner.run("bench-serving", "--max-wait-ms", "-1");
        assertThat(wait.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(wait.err()).contains("--max-wait-ms must be between 0 and 60000, got -1");
        CliRunner.Run model = CliRunner.run("bench-serving", "--models", "stories1M");
        assertThat(model.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(model.err()).contains("stories1M");
    }
}
