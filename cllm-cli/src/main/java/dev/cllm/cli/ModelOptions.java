package dev.cllm.cli;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** Options every command that loads a model shares. */
final class ModelOptions {
    @Option(names = "--model", paramLabel = "DIR",
            description = "Hugging Face checkpoint directory (default: the embedded models/stories260K)")
    Path model;

    @Option(names = "--device", paramLabel = "DEV", defaultValue = "auto",
            description = "auto, cpu, cuda or cuda:N (default: ${DEFAULT-VALUE})")
    String device;

    @Option(names = "--dtype", paramLabel = "TYPE", defaultValue = "auto",
            description = "compute dtype: auto (fp32 on CPU, bf16 on CUDA), f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--weights", paramLabel = "FORMAT", defaultValue = "auto",
            description = "weight format of the projections on CPU (fp32 compute): auto (fp16 for bf16/fp16 "
                    + "checkpoints, else as stored), f32, f16, f16-only (fp16 without the fp32 matrices: a third "
                    + "of f16's memory, same results), int8 (per-channel int8: a different, slightly less "
                    + "accurate model, 4x smaller; Jacobi decoding stays lossless with respect to AR on it) "
                    + "(default: ${DEFAULT-VALUE})")
    String weights;

    @Option(names = "--threads", paramLabel = "N",
            description = "libtorch intra-op threads (default: measured per machine, see README)")
    Integer threads;

    @Option(names = "--blas-threads", paramLabel = "N", description = "OpenBLAS threads")
    Integer blasThreads;

    Path modelDir() {
        return model != null ? model : Cli.defaultModel();
    }

    TorchConsistencyModel load() {
        setThreads(threads, blasThreads);
        return TorchConsistencyModel.load(modelDir(),
                new TorchOptions(device, ComputeDtype.parse(dtype), CpuGemm.forWeights(weights)));
    }

    /**
     * Sets this process's libtorch and OpenBLAS threads from a command's {@code --threads} and {@code --blas-threads}
     * (either may be null: that count stays as it is); nothing if both are null.
     */
    static void setThreads(Integer threads, Integer blasThreads) {
        if (threads == null && blasThreads == null) {
            return;
        }
        TorchRuntime.ensureLoaded();
        TorchRuntime.setThreads(threads != null ? threads : TorchRuntime.torchThreads(),
                blasThreads != null ? blasThreads : TorchRuntime.blasThreads());
    }
}
