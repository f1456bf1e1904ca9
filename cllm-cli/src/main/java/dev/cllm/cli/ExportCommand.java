package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code ./cllm export}: a checkpoint's weights (without training state) in another storage precision. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write a checkpoint's weights, config and tokenizer files to a new directory, in f32, bf16 or "
                + "f16 (for shipping a trained model without its training state)."})
final class ExportCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "a Hugging Face checkpoint")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "the directory to write (must not "
            + "exist or be empty)")
    Path out;

    @Option(names = "--dtype", defaultValue = "bf16", paramLabel = "TYPE",
            description = "storage precision: f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(model.resolve("config.json"))) {
            throw new IllegalArgumentException("--model " + model + ": no config.json");
        }
        if (Files.exists(out)) {
            try (var entries = Files.list(out)) {
                if (entries.findAny().isPresent()) {
                    throw new IllegalArgumentException("--out " + out + ": exists and is not empty");
                }
            }
        }
        ComputeDtype storage = ComputeDtype.parse(dtype);
        if (storage == ComputeDtype.AUTO) {
            throw new IllegalArgumentException("--dtype: choose f32, bf16 or f16");
        }
        LlamaConfig config = LlamaConfig.read(model.resolve("config.json"));
        try (LlamaModel llama = LlamaModel.load(model, config,
                new TorchOptions("cpu", ComputeDtype.F32, CpuGemm.BLAS))) {
            dev.cllm.train.HfExport.save(llama, out, storage, dev.cllm.train.HfExport.DEFAULT_MAX_SHARD_BYTES);
        }
        dev.cllm.train.HfExport.copyCompanionFiles(model, out);
        System.out.println(new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("dtype", storage.name().toLowerCase(java.util.Locale.ROOT)));
        return 0;
    }
}
