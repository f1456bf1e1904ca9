package dev.cllm.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs the benchmarks ({@link BenchSuite}) and prints Markdown: the machine, forward cost against n (ms and ratio to
 * n = 1, per model, context and thread setting), generation (tokens/s, tokens per pass, speedup over AR measured in
 * the same run) and, if asked, trajectory collection. {@code --out DIR} also writes a results folder (JSON, Markdown,
 * PNG charts; see {@link ResultsFolder}), as {@code ./cllm bench} does.
 *
 * <pre>
 * java -cp ... dev.cllm.bench.BenchReport [forward] [generation] [collection] [--quick] [--models a,b]
 *     [--threads t/b,t/b] [--contexts 128,512] [--block-sizes 1,16] [--n 1,8] [--dtypes auto,bf16]
 *     [--max-new-tokens 128] [--device cpu] [--out DIR]
 * </pre>
 * {@code --block-sizes} sets both the generation block sizes and, unless {@code --n} is given, the forward n.
 */
public final class BenchReport {
    private BenchReport() {
    }

    public static void main(String[] args) throws IOException {
        List<String> rest = new ArrayList<>();
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--out") && i + 1 < args.length) {
                out = Path.of(args[++i]);
            } else {
                rest.add(args[i]);
            }
        }
        BenchOptions options = BenchOptions.parse(rest.toArray(String[]::new));
        String command = "java dev.cllm.bench.BenchReport " + String.join(" ", args);
        if (out != null) {
            BenchSuite.Run run = BenchSuite.runInto(options, out, command.strip(), System.out);
            System.out.println(BenchMarkdown.document(run.results(), run.machine(), List.of()));
            System.out.println("results: " + run.dir());
        } else {
            MachineInfo machine = MachineInfo.collect(command.strip(), options.device());
            BenchResults results = BenchSuite.run(options, System.out, null);
            System.out.println(BenchMarkdown.document(results, machine, List.of()));
        }
    }
}
