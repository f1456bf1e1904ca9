package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrainingConfig;
import dev.cllm.train.JacobiEvaluator;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.HfTokenizer;
import dev.cllm.train.Rendezvous;
import dev.cllm.data.PromptFile;
import dev.cllm.train.TorchConsistencyTrainer;
import dev.cllm.data.TrajectoryReader;
import dev.cllm.data.TrajectoryRecord;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code ./cllm train}: consistency training of a model on its Jacobi trajectories. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Consistency-train a model on a trajectory dataset (./cllm collect) into a CLLM.",
                "Loss = consistency + w * AR (Kou et al. 2024); defaults are the CLLM authors'."})
final class TrainCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "the target model (HF checkpoint)")
    Path model;

    @Option(names = "--data", required = true, paramLabel = "FILE.jsonl", description = "trajectories (ours or the "
            + "authors' format)")
    Path data;

    @Mixin
    TrainingOptions training;

    @Mixin
    DistributedOptions distributed;

    @Spec
    CommandSpec spec;

    @Option(names = "--loss", defaultValue = "global", paramLabel = "global|local",
            description = "consistency loss (default: ${DEFAULT-VALUE})")
    String loss;

    @Option(names = "--distance", defaultValue = "forward", paramLabel = "forward|reverse",
            description = "KL direction (default: ${DEFAULT-VALUE}, the authors' soft cross-entropy)")
    String distance;

    @Option(names = "--ar-weight", paramLabel = "W", description = "weight of the AR loss (default: the authors' 10)")
    Double arWeight;

    @Option(names = "--ar-target", defaultValue = "teacher", paramLabel = "teacher|labels",
            description = "AR loss on the model's own output or on the ground-truth answers where the data has them "
                    + "(collect's prompts with \"answer\"; jacobi-forcing packs them after the blocks)")
    String arTarget;

    @Option(names = "--anchor-weight", defaultValue = "0", paramLabel = "B",
            description = "weight of an anchor term, KL(--model's distribution || the trained model's) on the AR "
                    + "term's positions, --model kept frozen beside the trained copy (default: ${DEFAULT-VALUE}, off, "
                    + "the authors' objectives)")
    double anchorWeight;

    @Option(names = "--states", defaultValue = "one", paramLabel = "one|all",
            description = "trajectory states per record and epoch: one sampled (the authors') or all")
    String states;

    @Option(names = "--objective", defaultValue = "consistency", paramLabel = "consistency|jacobi-forcing",
            description = "CLLM consistency training, or Jacobi Forcing: each answer's noisy and clean blocks packed "
                    + "into one sequence, both losses from one pass (default: ${DEFAULT-VALUE})")
    String objective;

    @Option(names = "--noise-window", paramLabel = "W", description = "Jacobi Forcing: the noise levels cycle over "
            + "windows of W blocks (default: the paper's 16)")
    Integer noiseWindow;

    @Option(names = "--noise-schedule", defaultValue = "linear", paramLabel = "linear|random|reverse",
            description = "Jacobi Forcing: each block's target noise rises through its window, is drawn at random, or "
                    + "falls (default: ${DEFAULT-VALUE}, the paper's progressive schedule with its authors' code's "
                    + "levels, linspace(0, 1, w))")
    String noiseSchedule;

    @Option(names = "--ar-on-prompt", defaultValue = "true", arity = "1", paramLabel = "true|false",
            description = "Jacobi Forcing: the AR term also scores the prompt (default: ${DEFAULT-VALUE}, the authors' "
                    + "code); false scores the answer only, for a base model trained on answers only")
    boolean arOnPrompt;

    @Option(names = "--eval-prompts", paramLabel = "FILE", description = "held-out prompts for the evaluation hook")
    Path evalPrompts;

    @Option(names = "--eval-every", defaultValue = "0", paramLabel = "N",
            description = "evaluate every N steps (and at the start and end when --eval-prompts is given)")
    long evalEvery;

    @Option(names = "--eval-reference", paramLabel = "DIR",
            description = "the model whose greedy outputs on the held-out prompts are the fidelity reference "
                    + "(reference_ppl, agreements); default: the trained model at its first evaluation. Name the "
                    + "original base model when --model is an earlier stage of training")
    Path evalReference;

    @Option(names = "--eval-block-size", defaultValue = "16", paramLabel = "N")
    int evalBlockSize;

    @Option(names = "--eval-max-new-tokens", defaultValue = "64", paramLabel = "M")
    int evalMaxNewTokens;

    @Override
    public Integer call() throws Exception {
        if (distributed.launchesLocally()) {
            return distributed.launch(spec);
        }
        training.applyThreads();
        Rendezvous job = distributed.rendezvous();
        if (!Files.isRegularFile(data)) {
            throw new IllegalArgumentException("--data " + data + ": no such file");
        }
        if (evalReference != null && evalPrompts == null) {
            throw new IllegalArgumentException("--eval-reference " + evalReference + " needs --eval-prompts");
        }
        TrainingConfig.Builder b = TrainingConfig.builder()
                .consistencyLoss(TrainingConfig.ConsistencyLoss.valueOf(loss.toUpperCase(Locale.ROOT)))
                .distance(switch (distance) {
                    case "forward" -> TrainingConfig.Distance.FORWARD_KL;
                    case "reverse" -> TrainingConfig.Distance.REVERSE_KL;
                    default -> throw new IllegalArgumentException("--distance must be forward or reverse");
                })
                .arTarget(switch (arTarget) {
                    case "teacher" -> TrainingConfig.ArTarget.TEACHER_OUTPUT;
                    case "labels" -> TrainingConfig.ArTarget.LABELS;
                    default -> throw new IllegalArgumentException("--ar-target must be teacher or labels");
                })
                .stateSampling(switch (states) {
                    case "one" -> TrainingConfig.StateSampling.ONE_SAMPLED;
                    case "all" -> TrainingConfig.StateSampling.ALL;
                    default -> throw new IllegalArgumentException("--states must be one or all");
                })
                .objective(switch (objective) {
                    case "consistency" -> TrainingConfig.Objective.CONSISTENCY;
                    case "jacobi-forcing" -> TrainingConfig.Objective.JACOBI_FORCING;
                    default -> throw new IllegalArgumentException("--objective must be consistency or jacobi-forcing");
                })
                .noiseSchedule(switch (noiseSchedule) {
                    case "linear" -> TrainingConfig.NoiseSchedule.LINEAR;
                    case "random" -> TrainingConfig.NoiseSchedule.RANDOM;
                    case "reverse" -> TrainingConfig.NoiseSchedule.REVERSE;
                    default -> throw new IllegalArgumentException("--noise-schedule must be linear, random or reverse");
                })
                .evalEvery(evalEvery);
        if (arWeight != null) {
            b.arWeight(arWeight);
        }
        if (noiseWindow != null) {
            b.noiseWindow(noiseWindow);
        }
        b.arOnPrompt(arOnPrompt);
        b.anchorWeight(anchorWeight);
        TrainingConfig config = training.apply(b).build();
        List<TrajectoryRecord> records = data.toString().endsWith(".json")
                ? readAuthors(data) : TrajectoryReader.readAll(data);
        TorchConsistencyTrainer.Builder trainer = TorchConsistencyTrainer.builder().baseModel(model)
                .trajectories(records, data.getFileName() + " (" + records.size() + " records)").config(config)
                .output(training.out).storageDtype(training.storage())
                .device(distributed.device(training.device, job));
        if (evalPrompts != null) {
            Path tokenizerFile = model.resolve("tokenizer.json");
            List<TokenIds> prompts;
            if (Files.isRegularFile(tokenizerFile)) {   // text prompts need the model's tokenizer
                try (HfTokenizer t = HfTokenizer.open(tokenizerFile)) {
                    prompts = PromptFile.of(evalPrompts, t).read().stream().map(p -> p.ids()).toList();
                }
            } else {
                prompts = PromptFile.of(evalPrompts).read().stream().map(p -> p.ids()).toList();
            }
            JacobiEvaluator evaluator = new JacobiEvaluator(prompts, evalBlockSize, evalMaxNewTokens);
            if (evalReference != null && (job == null || job.isLeader())) {   // only the leader evaluates
                try (TorchConsistencyModel reference = TorchConsistencyModel.load(evalReference,
                        new TorchOptions(distributed.device(training.device, job), ComputeDtype.F32))) {
                    evaluator.withReferenceFrom(reference);
                }
            }
            trainer.evaluator(evaluator);
        }
        TorchConsistencyTrainer t = trainer.distributed(job).build();
        return TrainingOptions.trainAndReport(t, job, s -> JSON.createObjectNode()
                .put("steps", s.steps()).put("final_loss", s.finalLoss())
                .put("consistency_loss", s.consistencyLoss()).put("ar_loss", s.arLoss())
                .put("elapsed_ms", s.elapsedMillis()).put("out", s.output()));
    }

    private static List<TrajectoryRecord> readAuthors(Path file) {
        List<TrajectoryRecord> out = new java.util.ArrayList<>();
        dev.cllm.data.AuthorsFormat.read(file, out::add);
        return out;
    }
}
