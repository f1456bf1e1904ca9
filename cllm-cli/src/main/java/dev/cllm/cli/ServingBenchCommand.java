package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.bench.BenchMarkdown;
import dev.cllm.bench.MachineInfo;
import dev.cllm.bench.ServingBenchmark;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm bench-serving}: concurrent clients through one generation service (their passes batched) against
 * the same clients each calling {@code generate} on the shared model ({@link ServingBenchmark}); every request's
 * output is checked against decoding its prompt alone.
 */
@Command(name = "bench-serving", mixinStandardHelpOptions = true,
        description = {"Measure serving: N concurrent clients through one batched generation service against N "
                + "threads each decoding alone on the shared model (tokens/s, time to first token, latency, and "
                + "whether every output equals decoding its prompt alone)."})
final class ServingBenchCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--models", split = ",", defaultValue = "sql-base", paramLabel = "LIST",
            description = "models, as ./cllm bench --models names them (default: ${DEFAULT-VALUE})")
    List<String> models;

    @Option(names = "--clients", split = ",", defaultValue = "1,2,4,8", paramLabel = "LIST",
            description = "concurrent client counts (default: ${DEFAULT-VALUE})")
    List<Integer> clients;

    @Option(names = "--decoders", split = ",", defaultValue = "jacobi", paramLabel = "LIST",
            description = "ar, jacobi (block 16), lookahead (default: ${DEFAULT-VALUE})")
    List<String> decoders;

    @Option(names = "--max-new-tokens", defaultValue = "64", paramLabel = "N",
            description = "new tokens per request (models with their own task prompts stop at EOS; default: "
                    + "${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--requests-per-client", defaultValue = "2", paramLabel = "N",
            description = "requests each client sends, one after another (default: ${DEFAULT-VALUE})")
    int requestsPerClient;

    @Option(names = "--max-wait-ms", paramLabel = "MS",
            description = "how long the service waits, after a step's first pass arrives, for the other active "
                    + "requests' passes (default: the service's adaptive wait, a quarter of the recent steps' duration)")
    Double maxWaitMs;

    @Option(names = "--json", description = "print one JSON object instead of the table")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (clients.stream().anyMatch(c -> c < 1)) {
            throw new IllegalArgumentException("--clients must be >= 1, got " + clients);
        }
        if (maxNewTokens < 1 || requestsPerClient < 1) {
            throw new IllegalArgumentException("--max-new-tokens and --requests-per-client must be >= 1");
        }
        Duration maxWait = maxWait(maxWaitMs);
        MachineInfo machine = MachineInfo.collect(Cli.commandLine(spec), "cpu");
        List<ServingBenchmark.Row> rows = new ArrayList<>();
        for (String model : models) {
            ServingBenchmark.run(model, decoders, clients, maxNewTokens, requestsPerClient, maxWait, rows::add);
        }
        if (json) {
            ObjectNode root = JSON.createObjectNode();
            ArrayNode a = root.putArray("serving");
            for (ServingBenchmark.Row r : rows) {
                a.add(JSON.readTree(r.toJson()));
            }
            root.set("machine", JSON.valueToTree(machine));
            System.out.println(JSON.writeValueAsString(root));
        } else {
            System.out.println(markdown(rows, machine));
        }
        return rows.stream().allMatch(ServingBenchmark.Row::identicalToAlone) ? 0 : Cli.FAILURE;
    }

    /**
     * {@code --max-wait-ms} as the service's fixed wait; null (the service's adaptive wait) when not given.
     *
     * @throws IllegalArgumentException naming the option when it is outside [0, 60000]
     */
    static Duration maxWait(Double maxWaitMs) {
        if (maxWaitMs == null) {
            return null;
        }
        if (!(maxWaitMs >= 0 && maxWaitMs <= 60_000)) {
            throw new IllegalArgumentException("--max-wait-ms must be between 0 and 60000, got " + maxWaitMs);
        }
        return Duration.ofNanos(Math.round(maxWaitMs * 1e6));
    }

    private String markdown(List<ServingBenchmark.Row> rows, MachineInfo machine) {
        StringBuilder b = new StringBuilder();
        b.append("Serving: ").append(requestsPerClient).append(" requests per client, ").append(maxNewTokens)
                .append(" new tokens at most, greedy\n");
        b.append("Machine: ").append(machine.summary()).append('\n');
        b.append("Command: ").append(machine.command()).append("\n\n");
        b.append(BenchMarkdown.servingTable(rows));
        return b.toString();
    }
}
