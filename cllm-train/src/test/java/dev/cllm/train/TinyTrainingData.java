package dev.cllm.train;

import dev.cllm.data.TrajectoryRecord;
import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.TinyCheckpoints;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A tiny random base model (EOS id 2) and its own Jacobi trajectories on six prompts (block size 4, 24 new tokens):
 * the training data of the trainer tests.
 */
record TinyTrainingData(Path base, List<TrajectoryRecord> records) {
    private static final com.fasterxml.jackson.databind.ObjectMapper MAPPER =
            new com.fasterxml.jackson.databind.ObjectMapper();

    /** Writes the base model under {@code dir/base} and collects the trajectories. */
    static TinyTrainingData collect(Path dir) throws IOException {
        return collect(dir, 11);
    }

    /** {@link #collect(Path)} with the base model's weights drawn from {@code seed}. */
    static TinyTrainingData collect(Path dir, long seed) throws IOException {
        Path base = TinyCheckpoints.variants().get(0).write(dir.resolve("base"), seed);
        Files.writeString(base.resolve("generation_config.json"), "{\"eos_token_id\": 2}\n");
        List<TrajectoryRecord> records = new ArrayList<>();
        JacobiTrajectoryCollector collector = JacobiTrajectoryCollector.builder().blockSize(4).maxNewTokens(24)
                .stopOnEos(false).build();
        try (TorchConsistencyModel model = TorchConsistencyModel.load(base, TorchOptions.defaults().withDevice("cpu"));
             DecodingSession session = model.newSession()) {
            for (int p = 0; p < 6; p++) {
                Prompt prompt = Prompt.of(p, TokenIds.of(1, 10 + p, 20 + 2 * p));
                for (Trajectory t : collector.collect(session, prompt).trajectories()) {
                    records.add(TrajectoryRecord.of(t, prompt.ids().size()));
                }
            }
        }
        return new TinyTrainingData(base, List.copyOf(records));
    }

    /**
     * The base model as a trainable {@link LlamaModel} (fp32, parameters requiring gradients), its final norm scaled by
     * {@code sharpen}: a random model's next-token distributions are nearly uniform, so two of them would agree to a
     * KL of 1e-3, where rounding alone is a visible share; sharper logits make the loss terms large against it.
     */
    LlamaModel sharpened(double sharpen) {
        LlamaModel model = LlamaModel.load(base, LlamaConfig.read(base.resolve("config.json")),
                new TorchOptions("cpu", ComputeDtype.F32, CpuGemm.BLAS));
        try (PointerScope scope = new PointerScope()) {
            model.weights().get("norm").mul_(new Scalar(sharpen));
        }
        model.weights().values().forEach(p -> p.requires_grad_(true));
        return model;
    }

    /** The per-step lines (those with a loss) of the metrics file of the run that writes {@code out}. */
    static List<JsonNode> metrics(Path out) throws IOException {
        List<JsonNode> lines = new ArrayList<>();
        for (String line : Files.readAllLines(out.resolveSibling(out.getFileName() + ".metrics.jsonl"))) {
            JsonNode n = MAPPER.readTree(line);
            if (n.has("loss")) {
                lines.add(n);
            }
        }
        return lines;
    }
}
