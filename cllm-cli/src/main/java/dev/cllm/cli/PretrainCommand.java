package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.Prompt;
import dev.cllm.api.TrainingConfig;
import dev.cllm.torch.HfTokenizer;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.data.PromptFile;
import dev.cllm.train.TorchConsistencyTrainer;
import picocli.CommandLine.Command;
import dev.cllm.train.Rendezvous;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ./cllm pretrain}: a base model from scratch (next-token loss only) through the trainer's machinery. */
@Command(name = "pretrain", mixinStandardHelpOptions = true,
        description = {"Train a LLaMA model from scratch with the next-token (AR) loss.",
                "The corpus uses the prompts-file format; each example is the prompt followed by its answer."})
final class PretrainCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Option(names = "--config", required = true, paramLabel = "CONFIG.json",
            description = "a Hugging Face config.json describing the architecture")
    Path config;

    @Option(names = "--corpus", required = true, paramLabel = "FILE",
            description = "JSON lines {\"prompt\"|\"prompt_ids\", \"answer\"|\"answer_ids\"} or text lines")
    Path corpus;

    @Option(names = "--tokenizer", paramLabel = "tokenizer.json",
            description = "for text in the corpus; copied (with its tokenizer_config.json) into every checkpoint")
    Path tokenizer;

    @Option(names = "--append-eos", description = "end every example with the config's first EOS id")
    boolean appendEos;

    @Option(names = "--answer-loss", description = "score only the answer tokens (and the appended EOS), not the "
            + "prompt: a conditional model of answers given prompts")
    boolean answerLoss;

    @Mixin
    TrainingOptions training;

    @Mixin
    DistributedOptions distributed;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (distributed.launchesLocally()) {
            return distributed.launch(spec);
        }
        training.applyThreads();
        Rendezvous job = distributed.rendezvous();
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException("--config " + config + ": no such file");
        }
        if (!Files.isRegularFile(corpus)) {
            throw new IllegalArgumentException("--corpus " + corpus + ": no such file");
        }
        LlamaConfig architecture = LlamaConfig.read(config);
        List<Prompt> examples;
        if (tokenizer != null) {
            try (HfTokenizer t = HfTokenizer.open(tokenizer)) {
                examples = PromptFile.of(corpus, t).read();
            }
        } else {
            examples = PromptFile.of(corpus).read();
        }
        int eos = architecture.eosTokenIds().stream().mapToInt(Integer::intValue).min().orElse(-1);
        if (appendEos && eos < 0) {
            throw new IllegalArgumentException("--append-eos: " + config + " declares no eos_token_id");
        }
        List<int[]> sequences = new ArrayList<>();
        int[] lossStarts = new int[examples.size()];
        for (Prompt p : examples) {
            lossStarts[sequences.size()] = answerLoss ? p.ids().size() : 0;
            int[] s = p.ids().concat(p.answer()).toArray();
            if (appendEos) {
                s = java.util.Arrays.copyOf(s, s.length + 1);
                s[s.length - 1] = eos;
            }
            sequences.add(s);
        }
        TrainingConfig trainingConfig = training.apply(TrainingConfig.builder()
                .objective(TrainingConfig.Objective.LANGUAGE_MODEL)).build();
        TorchConsistencyTrainer.Builder trainer = TorchConsistencyTrainer.builder().fromScratch(architecture)
                .sequences(sequences, lossStarts, corpus.getFileName() + " (" + sequences.size() + " sequences)")
                .config(trainingConfig).output(training.out).storageDtype(training.storage())
                .device(distributed.device(training.device, job));
        if (tokenizer != null) {
            trainer.carryFilesFrom(tokenizer.toAbsolutePath().getParent());
        }
        TorchConsistencyTrainer t = trainer.distributed(job).build();
        return TrainingOptions.trainAndReport(t, job, s -> JSON.createObjectNode()
                .put("steps", s.steps()).put("final_loss", s.finalLoss()).put("ar_loss", s.arLoss())
                .put("elapsed_ms", s.elapsedMillis()).put("out", s.output()));
    }
}
