package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.SafetensorsFile;
import dev.cllm.torch.TorchOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * What a checkpoint saves of a run and what a resume checks and restores: the model (with fp32 master weights when
 * it is stored in lower precision), the optimizer moments, and {@code trainer/state.json}, which records the step
 * reached, the run's {@link TrainingPlan} (the configuration field by field, the data fingerprint, the step count)
 * and the last step's losses. The files and the atomic swap are {@link CheckpointDirectory}'s.
 *
 * <p>State format 2 records the configuration as an object ({@link TrainingConfigJson}); format 1 recorded only
 * {@code TrainingConfig.toString()}, so a format-1 checkpoint is checked on that summary as it was then, and its
 * next save writes format 2.
 */
final class TrainingCheckpoints {
    // the trainer's log: one logger for everything a run reports
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    static final int FORMAT_VERSION = 2;

    private final CheckpointDirectory out;
    private final TrainingPlan plan;
    private final ComputeDtype storage;
    private final Path carryFrom;
    private final String startedFrom;

    /**
     * @param storage     precision of the saved model weights
     * @param carryFrom   directory whose tokenizer and generation files every checkpoint copies, or null
     * @param startedFrom the base model (or the random initialisation) the run started from, as recorded
     */
    TrainingCheckpoints(CheckpointDirectory out, TrainingPlan plan, ComputeDtype storage, Path carryFrom,
                        String startedFrom) {
        this.out = out;
        this.plan = plan;
        this.storage = storage;
        this.carryFrom = carryFrom;
        this.startedFrom = startedFrom;
    }

    Path path() {
        return out.path();
    }

    /**
     * The state of the checkpoint to resume from, after finishing or undoing a swap a crash interrupted; null when
     * the output holds none.
     *
     * @throws IllegalArgumentException when the checkpoint was trained with other settings or data, or for another
     *                                  number of steps, naming each difference
     */
    JsonNode resumable() throws IOException {
        out.recover();
        if (!out.hasState()) {
            return null;
        }
        JsonNode state = out.readState();
        check(state);
        return state;
    }

    private void check(JsonNode state) {
        int format = state.path("format_version").asInt(1);
        if (format > FORMAT_VERSION) {
            throw new IllegalArgumentException(out.path() + " holds training state of format " + format
                    + "; this version reads formats up to " + FORMAT_VERSION);
        }
        JsonNode saved = state.path("config");
        if (format == 1) {   // only the rounded summary was recorded
            if (!saved.asText().equals(plan.config().toString())) {
                throw new IllegalArgumentException(out.path() + " was trained with " + saved.asText()
                        + "; this run has " + plan.config() + ": use another --out or the same settings to resume");
            }
        } else {
            List<String> differences = TrainingConfigJson.resumeDifferences(saved,
                    TrainingConfigJson.write(plan.config()));
            if (!differences.isEmpty()) {
                throw new IllegalArgumentException(out.path() + " was trained with other settings (checkpoint vs this "
                        + "run): " + String.join(", ", differences) + ": use another --out or the same settings to "
                        + "resume");
            }
        }
        if (!state.path("data").asText().equals(plan.data())) {
            throw new IllegalArgumentException(out.path() + " was trained on other data (" + state.path("data")
                    .asText() + ", now " + plan.data() + "): use another --out or the same data to resume");
        }
        String anchoredTo = state.path("base_model").asText();
        if (plan.config().anchorWeight() > 0 && !anchoredTo.equals(startedFrom)) {   // the anchor is the base model
            throw new IllegalArgumentException(out.path() + " was trained anchored to " + anchoredTo + "; this run's "
                    + "base model is " + startedFrom + ": the anchor term must keep its model, give the same --model "
                    + "to resume");
        }
        if (state.path("total_steps").asLong() != plan.totalSteps()) {
            throw new IllegalArgumentException(out.path() + " was planned for " + state.path("total_steps").asLong()
                    + " steps, this run for " + plan.totalSteps());
        }
    }

    /** The optimizer steps a checkpoint's state records. */
    static long step(JsonNode state) {
        return state.get("step").asLong();
    }

    /** The checkpoint's model for training (fp32 on {@code options}' device), with its master weights if saved. */
    LlamaModel loadModel(TorchOptions options) {
        LlamaModel model = LlamaModel.load(out.path(), LlamaConfig.read(out.path().resolve("config.json")), options);
        if (Files.isRegularFile(out.masterFile())) {
            try (SafetensorsFile in = SafetensorsFile.open(out.masterFile()); PointerScope scope = new PointerScope();
                 NoGradGuard noGrad = new NoGradGuard()) {
                for (Map.Entry<String, Tensor> e : model.weights().entrySet()) {
                    e.getValue().copy_(in.read(e.getKey()));
                }
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
        }
        return model;
    }

    /** Loads the checkpoint's optimizer moments into {@code optimizer}. */
    void restore(AdamW optimizer) {
        optimizer.load(out.optimizerFile());
    }

    /** Saves the model, the optimizer and the state after {@code step} steps ({@code last}: that step, or null). */
    void save(LlamaModel model, AdamW optimizer, long step, StepResult last) throws IOException {
        ObjectNode state = JSON.createObjectNode();
        state.put("format_version", FORMAT_VERSION);
        state.put("step", step);
        state.put("total_steps", plan.totalSteps());
        state.set("config", TrainingConfigJson.write(plan.config()));
        state.put("data", plan.data());
        state.put("base_model", startedFrom);
        if (last != null) {
            state.put("loss", last.loss).put("consistency_loss", last.consistency).put("ar_loss", last.ar);
        }
        out.save(model, storage, optimizer, state, carryFrom);
        LOG.info("{}: checkpoint at step {}", out.path(), step);
    }
}
