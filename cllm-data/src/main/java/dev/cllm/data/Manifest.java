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
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * The manifest of a collection ({@code OUT.jsonl.manifest.json}): the settings that determine the data file's
 * content, which a resumed job must repeat, and the counts so far. Written whole to a temporary file that is then
 * renamed over the old one, so a reader sees either the old or the new manifest.
 *
 * <pre>{@code
 * {"format_version": 1,
 *  "settings": {"model": "...", "block_size": 16, "max_new_tokens": 256, "prompt_source": "/data/gsm8k.jsonl",
 *               "prompt_source_sha256": "9f86d0...", "shard_index": 0, "shard_count": 4, "limit": null, "seed": 0,
 *               "cleaning": {"max_run": 10, "ngram_size": 4, "max_ngram_repeats": 4, "eos_token_ids": [2]},
 *               "augment": false},
 *  "counts": {"prompts_total": 1000, "prompts": 1000, "records": 9120, "skipped": 2, "dropped_repetitive": 31,
 *             "dropped_token_run": 20, "dropped_repeated_ngram": 11, "augmented": 0, "tokens": 250112,
 *             "passes": 240004, "complete": true}}
 * }</pre>
 * Every setting but {@code prompt_source} (the path; its hash is compared instead, so the file may move) must be
 * equal on resume.
 */
final class Manifest {
    /** Settings that may differ on resume. */
    private static final Set<String> NOT_COMPARED = Set.of("prompt_source");

    private Manifest() {
    }

    static ObjectNode settings(String model, int blockSize, int maxNewTokens, PromptSource source, int shardIndex,
                               int shardCount, long limit, long seed, RepetitionFilter cleaning, boolean augment) {
        ObjectNode s = Json.MAPPER.createObjectNode();
        s.put("model", model);
        s.put("block_size", blockSize);
        s.put("max_new_tokens", maxNewTokens);
        s.put("prompt_source", source.description());
        s.put("prompt_source_sha256", source.sha256());
        s.put("shard_index", shardIndex);
        s.put("shard_count", shardCount);
        if (limit == Long.MAX_VALUE) {
            s.putNull("limit");
        } else {
            s.put("limit", limit);
        }
        s.put("seed", seed);
        ObjectNode c = s.putObject("cleaning");
        c.put("max_run", cleaning.maxRun());
        c.put("ngram_size", cleaning.ngramSize());
        c.put("max_ngram_repeats", cleaning.maxNgramRepeats());
        new TreeSet<>(cleaning.eosTokenIds()).forEach(c.putArray("eos_token_ids")::add);
        s.put("augment", augment);
        return s;
    }

    /** Writes the manifest atomically (temporary file, fsync, rename). */
    static void write(Path file, JsonNode settings, long promptsTotal, Progress.Totals t, boolean complete) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("format_version", TrajectoryWriter.FORMAT_VERSION);
        root.set("settings", settings);
        ObjectNode c = root.putObject("counts");
        c.put("prompts_total", promptsTotal);
        c.put("prompts", t.prompts);
        c.put("records", t.records);
        c.put("skipped", t.skipped);
        c.put("dropped_repetitive", t.droppedTokenRun + t.droppedRepeatedNgram);
        c.put("dropped_token_run", t.droppedTokenRun);
        c.put("dropped_repeated_ngram", t.droppedRepeatedNgram);
        c.put("augmented", t.augmented);
        c.put("tokens", t.tokens);
        c.put("passes", t.passes);
        c.put("complete", complete);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            try (FileOutputStream out = new FileOutputStream(tmp.toFile())) {
                Json.MAPPER.writerWithDefaultPrettyPrinter().writeValue(out, root);
                out.write('\n');
                out.getFD().sync();
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    /** The settings of an existing manifest. */
    static JsonNode readSettings(Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalStateException(file + ": cannot read the manifest of the collection to resume: "
                    + e.getMessage(), e);
        }
        if (root == null || !root.isObject() || !root.path("settings").isObject()) {
            throw new IllegalStateException(file + ": not a collection manifest (no \"settings\" object)");
        }
        if (root.path("format_version").asInt(-1) != TrajectoryWriter.FORMAT_VERSION) {
            throw new IllegalStateException(file + ": unknown format_version " + root.get("format_version"));
        }
        return root.get("settings");
    }

    /**
     * Throws {@link IllegalStateException} naming the first setting in which {@code wanted} differs from
     * {@code existing}.
     */
    static void checkSame(Path file, JsonNode existing, JsonNode wanted) {
        JsonNode normalized; // as read back from a file: small numbers become ints, as in the existing manifest
        try {
            normalized = Json.MAPPER.readTree(Json.MAPPER.writeValueAsString(wanted));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        String difference = firstDifference("", existing, normalized);
        if (difference != null) {
            throw new IllegalStateException(file + ": cannot resume with different settings: " + difference
                    + ". Use the original settings, or another output path for a new collection.");
        }
    }

    private static String firstDifference(String prefix, JsonNode existing, JsonNode wanted) {
        Set<String> names = new LinkedHashSet<>();
        existing.fieldNames().forEachRemaining(names::add);
        for (Iterator<String> it = wanted.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        for (String name : names) {
            if (prefix.isEmpty() && NOT_COMPARED.contains(name)) {
                continue;
            }
            JsonNode a = existing.get(name);
            JsonNode b = wanted.get(name);
            if (a != null && b != null && a.isObject() && b.isObject()) {
                String inner = firstDifference(prefix + name + ".", a, b);
                if (inner != null) {
                    return inner;
                }
            } else if (a == null || !a.equals(b)) {
                return "setting '" + prefix + name + "' was " + (a == null ? "absent" : a) + ", now "
                        + (b == null ? "absent" : b);
            }
        }
        return null;
    }
}
