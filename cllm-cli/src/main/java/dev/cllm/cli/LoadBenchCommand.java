package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.bench.LoadBenchmark;
import dev.cllm.bench.MachineInfo;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code ./cllm bench-load}: load time, peak resident memory and AR ms/token of one model ({@link LoadBenchmark}). */
@Command(name = "bench-load", mixinStandardHelpOptions = true,
        description = {"Load one model and report the load time, the process's resident memory before the load, at "
                + "its peak (VmHWM) and after it against the bytes of the loaded weights, then AR ms per token. "
                + "The peak is the process's: run one weight format per invocation."})
final class LoadBenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "dir:PATH (a checkpoint, e.g. one ./cllm init-random wrote), random-SHAPE, or another "
                    + "benchmark model name")
    String model;

    @Option(names = "--weights", paramLabel = "FORMAT", defaultValue = "auto",
            description = "auto, f32, f16, f16-only (fp16 without the fp32 matrices) or int8 "
                    + "(default: ${DEFAULT-VALUE})")
    String weights;

    @Option(names = "--prompt", paramLabel = "N", defaultValue = "16",
            description = "prompt tokens before the timed passes (default: ${DEFAULT-VALUE})")
    int prompt;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "8",
            description = "timed single-token passes after one warm-up pass (default: ${DEFAULT-VALUE})")
    int tokens;

    @Option(names = "--threads", paramLabel = "TORCH/BLAS", defaultValue = "default",
            description = "libtorch/OpenBLAS threads, or default (default: ${DEFAULT-VALUE})")
    String threads;

    @Option(names = "--json", description = "print one JSON object instead of the Markdown table")
    boolean json;

    @Override
    public Integer call() {
        String command = Cli.commandLine(spec);
        LoadBenchmark.Row row = LoadBenchmark.run(model, weights, prompt, tokens, threads, System.err);
        MachineInfo machine = MachineInfo.collect(command, "cpu");
        if (json) {
            ObjectMapper mapper = new ObjectMapper();
            ObjectNode out = mapper.createObjectNode();
            out.set("row", LoadBenchmark.json(row));
            out.set("machine", mapper.valueToTree(machine));
            System.out.println(out);
        } else {
            System.out.println(command);
            System.out.println(machine.summary());
            System.out.println();
            System.out.print(LoadBenchmark.markdown(row));
        }
        return 0;
    }
}
