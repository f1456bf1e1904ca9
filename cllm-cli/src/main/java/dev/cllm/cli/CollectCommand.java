package dev.cllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.jacobi.BlockInitializer;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.train.Collectives;
import dev.cllm.train.Rendezvous;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.data.CollectionJob;
import dev.cllm.data.CollectionSummary;
import dev.cllm.data.PromptFile;
import dev.cllm.data.RepetitionFilter;
import dev.cllm.train.DistributedCollection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code ./cllm collect}: a Jacobi trajectory dataset for consistency training, resumable and shardable. */
@Command(name = "collect", mixinStandardHelpOptions = true,
        description = {"Collect Jacobi trajectories (one JSON line per block) for consistency training.",
                "Rerunning the same command resumes; --shard I/N collects one of N contiguous slices.",
                "As a job of W processes (--local-processes W, or --world-size/--rank/--master), rank R collects "
                        + "shard R/W into OUT.parts/ and rank 0 merges the shards into OUT."})
final class CollectCommand implements Callable<Integer> {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    DistributedOptions distributed;

    @Spec
    CommandSpec spec;

    @Option(names = "--prompts", required = true, paramLabel = "FILE",
            description = "JSON lines {\"prompt\":...} or {\"prompt_ids\":[...]}, optionally with \"answer\" or "
                    + "\"answer_ids\"; or plain text, one prompt per line")
    Path prompts;

    @Option(names = "--out", required = true, paramLabel = "FILE.jsonl", description = "the dataset to write or resume")
    Path out;

    @Option(names = "--block-size", defaultValue = "16", paramLabel = "N", description = "n (default: ${DEFAULT-VALUE})")
    int blockSize;

    @Option(names = "--max-new-tokens", defaultValue = "256", paramLabel = "M",
            description = "new tokens per prompt, rounded up to whole blocks (default: ${DEFAULT-VALUE})")
    int maxNewTokens;

    @Option(names = "--no-stop", description = "do not stop a prompt at EOS")
    boolean noStop;

    @Option(names = "--shard", paramLabel = "I/N", description = "collect slice I of N (0-based), e.g. 0/4")
    String shard;

    @Option(names = "--limit", paramLabel = "K", description = "use only the first K prompts (before sharding)")
    Long limit;

    @Option(names = "--augment", description = "add augmented copies of trajectories (the authors' --use_aug)")
    boolean augment;

    @Option(names = "--init", defaultValue = "context", paramLabel = "context|repeat",
            description = "initial guesses (default: ${DEFAULT-VALUE})")
    String init;

    @Option(names = "--seed", defaultValue = "0", description = "seed of guesses and augmentation")
    long seed;

    @Option(names = "--max-run", defaultValue = "10", paramLabel = "R",
            description = "drop records with a run of R identical tokens (the authors' 10; 0 = off)")
    int maxRun;

    @Option(names = "--ngram", defaultValue = "4", paramLabel = "G", description = "n-gram size of the repetition check")
    int ngram;

    @Option(names = "--max-ngram-repeats", defaultValue = "4", paramLabel = "K",
            description = "drop records where a G-gram occurs K times (default: ${DEFAULT-VALUE})")
    int maxNgramRepeats;

    @Option(names = "--no-clean", description = "keep repetitive records")
    boolean noClean;

    @Override
    public Integer call() throws Exception {
        if (!Files.isRegularFile(prompts)) {
            throw new IllegalArgumentException("--prompts " + prompts + ": no such file");
        }
        if (distributed.launchesLocally()) {
            return distributed.launch(spec);
        }
        Rendezvous job = distributed.rendezvous();
        if (job != null && shard != null) {
            throw new IllegalArgumentException("--shard is chosen by the job's rank; give one or the other");
        }
        int shardIndex = job == null ? 0 : job.rank();
        int shardCount = job == null ? 1 : job.worldSize();
        if (shard != null) {
            String[] parts = shard.split("/");
            try {
                shardIndex = Integer.parseInt(parts[0]);
                shardCount = Integer.parseInt(parts[1]);
            } catch (RuntimeException e) {
                throw new IllegalArgumentException("--shard must be I/N, e.g. 0/4; got '" + shard + "'");
            }
        }
        modelOptions.device = distributed.device(modelOptions.device, job);
        if (job != null && job.worldSize() > 1) {
            int ranks = shardCount;
            try (Collectives group = Collectives.storeOnly(job)) {   // the ranks exchange only metadata
                DistributedCollection.Result r = DistributedCollection.run(group, out,
                        file -> collect(file, group.rank(), ranks));
                if (r.merged() != null) {
                    ObjectNode o = summary(r.merged());
                    o.put("elapsed_ms", r.own().elapsedMillis() + r.merged().elapsedMillis());
                    o.put("ranks", ranks);
                    System.out.println(JSON.writeValueAsString(o));
                }
                return 0;
            }
        }
        CollectionSummary s = collect(out, shardIndex, shardCount);
        System.out.println(JSON.writeValueAsString(summary(s)));
        return s.complete() ? 0 : Cli.FAILURE;
    }

    private CollectionSummary collect(Path output, int shardIndex, int shardCount) {
        BlockInitializer initializer = BlockInitializer.named(init);
        JacobiTrajectoryCollector collector = JacobiTrajectoryCollector.builder().blockSize(blockSize)
                .maxNewTokens(maxNewTokens).stopOnEos(!noStop).initializer(initializer).seed(seed).build();
        try (TorchConsistencyModel model = modelOptions.load()) {
            RepetitionFilter cleaning = noClean ? RepetitionFilter.off()
                    : RepetitionFilter.defaults().withMaxRun(maxRun).withNgram(ngram, maxNgramRepeats)
                    .withEosTokenIds(model.config().eosTokenIds());
            CollectionJob.Builder job = CollectionJob.builder().model(model).collector(collector)
                    .prompts(model.tokenizer().map(t -> PromptFile.of(prompts, t)).orElseGet(() -> PromptFile.of(prompts)))
                    .output(output)
                    .modelDescription(modelOptions.modelDir().toAbsolutePath().normalize().getFileName() + " "
                            + model.llama().config())
                    .shard(shardIndex, shardCount).seed(seed).cleaning(cleaning).augment(augment);
            if (limit != null) {
                job.limit(limit);
            }
            return job.build().run();
        }
    }

    private static ObjectNode summary(CollectionSummary s) {
        ObjectNode o = JSON.createObjectNode();
        o.put("prompts", s.prompts());
        o.put("records", s.records());
        o.put("skipped", s.skipped());
        o.put("dropped_repetitive", s.droppedRepetitive());
        o.put("tokens_per_pass", s.tokensPerPass());
        o.put("elapsed_ms", s.elapsedMillis());
        return o;
    }
}
