package dev.cllm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The JSON contract of {@code ./cllm bench --json}. */
class BenchJsonTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static List<String> fields(JsonNode o) {
        List<String> out = new ArrayList<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void oneObjectWithTheDocumentedArraysAndFields() throws Exception {
        String line = BenchJson.compact(BenchJson.results(Samples.results(), Samples.machine(), "out/dir"));
        assertThat(line).doesNotContain("\n");
        JsonNode o = JSON.readTree(line);
        assertThat(fields(o)).containsExactly("forward_cost", "generation", "collection", "skipped", "jmh",
                "machine", "results_dir");

        JsonNode f = o.get("forward_cost").get(1);
        assertThat(fields(f)).startsWith("model", "n", "ms", "ratio_to_1").contains("context", "threads", "dtype");
        assertThat(f.get("model").asText()).isEqualTo("stories260K");
        assertThat(f.get("n").asInt()).isEqualTo(4);
        assertThat(f.get("ms").asDouble()).isEqualTo(1.0);
        assertThat(f.get("ratio_to_1").asDouble()).isEqualTo(2.0);
        assertThat(f.has("error")).isFalse();
        assertThat(o.get("forward_cost").get(2).get("ms_error").isNull()).isTrue();   // NaN is null

        JsonNode failed = o.get("forward_cost").get(4);
        assertThat(failed.get("ms").isNull()).isTrue();
        assertThat(failed.get("ratio_to_1").isNull()).isTrue();
        assertThat(failed.get("error").asText()).isEqualTo("failed");

        JsonNode g = o.get("generation").get(1);
        assertThat(fields(g)).startsWith("model", "decoder", "block_size", "tokens_per_s", "tokens_per_pass",
                "speedup");
        assertThat(g.get("decoder").asText()).isEqualTo("jacobi");
        assertThat(g.get("block_size").asInt()).isEqualTo(8);
        assertThat(g.get("tokens_per_s").asDouble()).isEqualTo(1500.0);
        assertThat(g.get("speedup").asDouble()).isEqualTo(0.75);
        assertThat(o.get("generation").get(0).get("decoder").asText()).isEqualTo("ar");

        assertThat(o.get("collection").get(0).get("blocks_per_s").asDouble()).isEqualTo(40.0);
        assertThat(o.get("skipped").get(0).get("model").asText()).isEqualTo("sql-cllm");
        assertThat(o.get("skipped").get(0).get("benchmarks").get(0).asText()).isEqualTo("generation");
        assertThat(o.get("machine").get("cpu_model").asText()).isEqualTo("Test CPU 3000");
    }

    @Test
    void collectionAndMachineAreLeftOutWhenAbsent() throws Exception {
        BenchResults r = Samples.results();
        BenchResults noCollection = new BenchResults(r.forwardCost(), r.generation(), List.of(), List.of(), "x");
        JsonNode o = JSON.readTree(BenchJson.compact(BenchJson.results(noCollection, null, null)));
        assertThat(fields(o)).containsExactly("forward_cost", "generation", "skipped", "jmh");
    }

    @Test
    void machineHasTheHeaderFields() throws Exception {
        JsonNode m = JSON.readTree(BenchJson.pretty(BenchJson.machine(Samples.machine())));
        assertThat(fields(m)).contains("cpu_model", "available_processors", "jvm", "jvm_flags", "torch_threads",
                "blas_threads", "command", "date");
        assertThat(m.get("jvm_flags").get(0).asText()).isEqualTo("-Xmx1g");
        assertThat(m.get("command").asText()).isEqualTo("./cllm bench --quick");
    }
}
