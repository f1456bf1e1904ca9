package dev.cllm.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Joins the finished shards of one collection ({@link CollectionJob.Builder#shard}) into one dataset: the data files
 * concatenated in shard order (byte for byte what one unsharded job writes), a progress sidecar with the data offsets
 * moved along, and a manifest of shard 0 of 1 with the summed counts, so that the merged file is exactly the
 * unsharded job's output, complete (running that job again finds nothing to do).
 *
 * <p>The merged data file is written to a temporary file and renamed into place; its sidecars follow, manifest last.
 */
public final class ShardMerge {
    private ShardMerge() {
    }

    /**
     * Merges {@code shards} (shard i at index i, each with its {@code .progress} and {@code .manifest.json}) into
     * {@code output}.
     *
     * @throws IllegalStateException naming the shard that is incomplete, from another job, or out of place
     */
    public static CollectionSummary merge(List<Path> shards, Path output) {
        long started = System.nanoTime();
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("no shards to merge");
        }
        JsonNode settings0 = null;
        long promptsTotal = 0;
        for (int i = 0; i < shards.size(); i++) {
            Path manifest = manifestOf(shards.get(i));
            if (!Files.isRegularFile(manifest)) {
                throw new IllegalStateException(shards.get(i) + ": no manifest " + manifest.getFileName()
                        + " (not a collection shard)");
            }
            JsonNode root = read(manifest);
            JsonNode settings = Manifest.readSettings(manifest);
            if (!root.path("counts").path("complete").asBoolean(false)) {
                throw new IllegalStateException(shards.get(i) + " is not complete (" + root.path("counts")
                        .path("prompts") + " of " + root.path("counts").path("prompts_total") + " prompts): finish "
                        + "its collection first (rerun it to resume)");
            }
            if (settings.path("shard_index").asInt(-1) != i || settings.path("shard_count").asInt(-1)
                    != shards.size()) {
                throw new IllegalStateException(shards.get(i) + " is shard " + settings.path("shard_index") + " of "
                        + settings.path("shard_count") + ", expected shard " + i + " of " + shards.size());
            }
            ObjectNode comparable = settings.deepCopy();
            comparable.put("shard_index", 0);
            if (settings0 == null) {
                settings0 = comparable;
            } else {
                Manifest.checkSame(manifest, settings0, comparable);
            }
            promptsTotal += root.path("counts").path("prompts_total").asLong();
        }

        Path tmp = output.resolveSibling(output.getFileName() + ".merging");
        Progress.Totals totals = new Progress.Totals();
        List<Progress.Entry> entries = new ArrayList<>();
        try (FileOutputStream out = new FileOutputStream(tmp.toFile())) {
            long offset = 0;
            for (Path shard : shards) {
                Progress.Totals part = new Progress.Totals();
                long base = offset;
                Progress.load(progressOf(shard), part, (n, e, line) -> entries.add(new Progress.Entry(e.promptIndex(),
                        e.records(), e.droppedTokenRun(), e.droppedRepeatedNgram(), e.augmented(), e.skipped(),
                        e.tokens(), e.passes(), base + e.bytes())));
                long size = Files.size(shard);
                if (size != part.dataBytes) {
                    throw new IllegalStateException(shard + " holds " + size + " bytes, its progress file "
                            + part.dataBytes + ": rerun its collection to repair it before merging");
                }
                Files.copy(shard, out);
                offset += size;
            }
            out.getFD().sync();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + tmp, e);
        }
        Path progress = progressOf(output);
        Path manifest = manifestOf(output);
        try {
            Files.deleteIfExists(manifest);   // a half-merged output never looks complete
            Files.deleteIfExists(progress);
            move(tmp, output);
            try (Progress.Appender appender = new Progress.Appender(progress, false)) {
                for (Progress.Entry e : entries) {
                    appender.append(e);
                    totals.add(e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + output, e);
        }
        ObjectNode merged = settings0.deepCopy();
        merged.put("shard_index", 0).put("shard_count", 1);
        Manifest.write(manifest, merged, promptsTotal, totals, true);
        return new CollectionSummary(totals.prompts, promptsTotal, totals.records, totals.skipped,
                totals.droppedTokenRun, totals.droppedRepeatedNgram, totals.augmented, totals.tokens, totals.passes, 0,
                0, (System.nanoTime() - started) / 1_000_000, totals.prompts == promptsTotal);
    }

    /** The sidecar {@code OUT.progress} of a data file. */
    static Path progressOf(Path data) {
        return data.resolveSibling(data.getFileName() + ".progress");
    }

    /** The sidecar {@code OUT.manifest.json} of a data file. */
    static Path manifestOf(Path data) {
        return data.resolveSibling(data.getFileName() + ".manifest.json");
    }

    private static JsonNode read(Path file) {
        try {
            return Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalStateException(file + ": unreadable manifest: " + e.getMessage(), e);
        }
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
