package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.bench.MachineInfo;
import dev.cllm.bench.WeightFormats;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ./cllm bench-weights}: one model's weights in several formats, measured interleaved ({@link WeightFormats}). */
@Command(name = "bench-weights", mixinStandardHelpOptions = true,
        description = {"Measure AR ms per token and the cost of passes over n new tokens for the same weights in "
                + "several formats (f32: OpenBLAS, f16: FBGEMM fp16, int8: FBGEMM int8), interleaved in rounds "
                + "within one process; medians over rounds, ratios to the first format per round."})
final class WeightFormatsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "MODEL",
            description = "a benchmark model name (stories260K, random50M, random-d<D>-l<L>-h<H>-kv<KV>-f<F>-v<V>, "
                    + "sql-base, sql-cllm) or dir:PATH")
    String model;

    @Option(names = "--weights", split = ",", paramLabel = "LIST", defaultValue = "f32,f16,int8",
            description = "formats; ratios are to the first (default: ${DEFAULT-VALUE})")
    List<String> weights = new ArrayList<>();

    @Option(names = "--rounds", paramLabel = "R", defaultValue = "5",
            description = "measured rounds after one warm-up round (default: ${DEFAULT-VALUE})")
    int rounds;

    @Option(names = "--ar-tokens", paramLabel = "N", defaultValue = "64",
            description = "greedy single-token passes per round and format (default: ${DEFAULT-VALUE})")
    int arTokens;

    @Option(names = "--n", split = ",", paramLabel = "LIST", defaultValue = "1,8,16",
            description = "new tokens per timed multi-token pass (default: ${DEFAULT-VALUE})")
    List<Integer> n = new ArrayList<>();

    @Option(names = "--context", paramLabel = "N", defaultValue = "128",
            description = "cached tokens before the AR run and the timed passes (default: ${DEFAULT-VALUE})")
    int context;

    @Option(names = "--threads", paramLabel = "TORCH/BLAS", defaultValue = "default",
            description = "libtorch/OpenBLAS threads, or default (default: ${DEFAULT-VALUE})")
    String threads;

    @Option(names = "--json", description = "print one JSON object instead of the Markdown table")
    boolean json;

    @Override
    public Integer call() {
        String command = "./cllm bench-weights " + model + " --weights " + String.join(",", weights) + " --rounds "
                + rounds + " --ar-tokens " + arTokens + " --n " + String.join(",", n.stream().map(String::valueOf)
                .toList()) + " --context " + context + " --threads " + threads + (json ? " --json" : "");
        String loadBefore = loadAverage();
        List<WeightFormats.Row> rows = WeightFormats.run(model, weights, rounds, arTokens, n, context, threads,
                System.err);
        String loadAfter = loadAverage();
        MachineInfo machine = MachineInfo.collect(command, "cpu");
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode out = mapper.createObjectNode();
            out.set("rows", WeightFormats.json(rows));
            out.set("machine", mapper.valueToTree(machine));
            out.put("load_before", loadBefore).put("load_after", loadAfter);
            System.out.println(out);
        } else {
            System.out.println(command);
            System.out.println(machine.summary());
            System.out.println("load average (1, 5, 15 min) before: " + loadBefore + "; after: " + loadAfter);
            System.out.println();
            System.out.print(WeightFormats.markdown(rows));
        }
        return 0;
    }

    /** The first three fields of /proc/loadavg, or "unknown" where it cannot be read. */
    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }
}
