package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.train.WeightAverage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code ./cllm average}: the uniform average of fine-tuned checkpoints' weights ({@link WeightAverage}). */
@Command(name = "average", mixinStandardHelpOptions = true,
        description = {"Average the weights of two or more checkpoints fine-tuned from the same model (a \"model "
                + "soup\": e.g. one training recipe run with several seeds) into one checkpoint, in fp32, stored in "
                + "f32, bf16 or f16. Their configs must match; the first model's config and tokenizer files are "
                + "copied."})
final class AverageCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "a checkpoint to average (repeat: at least two)")
    List<Path> models;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "the directory to write (must not exist or be empty)")
    Path out;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "TYPE",
            description = "storage precision: f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Override
    public Integer call() throws Exception {
        ComputeDtype storage = ExportCommand.storage(dtype);
        WeightAverage.write(models, out, storage);
        ObjectNode json = new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("models", models.size()).put("dtype", storage.name().toLowerCase(Locale.ROOT));
        System.out.println(json);
        return 0;
    }
}
