package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.cli.CliRunner.Run;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static dev.cllm.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

/** The command line: its JSON contract and its one-line errors for bad input. */
class CliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static String ids(int[] ids) {
        return String.join(",", Arrays.stream(ids).mapToObj(Integer::toString).toList());
    }

    @Test
    void helpListsTheCommands() {
        Run r = run("--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("generate");
    }

    @Test
    void arJsonIsOneObjectWithTheDocumentedFields() throws Exception {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(0);
        Run r = run("generate", "--model", Stories260K.dir().toString(), "--prompt-ids", ids(c.promptIds()),
                "--max-new-tokens", "40", "--decoder", "ar", "--no-stop", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        List<String> fields = new ArrayList<>();
        o.fieldNames().forEachRemaining(fields::add);
        assertThat(fields).containsExactly("prompt_ids", "ids", "text", "new_tokens", "forward_passes", "elapsed_ms",
                "stop_reason");
        assertThat(JSON.convertValue(o.get("ids"), int[].class)).containsExactly(Arrays.copyOf(c.greedyIds(), 40));
        assertThat(o.get("text").isNull()).isTrue();
        assertThat(o.get("new_tokens").asInt()).isEqualTo(40);
        assertThat(o.get("forward_passes").asInt()).isEqualTo(40);
        assertThat(r.out().strip().lines().count()).isEqualTo(1);
    }

    @Test
    void jacobiJsonAddsThePaperStatistics() throws Exception {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(1);
        Run r = run("generate", "--model", Stories260K.dir().toString(), "--prompt-ids", ids(c.promptIds()),
                "--max-new-tokens", "64", "--decoder", "jacobi", "--block-size", "16", "--no-stop", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(JSON.convertValue(o.get("ids"), int[].class)).containsExactly(Arrays.copyOf(c.greedyIds(), 64));
        assertThat(o.get("block_size").asInt()).isEqualTo(16);
        assertThat(o.get("tokens_per_pass").asDouble())
                .isEqualTo(64.0 / o.get("forward_passes").asInt(), org.assertj.core.data.Offset.offset(1e-9));
        assertThat(o.has("fast_forwarded")).isTrue();
        assertThat(o.has("stationary")).isTrue();
    }

    @Test
    void badInputExitsWithOneLineNamingTheProblem() {
        String model = Stories260K.dir().toString();
        assertBad(run("generate", "--model", model, "--prompt-ids", "1,999", "--json"), "999");
        assertBad(run("generate", "--model", model, "--prompt-ids", "1,x"), "'x'");
        assertBad(run("generate", "--model", model, "--prompt-ids", "1,2", "--max-new-tokens", "600"), "context");
        assertBad(run("generate", "--model", model, "--prompt", "hello"), "tokenizer");
        assertBad(run("generate", "--model", model + "/missing", "--prompt-ids", "1"), "missing");
        assertBad(run("generate", "--model", model, "--prompt-ids", "1", "--decoder", "beam"), "beam");
        assertBad(run("generate", "--model", model, "--prompt-ids", "1", "--decoder", "jacobi", "--block-size", "0"),
                "block size");
        assertBad(run("generate", "--model", model), "--prompt");
    }

    private static void assertBad(Run r, String mentions) {
        assertThat(r.status()).as(r.err()).isEqualTo(Cli.BAD_INPUT);
        List<String> errorLines = r.err().lines().filter(l -> l.startsWith("error:")).toList();
        assertThat(errorLines).hasSize(1);
        assertThat(errorLines.get(0)).contains(mentions);
        assertThat(r.out()).isEmpty();
    }
}
