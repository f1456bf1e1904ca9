package dev.cllm.cli;

import dev.cllm.examples.blend.BlendSearch;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.TorchRuntime;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ./cllm blend}: a CLLM moved toward its base model as far as a validation split asks ({@link BlendSearch}). */
@Command(name = "blend", mixinStandardHelpOptions = true,
        description = {"Move a CLLM back toward its base model by as little as keeps its accuracy: for each share a "
                + "of the CLLM (--alphas), the blend base + a (CLLM - base) is decoded with Jacobi decoding on "
                + "validation questions of the base model's task (drawn like the held-out questions, never one of "
                + "them), and the blend with the most tokens per pass whose accuracy is within --tolerance points "
                + "of the base model's is written to --out, with blend.json listing every candidate. On stdout: "
                + "that report as one JSON object."})
final class BlendCommand implements Callable<Integer> {
    @Option(names = "--task", paramLabel = "sql|math", defaultValue = "sql",
            description = "the base model's task (default: ${DEFAULT-VALUE})")
    String task;

    @Option(names = "--base", required = true, paramLabel = "DIR", description = "the base model's checkpoint")
    Path base;

    @Option(names = "--cllm", required = true, paramLabel = "DIR",
            description = "the CLLM's checkpoint, fine-tuned from the base model")
    Path cllm;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "the directory to write the chosen blend to (must not exist or be empty)")
    Path out;

    @Option(names = "--validation", paramLabel = "N", defaultValue = "1000",
            description = "validation questions (default: ${DEFAULT-VALUE})")
    int validation;

    @Option(names = "--alphas", split = ",", paramLabel = "A",
            description = "the shares of the CLLM to try, each in (0, 1] "
                    + "(default: 1, 7/8, 5/6, 4/5, 3/4, 2/3, 3/5, 1/2)")
    List<Double> alphas;

    @Option(names = "--tolerance", paramLabel = "POINTS", defaultValue = "0.5",
            description = "accuracy points the blend may lose against the base model (default: ${DEFAULT-VALUE})")
    double tolerance;

    @Option(names = "--block-size", paramLabel = "N",
            description = "the Jacobi block size to decode with (default: 8 for sql, 16 for math, as the demo)")
    Integer blockSize;

    @Option(names = "--max-new-tokens", paramLabel = "N",
            description = "most tokens per answer (default: 64 for sql, 160 for math, as the demo)")
    Integer maxNewTokens;

    @Option(names = "--dtype", paramLabel = "TYPE",
            description = "the blend's storage precision: f32, bf16, f16 (default: the CLLM's)")
    String dtype;

    @Option(names = "--threads", paramLabel = "N", description = "libtorch intra-op threads")
    Integer threads;

    @Override
    public Integer call() {
        ComputeDtype storage = dtype != null ? ExportCommand.storage(dtype) : storageOf(cllm);
        BlendSearch.Options options = new BlendSearch.Options(task, base, cllm, out, validation,
                blockSize != null ? blockSize : DemoCommand.defaultBlockSize(task),
                maxNewTokens != null ? maxNewTokens : DemoCommand.defaultMaxNewTokens(task),
                alphas != null ? alphas : BlendSearch.DEFAULT_ALPHAS, tolerance, storage);
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads must be >= 1, got " + threads);
            }
            TorchRuntime.setThreads(threads, TorchRuntime.blasThreads());
        }
        BlendSearch.Result result = BlendSearch.run(options);
        System.out.println(result.toJson().put("out", out.toString()));
        return 0;
    }

    /** The storage precision {@code dir}'s config declares (f32 when it declares none). */
    private static ComputeDtype storageOf(Path dir) {
        Path config = dir.resolve("config.json");
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException("--cllm " + dir + ": not a checkpoint directory (no config.json)");
        }
        String declared = LlamaConfig.read(config).torchDtype();
        if (declared == null) {
            return ComputeDtype.F32;
        }
        try {
            return ExportCommand.storage(declared);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(config + ": torch_dtype " + declared + " is not a storage precision "
                    + "a blend can be written in; pass --dtype f32, bf16 or f16", e);
        }
    }
}
