package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.train.gguf.GgufExport;
import dev.cllm.train.gguf.GgufExporter;
import dev.cllm.train.gguf.GgufType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * {@code ./cllm export}: a checkpoint's weights (without training state) in another storage precision, as a Hugging
 * Face checkpoint or as one GGUF file for llama.cpp.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = {"Write a checkpoint's weights, config and tokenizer files to a new directory, in f32, bf16 or "
                + "f16 (for shipping a trained model without its training state); or, with --to gguf, one GGUF file "
                + "that llama.cpp (and everything built on it) runs, weights in f32, f16 or q8_0."})
final class ExportCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "a Hugging Face checkpoint")
    Path model;

    @Option(names = "--out", required = true, paramLabel = "DIR|FILE.gguf",
            description = "the directory to write (must not exist or be empty), or with --to gguf the file")
    Path out;

    @Option(names = "--to", defaultValue = "hf", paramLabel = "hf|gguf",
            description = "the format: hf (a Hugging Face checkpoint directory) or gguf (default: ${DEFAULT-VALUE})")
    String to;

    @Option(names = "--dtype", defaultValue = "bf16", paramLabel = "TYPE",
            description = "hf storage precision: f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Option(names = "--type", defaultValue = "f16", paramLabel = "TYPE",
            description = "gguf weight type: f32, f16, q8_0 (default: ${DEFAULT-VALUE})")
    String type;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(model.resolve("config.json"))) {
            throw new IllegalArgumentException("--model " + model + ": no config.json");
        }
        if (to.equals("gguf")) {
            return gguf();
        }
        if (!to.equals("hf")) {
            throw new IllegalArgumentException("--to " + to + ": choose hf or gguf");
        }
        if (!dev.cllm.train.HfExport.isAbsentOrEmptyDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + ": exists and is not an empty directory");
        }
        ComputeDtype storage = storage(dtype);
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

    /** The storage precision that {@code --dtype} names: f32, bf16 or f16. */
    static ComputeDtype storage(String dtype) {
        ComputeDtype storage = ComputeDtype.parse(dtype);
        if (storage == ComputeDtype.AUTO) {
            throw new IllegalArgumentException("--dtype: choose f32, bf16 or f16");
        }
        return storage;
    }

    private int gguf() {
        if (Files.isDirectory(out)) {
            throw new IllegalArgumentException("--out " + out + ": a directory; --to gguf writes one file");
        }
        GgufExport e = GgufExporter.export(model, out, GgufType.parse(type));
        System.out.println(new ObjectMapper().createObjectNode().put("out", e.file().toString())
                .put("architecture", e.architecture()).put("type", e.type().name().toLowerCase(java.util.Locale.ROOT))
                .put("tensors", e.tensors()).put("bytes", e.fileBytes()).put("tokenizer", e.tokenizerModel())
                .put("vocabulary", e.vocabulary().name().toLowerCase(java.util.Locale.ROOT))
                .put("vocab_size", e.vocabSize()));
        return 0;
    }
}
