package dev.cllm.examples;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.jacobi.BlockInitializer;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
import dev.cllm.torch.Collectives;
import dev.cllm.torch.Rendezvous;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.train.CollectionJob;
import dev.cllm.train.CollectionSummary;
import dev.cllm.train.PromptFile;
import dev.cllm.train.RepetitionFilter;
import dev.cllm.train.ShardMerge;
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
            try (Collectives group = Collectives.storeOnly(job)) {   // the ranks exchange only metadata
                return collectAsRank(group, shardIndex, shardCount);
            }
        }
        CollectionSummary s = collect(out, shardIndex, shardCount);
        System.out.println(JSON.writeValueAsString(summary(s)));
        return s.complete() ? 0 : Cli.FAILURE;
    }

    /**
     * Collects this rank's shard into {@code OUT.parts/}, waits for every rank's (however long, while their
     * heartbeats go on), and on rank 0 merges them into OUT. A rank that fails tells the others why before it stops;
     * every rank fails if any rank's shard is incomplete. Rank 0 reads every shard, so ranks on several machines need
     * {@code OUT.parts/} on a shared file system.
     */
    private int collectAsRank(Collectives group, int shardIndex, int shardCount) throws Exception {
        Path parts = out.resolveSibling(out.getFileName() + ".parts");
        CollectionSummary mine;
        try {
            Files.createDirectories(parts);
            mine = collect(shardPath(parts, shardIndex, shardCount), shardIndex, shardCount);
        } catch (Exception | Error e) {
            group.awaitAll("collected", "failed: " + e.getMessage());
            throw e;
        }
        List<String> outcomes = group.awaitAll("collected", mine.complete() ? "complete" : "incomplete");
        for (int r = 0; r < outcomes.size(); r++) {
            if (!outcomes.get(r).equals("complete")) {
                throw new IllegalStateException("rank " + r + " did not finish its shard " + shardPath(parts, r,
                        shardCount) + " (" + outcomes.get(r) + "); rerun the job to resume");
            }
        }
        if (group.isLeader()) {
            List<Path> shards = new java.util.ArrayList<>();
            for (int r = 0; r < shardCount; r++) {
                shards.add(shardPath(parts, r, shardCount));
            }
            for (Path shard : shards) {
                if (!Files.isRegularFile(shard)) {
                    throw new IllegalStateException(shard + " is missing on rank 0: a job on several machines needs "
                            + parts + " on a file system they share");
                }
            }
            CollectionSummary merged;
            try {
                merged = ShardMerge.merge(shards, out);
            } catch (RuntimeException e) {
                group.awaitAll("merged", "failed: " + e.getMessage());
                throw e;
            }
            group.awaitAll("merged", "done");
            ObjectNode o = summary(merged);
            o.put("elapsed_ms", mine.elapsedMillis() + merged.elapsedMillis());
            o.put("ranks", shardCount);
            System.out.println(JSON.writeValueAsString(o));
        } else {
            String merge = group.awaitAll("merged", "done").get(0);   // rank 0 serves the store until all are through
            if (!merge.equals("done")) {
                throw new IllegalStateException("rank 0 could not merge the shards: " + merge);
            }
        }
        return 0;
    }

    private static Path shardPath(Path parts, int index, int count) {
        return parts.resolve("shard-" + index + "-of-" + count + ".jsonl");
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
