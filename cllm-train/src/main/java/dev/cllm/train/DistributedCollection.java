package dev.cllm.train;

import dev.cllm.data.CollectionSummary;
import dev.cllm.data.ShardMerge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Trajectory collection as a job of several ranks: rank r collects shard r of W into {@code OUT.parts/}, every rank
 * waits for every other's shard (however long, while their heartbeats go on), and rank 0 merges the shards with
 * {@link ShardMerge} into exactly the file one process writes. A rank that fails tells the others why before it
 * stops; every rank fails if any rank's shard is incomplete, and rerunning the job resumes each shard.
 *
 * <p>Rank 0 reads every shard, so ranks on several machines need {@code OUT.parts/} on a shared file system (checked,
 * with an error that says so).
 */
public final class DistributedCollection {

    /**
     * What one rank got.
     *
     * @param own    this rank's shard
     * @param merged the merged dataset on rank 0; null on the other ranks
     */
    public record Result(CollectionSummary own, CollectionSummary merged) {
        public Result {
            Objects.requireNonNull(own, "own");
        }
    }

    private DistributedCollection() {
    }

    /** The folder of {@code out}'s rank shards: {@code OUT.parts/} beside it. */
    public static Path partsDir(Path out) {
        return out.resolveSibling(out.getFileName() + ".parts");
    }

    /** The shard file of rank {@code index} of {@code count}. */
    public static Path shardPath(Path parts, int index, int count) {
        return parts.resolve("shard-" + index + "-of-" + count + ".jsonl");
    }

    /**
     * Runs this rank's part of the job.
     *
     * @param group        the job's group (a store-only group suffices: ranks exchange only metadata)
     * @param out          the merged dataset rank 0 writes
     * @param collectShard collects shard {@code group.rank()} of {@code group.worldSize()} into the given file (a
     *                     {@link dev.cllm.data.CollectionJob} with that shard and output) and returns its summary
     * @throws IllegalStateException naming the rank whose shard is incomplete or failed, or a shard rank 0 cannot see
     */
    public static Result run(Collectives group, Path out, Function<Path, CollectionSummary> collectShard) {
        int rank = group.rank();
        int ranks = group.worldSize();
        Path parts = partsDir(out);
        CollectionSummary mine;
        try {
            Files.createDirectories(parts);
            mine = collectShard.apply(shardPath(parts, rank, ranks));
        } catch (IOException e) {
            group.awaitAll("collected", "failed: " + e.getMessage());
            throw new UncheckedIOException(parts + ": cannot create the shard folder: " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            group.awaitAll("collected", "failed: " + e.getMessage());
            throw e;
        }
        List<String> outcomes = group.awaitAll("collected", mine.complete() ? "complete" : "incomplete");
        for (int r = 0; r < outcomes.size(); r++) {
            if (!outcomes.get(r).equals("complete")) {
                throw new IllegalStateException("rank " + r + " did not finish its shard " + shardPath(parts, r,
                        ranks) + " (" + outcomes.get(r) + "); rerun the job to resume");
            }
        }
        if (!group.isLeader()) {
            String merge = group.awaitAll("merged", "done").get(0);   // rank 0 serves the store until all are through
            if (!merge.equals("done")) {
                throw new IllegalStateException("rank 0 could not merge the shards: " + merge);
            }
            return new Result(mine, null);
        }
        List<Path> shards = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            shards.add(shardPath(parts, r, ranks));
        }
        CollectionSummary merged;
        try {
            for (Path shard : shards) {
                if (!Files.isRegularFile(shard)) {
                    throw new IllegalStateException(shard + " is missing on rank 0: a job on several machines needs "
                            + parts + " on a file system they share");
                }
            }
            merged = ShardMerge.merge(shards, out);
        } catch (RuntimeException e) {
            group.awaitAll("merged", "failed: " + e.getMessage());
            throw e;
        }
        group.awaitAll("merged", "done");
        return new Result(mine, merged);
    }
}
