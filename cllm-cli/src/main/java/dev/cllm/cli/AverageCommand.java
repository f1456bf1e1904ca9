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
                + "f32, bf16 or f16, uniformly or with --weights (a CLLM moved toward its base model). Their configs "
                + "must match; the first model's config and tokenizer files are copied."})
final class AverageCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR",
            description = "a checkpoint to average (repeat: at least two)")
    List<Path> models;

    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "the directory to write (must not exist or be empty)")
    Path out;

    @Option(names = "--weights", split = ",", paramLabel = "W",
            description = "one weight per --model, in order: the weighted mean sum(w m) / sum(w) (default: all 1). "
                    + "--model BASE --model CLLM --weights 1,3 moves the CLLM a quarter of the way back to its base")
    List<Double> weights;

    @Option(names = "--dtype", defaultValue = "f32", paramLabel = "TYPE",
            description = "storage precision: f32, bf16, f16 (default: ${DEFAULT-VALUE})")
    String dtype;

    @Override
    public Integer call() throws Exception {
        ComputeDtype storage = ExportCommand.storage(dtype);
        if (weights == null) {
            WeightAverage.write(models, out, storage);
        } else {
            if (weights.size() != models.size()) {
                throw new IllegalArgumentException("--weights: " + weights.size() + " weights for " + models.size()
                        + " models (one per --model, in order)");
            }
            WeightAverage.write(models, weights.stream().mapToDouble(Double::doubleValue).toArray(), out, storage);
        }
        ObjectNode json = new ObjectMapper().createObjectNode().put("out", out.toString())
                .put("models", models.size()).put("dtype", storage.name().toLowerCase(Locale.ROOT));
        if (weights != null) {
            weights.forEach(json.putArray("weights")::add);
        }
        System.out.println(json);
        return 0;
    }
}
