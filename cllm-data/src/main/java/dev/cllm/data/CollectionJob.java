package dev.cllm.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * Collects a Jacobi trajectory dataset: runs a {@link TrajectoryCollector} over prompts and appends the cleaned (and
 * optionally augmented) trajectories to a file in our JSON Lines format ({@link TrajectoryWriter}).
 *
 * <p>For each prompt of its shard, in order: skip it (and count it) if it leaves no room for one block, that is if
 * prompt length + n &ge; the session's capacity (the model's context length), where {@code JacobiTrajectoryCollector}
 * refuses a prompt; collect with one session reused across prompts; drop repetitive trajectories
 * ({@link RepetitionFilter}); add augmented copies ({@link Augmenter}, seeded per prompt); append the prompt's records
 * in one write, flushed and by default fsynced; then append a line to the progress sidecar {@code OUT.progress}.
 *
 * <p><b>Resuming.</b> Running the same job again resumes it: a torn last progress line is dropped, the data file is
 * cut back to the length recorded by the last complete progress line (the records of a prompt that was being written
 * when the job died), and the prompts already done are skipped. A manifest {@code OUT.manifest.json}, written
 * atomically at the start and at the end, holds the settings and counts; a job whose settings differ from the
 * manifest's is refused, naming the setting. Interrupting the running thread stops the job after the current prompt;
 * {@link #run()} then returns a summary that is not {@link CollectionSummary#complete() complete} and leaves the
 * interrupt flag set.
 *
 * <p><b>Sharding.</b> Shard i of N takes the prompts at positions {@code [i*P/N, (i+1)*P/N)} of the P prompts
 * (after the limit). Every record depends only on its prompt, the collector and the seed, so concatenating the shard
 * files in order gives, byte for byte, the file of one unsharded run.
 *
 * <p>A periodic line on the SLF4J log reports progress. The job borrows the model and the collector. Not
 * thread-safe: run one job per output file at a time.
 */
public final class CollectionJob {
    private static final Logger log = LoggerFactory.getLogger(CollectionJob.class);

    private final ConsistencyModel model;
    private final TrajectoryCollector collector;
    private final PromptSource source;
    private final Path output;
    private final Path progressFile;
    private final Path manifestFile;
    private final String modelDescription;
    private final int maxNewTokens;
    private final int shardIndex;
    private final int shardCount;
    private final long limit;
    private final long seed;
    private final RepetitionFilter cleaning;
    private final boolean augment;
    private final boolean fsync;
    private final Duration logInterval;

    private CollectionJob(Builder b) {
        this.model = b.model;
        this.collector = b.collector;
        this.source = b.source;
        this.output = b.output;
        this.progressFile = ShardMerge.progressOf(output);
        this.manifestFile = ShardMerge.manifestOf(output);
        this.modelDescription = b.modelDescription != null ? b.modelDescription
                : model.config().architecture() + ", " + model.config().parameterCount() + " parameters";
        this.maxNewTokens = b.collector.maxNewTokens();
        this.shardIndex = b.shardIndex;
        this.shardCount = b.shardCount;
        this.limit = b.limit;
        this.seed = b.seed;
        this.cleaning = b.cleaning != null ? b.cleaning
                : RepetitionFilter.defaults().withEosTokenIds(model.config().eosTokenIds());
        this.augment = b.augment;
        this.fsync = b.fsync;
        this.logInterval = b.logInterval;
    }

    /** A builder with the defaults documented on its methods. */
    public static Builder builder() {
        return new Builder();
    }

    /** The data file. */
    public Path output() {
        return output;
    }

    /**
     * Collects the shard's prompts that are not done yet.
     *
     * @throws IllegalStateException if the output exists but is not this job's (no manifest, or other settings), or
     *                               the data file is shorter than its progress file says
     */
    public CollectionSummary run() {
        long startNanos = System.nanoTime();
        long total = Math.min(source.count(), limit);
        long from = Math.multiplyExact(total, shardIndex) / shardCount;
        long to = Math.multiplyExact(total, shardIndex + 1) / shardCount;
        ObjectNode settings = Manifest.settings(modelDescription, collector.blockSize(), maxNewTokens, source,
                shardIndex, shardCount, limit, seed, cleaning, augment);
        checkOutputIsOurs(settings);

        Progress.Totals totals = new Progress.Totals();
        Progress.load(progressFile, totals, (n, entry, line) -> {
            long expected = from + n < to ? source.indexAt(from + n) : -1;
            if (entry.promptIndex() != expected) {
                throw new TrajectoryFormatException(progressFile, line, "prompt_index " + entry.promptIndex()
                        + (expected < 0 ? " is past the shard's last prompt"
                        : " differs from the shard's prompt at this position, " + expected));
            }
        });
        long resumed = totals.prompts;
        long truncated = cutDataFile(totals.dataBytes);
        if (resumed > 0) {
            log.info("{}: resuming after {} of {} prompts", output, resumed, to - from);
        }
        Manifest.write(manifestFile, settings, to - from, totals, resumed == to - from);

        boolean interrupted = false;
        boolean finished = false;
        Meter meter = new Meter(to - from, resumed, startNanos);
        try (TrajectoryWriter writer = TrajectoryWriter.append(output);
             Progress.Appender progress = new Progress.Appender(progressFile, fsync);
             PromptSource.Cursor prompts = source.open(from + resumed, to);
             DecodingSession session = resumed < to - from ? model.newSession() : null) {
            while (prompts.hasNext()) {
                if (Thread.currentThread().isInterrupted()) {
                    interrupted = true;
                    log.info("{}: interrupted; stopping after {} of {} prompts (rerun to resume)", output,
                            totals.prompts, to - from);
                    break;
                }
                Prompt prompt = prompts.next();
                Progress.Entry entry = collect(session, prompt, writer);
                progress.append(entry);
                totals.add(entry);
                meter.maybeLog(totals, false);
            }
            finished = !interrupted;
        } finally {
            boolean complete = finished && totals.prompts == to - from;
            try {
                Manifest.write(manifestFile, settings, to - from, totals, complete);
            } catch (RuntimeException e) {
                if (finished) {
                    throw e;
                }
                log.warn("{}: could not update the manifest after a failure: {}", output, e.toString());
            }
        }
        meter.maybeLog(totals, true);
        long elapsedMillis = (System.nanoTime() - startNanos) / 1_000_000;
        return new CollectionSummary(totals.prompts, to - from, totals.records, totals.skipped,
                totals.droppedTokenRun, totals.droppedRepeatedNgram, totals.augmented, totals.tokens, totals.passes,
                resumed, truncated, elapsedMillis, !interrupted && totals.prompts == to - from);
    }

    /** Collects, cleans and augments one prompt and appends its records; returns its progress entry. */
    private Progress.Entry collect(DecodingSession session, Prompt prompt, TrajectoryWriter writer) {
        int promptLength = prompt.ids().size();
        if (!collector.fits(promptLength, session.capacity())) {
            log.debug("prompt {} of {} tokens: no room for a block of {} in a context of {}; skipped", prompt.index(),
                    promptLength, collector.blockSize(), session.capacity());
            return new Progress.Entry(prompt.index(), 0, 0, 0, 0, true, 0, 0, writer.size());
        }
        TrajectoryCollector.Result result;
        try {
            result = collector.collect(session, prompt);
        } catch (RuntimeException e) {
            log.error("{}: collecting prompt {} failed; the data so far is kept, and rerunning the job resumes at "
                    + "this prompt", output, prompt.index());
            throw e;
        }
        SplittableRandom random = Augmenter.forPrompt(seed, prompt.index());
        List<TrajectoryRecord> records = new ArrayList<>();
        int droppedRun = 0;
        int droppedNgram = 0;
        int augmented = 0;
        for (Trajectory t : result.trajectories()) {
            if (t.promptIndex() != prompt.index()) {
                throw new IllegalStateException("the collector returned a trajectory of prompt " + t.promptIndex()
                        + " for prompt " + prompt.index());
            }
            TrajectoryRecord record = TrajectoryRecord.of(t, promptLength);
            switch (cleaning.verdict(record)) {
                case TOKEN_RUN -> droppedRun++;
                case REPEATED_NGRAM -> droppedNgram++;
                case KEEP -> {
                    records.add(record);
                    if (augment) {
                        var extra = Augmenter.augment(record, random);
                        if (extra.isPresent()) {
                            records.add(extra.get());
                            augmented++;
                        }
                    }
                }
            }
        }
        writer.write(records);
        if (fsync) {
            writer.sync();
        } else {
            writer.flush();
        }
        var stats = result.generation().stats();
        return new Progress.Entry(prompt.index(), records.size(), droppedRun, droppedNgram, augmented, false,
                stats.newTokens(), stats.forwardPasses(), writer.size());
    }

    /** Refuses an output that another job (other settings) or no job of ours wrote. */
    private void checkOutputIsOurs(JsonNode settings) {
        if (Files.exists(manifestFile)) {
            Manifest.checkSame(manifestFile, Manifest.readSettings(manifestFile), settings);
        } else if (nonEmpty(output) || nonEmpty(progressFile)) {
            throw new IllegalStateException(output + " exists without " + manifestFile.getFileName()
                    + ", so it is not a collection this job can resume; move it away or choose another output");
        }
    }

    /** Cuts the data file back to {@code length} bytes (the end of the last finished prompt); returns bytes cut. */
    private long cutDataFile(long length) {
        try {
            long size = Files.exists(output) ? Files.size(output) : 0;
            if (size < length) {
                throw new IllegalStateException(output + " has " + size + " bytes but " + progressFile.getFileName()
                        + " says " + length + " were written: data was lost, the collection cannot be resumed");
            }
            if (size > length) {
                log.warn("{}: dropped {} bytes of an interrupted prompt (cut back to {} bytes)", output,
                        size - length, length);
                Progress.truncate(output, length);
            }
            return size - length;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean nonEmpty(Path file) {
        try {
            return Files.exists(file) && Files.size(file) > 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Logs progress every {@code logInterval} and at the end. */
    private final class Meter {
        private final long total;
        private final long resumed;
        private final long startNanos;
        private long lastLogNanos;

        Meter(long total, long resumed, long startNanos) {
            this.total = total;
            this.resumed = resumed;
            this.startNanos = startNanos;
            this.lastLogNanos = startNanos;
        }

        void maybeLog(Progress.Totals t, boolean end) {
            long now = System.nanoTime();
            if (!end && now - lastLogNanos < logInterval.toNanos()) {
                return;
            }
            lastLogNanos = now;
            double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
            double rate = (t.prompts - resumed) / seconds;
            String eta = rate > 0 ? formatSeconds((total - t.prompts) / rate) : "unknown";
            log.info("{}: {}/{} prompts, {} prompts/s, {} records, {} skipped, {} dropped as repetitive, "
                            + "{} tokens per pass, {}", output, t.prompts, total, String.format("%.2f", rate),
                    t.records, t.skipped, t.droppedTokenRun + t.droppedRepeatedNgram,
                    String.format("%.3f", t.tokensPerPass()), end ? "done in " + formatSeconds(seconds)
                            : "ETA " + eta);
        }
    }

    private static String formatSeconds(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, s / 60 % 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + "s";
    }

    /** Configures a {@link CollectionJob}. Required: model, collector, prompts, output. */
    public static final class Builder {
        private ConsistencyModel model;
        private TrajectoryCollector collector;
        private PromptSource source;
        private Path output;
        private String modelDescription;
        private int shardIndex;
        private int shardCount = 1;
        private long limit = Long.MAX_VALUE;
        private long seed;
        private RepetitionFilter cleaning;
        private boolean augment;
        private boolean fsync = true;
        private Duration logInterval = Duration.ofSeconds(10);

        private Builder() {
        }

        /** The target model (borrowed: the job opens one session on it and closes that). */
        public Builder model(ConsistencyModel m) {
            this.model = Objects.requireNonNull(m, "model");
            return this;
        }

        /** How trajectories are collected (borrowed). */
        public Builder collector(TrajectoryCollector c) {
            this.collector = Objects.requireNonNull(c, "collector");
            return this;
        }

        /** Prompts from a file, streamed. */
        public Builder prompts(PromptFile file) {
            this.source = PromptSource.of(Objects.requireNonNull(file, "file"));
            return this;
        }

        /** Prompts from memory; their {@link Prompt#index()} identifies them in the data. */
        public Builder prompts(List<Prompt> prompts) {
            this.source = PromptSource.of(prompts);
            return this;
        }

        /** The data file; the sidecars are {@code OUT.progress} and {@code OUT.manifest.json} next to it. */
        public Builder output(Path file) {
            this.output = Objects.requireNonNull(file, "output");
            return this;
        }

        /** Recorded in the manifest and compared on resume. Default: the model's architecture and size. */
        public Builder modelDescription(String description) {
            this.modelDescription = Objects.requireNonNull(description, "description");
            return this;
        }

        /** This job collects shard {@code index} of {@code count} (contiguous ranges). Default 0 of 1. */
        public Builder shard(int index, int count) {
            this.shardIndex = index;
            this.shardCount = count;
            return this;
        }

        /** Only the first {@code k} prompts of the source are used, before sharding. Default: all. */
        public Builder limit(long k) {
            this.limit = k;
            return this;
        }

        /** Seed of the augmentation (each prompt draws from its own stream). Default 0. */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * The repetition filter. Default: {@link RepetitionFilter#defaults()} cut at the model's EOS ids;
         * {@link RepetitionFilter#off()} keeps everything.
         */
        public Builder cleaning(RepetitionFilter filter) {
            this.cleaning = Objects.requireNonNull(filter, "filter");
            return this;
        }

        /** Whether to add {@link Augmenter augmented} records. Default false. */
        public Builder augment(boolean on) {
            this.augment = on;
            return this;
        }

        /** Whether to fsync data and progress after every prompt (default true; off only for tests). */
        public Builder fsync(boolean on) {
            this.fsync = on;
            return this;
        }

        /** How often a progress line is logged. Default 10 s. */
        public Builder logInterval(Duration interval) {
            this.logInterval = Objects.requireNonNull(interval, "interval");
            return this;
        }

        /** @throws IllegalArgumentException or NullPointerException naming a missing or invalid option */
        public CollectionJob build() {
            Objects.requireNonNull(model, "model is required");
            Objects.requireNonNull(collector, "collector is required");
            Objects.requireNonNull(source, "prompts are required");
            Objects.requireNonNull(output, "output is required");
            if (shardCount < 1 || shardIndex < 0 || shardIndex >= shardCount) {
                throw new IllegalArgumentException("shard " + shardIndex + " of " + shardCount
                        + " is not in [0, count)");
            }
            if (limit < 0) {
                throw new IllegalArgumentException("limit must be >= 0, got " + limit);
            }
            return new CollectionJob(this);
        }
    }
}
