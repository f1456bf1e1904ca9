package dev.cllm.data;

import com.fasterxml.jackson.databind.JsonNode;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

import static dev.cllm.data.ShardMerge.manifestOf;
import static dev.cllm.data.ShardMerge.progressOf;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Collection jobs: output, cleaning counts, resumption after crashes, shards, limit, skipping, settings. */
class CollectionJobTest {
    private static final int VOCAB = 100;
    private static final int CONTEXT = 64;
    private static final int N = 4;
    private static final int MAX_NEW_TOKENS = 16;
    /** Prompt 3 runs into a token run, prompt 5 into a cycle, prompt 6 is too long, prompts 1 and 4 have answers. */
    static final List<Prompt> PROMPTS = List.of(
            Prompt.of(0, TokenIds.of(1, 31, 32)),
            new Prompt(1, TokenIds.of(1, 33, 34, 35), TokenIds.of(60, 61)),
            Prompt.of(2, TokenIds.of(1, 36)),
            Prompt.of(3, TokenIds.of(1, 37, FakeCollector.RUN_TOKEN)),
            new Prompt(4, TokenIds.of(1, 38, 39, 40, 41, 42), TokenIds.of(62)),
            Prompt.of(5, TokenIds.of(1, 43, FakeCollector.CYCLE[0])),
            Prompt.of(6, TokenIds.of(IntStream.range(0, CONTEXT - N).map(i -> 30 + i % 60).toArray())),
            Prompt.of(7, TokenIds.of(1, 44, 45)),
            Prompt.of(8, TokenIds.of(1, 46, 47, 48)));

    @TempDir
    Path dir;

    final FakeModel model = new FakeModel(VOCAB, CONTEXT, Set.of(2));
    final FakeCollector collector = new FakeCollector(VOCAB, N, MAX_NEW_TOKENS, Set.of(2));

    @AfterEach
    void clearInterrupt() {
        Thread.interrupted();
    }

    private CollectionJob.Builder job(Path out) {
        return CollectionJob.builder().model(model).collector(collector).prompts(PROMPTS).output(out).modelDescription("fake").augment(true).seed(11).fsync(false)
                .logInterval(Duration.ZERO);
    }

    private CollectionSummary run(Path out, UnaryOperator<CollectionJob.Builder> settings) {
        return settings.apply(job(out)).build().run();
    }

    /** The data file of one uninterrupted, unsharded run. */
    private byte[] reference() throws IOException {
        Path out = dir.resolve("reference/out.jsonl");
        Files.createDirectories(out.getParent());
        run(out, b -> b);
        return Files.readAllBytes(out);
    }

    @Test
    void collectsCleansAugmentsAndCounts() throws IOException {
        Path out = dir.resolve("out.jsonl");
        CollectionSummary s = run(out, b -> b);

        assertThat(s.complete()).isTrue();
        assertThat(s.prompts()).isEqualTo(9);
        assertThat(s.promptsTotal()).isEqualTo(9);
        assertThat(s.skipped()).isEqualTo(1);
        assertThat(collector.calls.get()).isEqualTo(8);
        assertThat(model.sessionsOpened).isEqualTo(1);
        // prompt 3: block 0 kept; block 1 has eight 7s (the 4-gram 7777 five times), blocks 2 and 3 a run of 10+
        assertThat(s.droppedTokenRun()).isEqualTo(2);
        // prompt 3 block 1, and prompt 5 block 3 (a 4-gram of the cycle a fourth time)
        assertThat(s.droppedRepeatedNgram()).isEqualTo(2);
        assertThat(s.droppedRepetitive()).isEqualTo(4);
        assertThat(s.resumedPrompts()).isZero();

        List<TrajectoryRecord> records = TrajectoryReader.readAll(out);
        assertThat(records).hasSize((int) s.records());
        long collected = records.stream().filter(r -> !r.augmented()).count();
        assertThat(collected).isEqualTo(8 * 4 - 4);
        assertThat(records.stream().filter(TrajectoryRecord::augmented).count()).isEqualTo(s.augmented());
        for (int i = 0; i < records.size(); i++) {
            TrajectoryRecord r = records.get(i);
            Prompt p = PROMPTS.get((int) r.trajectory().promptIndex());
            assertThat(r.promptLength()).isEqualTo(p.ids().size());
            assertThat(r.trajectory().answer()).isEqualTo(p.answer());
            assertThat(r.prompt()).isEqualTo(p.ids());
            if (r.augmented()) { // right after its source
                assertThat(records.get(i - 1).trajectory().fixedPoint()).isEqualTo(r.trajectory().fixedPoint());
            }
        }
        assertThat(s.tokens()).isEqualTo(8 * MAX_NEW_TOKENS);
        assertThat(s.tokensPerPass()).isGreaterThan(0).isLessThanOrEqualTo(N);

        List<String> progress = Files.readAllLines(progressOf(out));
        assertThat(progress).hasSize(9);
        assertThat(progress.get(6)).isEqualTo("{\"prompt_index\":6,\"records\":0,\"dropped_repetitive\":0,"
                + "\"dropped_token_run\":0,\"dropped_repeated_ngram\":0,\"augmented\":0,\"skipped\":true,"
                + "\"tokens\":0,\"passes\":0,\"bytes\":" + Json.MAPPER.readTree(progress.get(5)).get("bytes") + "}");
        assertThat(Json.MAPPER.readTree(progress.get(8)).get("bytes").asLong()).isEqualTo(Files.size(out));

        JsonNode manifest = Json.MAPPER.readTree(manifestOf(out).toFile());
        assertThat(manifest.get("format_version").asInt()).isEqualTo(1);
        JsonNode settings = manifest.get("settings");
        assertThat(settings.get("model").asText()).isEqualTo("fake");
        assertThat(settings.get("block_size").asInt()).isEqualTo(N);
        assertThat(settings.get("max_new_tokens").asInt()).isEqualTo(MAX_NEW_TOKENS);
        assertThat(settings.get("prompt_source").asText()).isEqualTo("a list of 9 prompts");
        assertThat(settings.get("prompt_source_sha256").asText()).hasSize(64);
        assertThat(settings.get("limit").isNull()).isTrue();
        assertThat(settings.get("cleaning").get("eos_token_ids").toString()).isEqualTo("[2]");
        assertThat(settings.get("augment").asBoolean()).isTrue();
        JsonNode counts = manifest.get("counts");
        assertThat(counts.get("complete").asBoolean()).isTrue();
        assertThat(counts.get("records").asLong()).isEqualTo(s.records());
        assertThat(counts.get("dropped_repetitive").asLong()).isEqualTo(4);
        assertThat(counts.get("skipped").asLong()).isEqualTo(1);
    }

    @Test
    void rerunningACompleteJobCollectsNothing() {
        Path out = dir.resolve("out.jsonl");
        CollectionSummary first = run(out, b -> b.fsync(true));
        int calls = collector.calls.get();
        CollectionSummary again = run(out, b -> b.fsync(true));
        assertThat(collector.calls.get()).isEqualTo(calls);
        assertThat(again.resumedPrompts()).isEqualTo(9);
        assertThat(again).usingRecursiveComparison().ignoringFields("resumedPrompts", "elapsedMillis")
                .isEqualTo(first);
    }

    @Test
    void resumesAfterTheCollectorFailsMidway() throws IOException {
        byte[] reference = reference();
        Path out = dir.resolve("out.jsonl");
        collector.failOn = i -> i == 4;
        assertThatThrownBy(() -> run(out, b -> b)).hasMessageContaining("simulated crash on prompt 4");
        assertThat(Files.readAllLines(progressOf(out))).hasSize(4);
        assertThat(Json.MAPPER.readTree(manifestOf(out).toFile()).get("counts").get("complete").asBoolean()).isFalse();

        collector.failOn = i -> false;
        int before = collector.calls.get();
        CollectionSummary s = run(out, b -> b);
        assertThat(collector.calls.get() - before).isEqualTo(4); // prompts 4, 5, 7, 8 (6 is skipped)
        assertThat(s.resumedPrompts()).isEqualTo(4);
        assertThat(s.complete()).isTrue();
        assertThat(Files.readAllBytes(out)).isEqualTo(reference);
    }

    @Test
    void resumesAfterATornDataWriteAndATornProgressLine() throws IOException {
        byte[] reference = reference();
        Path out = dir.resolve("out.jsonl");
        run(out, b -> b);
        List<String> progress = Files.readAllLines(progressOf(out));
        // the crash: prompt 5's progress line half written, prompt 5's records and part of 7's in the data file
        long validBytes = Json.MAPPER.readTree(progress.get(4)).get("bytes").asLong();
        long crashBytes = Json.MAPPER.readTree(progress.get(7)).get("bytes").asLong() - 50;
        String keep = String.join("\n", progress.subList(0, 5)) + "\n" + progress.get(5).substring(0, 20);
        Files.writeString(progressOf(out), keep);
        Progress.truncate(out, crashBytes);

        CollectionSummary s = run(out, b -> b);
        assertThat(s.resumedPrompts()).isEqualTo(5);
        assertThat(s.truncatedBytes()).isEqualTo(crashBytes - validBytes);
        assertThat(Files.readAllBytes(out)).isEqualTo(reference);
        assertThat(Files.readAllLines(progressOf(out))).isEqualTo(progress);
    }

    @Test
    void resumesWhenTheDataFileEndsInATornRecord() throws IOException {
        byte[] reference = reference();
        Path out = dir.resolve("out.jsonl");
        collector.failOn = i -> i == 2;
        assertThatThrownBy(() -> run(out, b -> b)).isInstanceOf(IllegalStateException.class);
        // the first 100 bytes of prompt 2's records written before the crash
        List<String> progress = Files.readAllLines(progressOf(dir.resolve("reference/out.jsonl")));
        int start = (int) Json.MAPPER.readTree(progress.get(1)).get("bytes").asLong();
        Files.write(out, Arrays.copyOfRange(reference, start, start + 100), StandardOpenOption.APPEND);
        try (TrajectoryReader reader = TrajectoryReader.open(out)) {
            reader.forEachRemaining(r -> assertThat(r.trajectory().promptIndex()).isLessThan(2));
            assertThat(reader.droppedTornLine()).isTrue();
        }
        collector.failOn = i -> false;
        run(out, b -> b);
        assertThat(Files.readAllBytes(out)).isEqualTo(reference);
    }

    @Test
    void interruptStopsAfterTheCurrentPromptAndResumes() throws IOException {
        byte[] reference = reference();
        Path out = dir.resolve("out.jsonl");
        int before = collector.calls.get();
        collector.afterCollect = () -> {
            if (collector.calls.get() - before == 3) {
                Thread.currentThread().interrupt();
            }
        };
        CollectionSummary s = run(out, b -> b);
        assertThat(Thread.interrupted()).isTrue();
        assertThat(s.complete()).isFalse();
        assertThat(s.prompts()).isEqualTo(3);
        assertThat(collector.calls.get() - before).isEqualTo(3);
        assertThat(Files.readAllLines(progressOf(out))).hasSize(3);
        assertThat(Json.MAPPER.readTree(manifestOf(out).toFile()).get("counts").get("complete").asBoolean()).isFalse();

        collector.afterCollect = () -> { };
        CollectionSummary rest = run(out, b -> b);
        assertThat(rest.complete()).isTrue();
        assertThat(rest.resumedPrompts()).isEqualTo(3);
        assertThat(Files.readAllBytes(out)).isEqualTo(reference);
    }

    @Test
    void shardsConcatenateToTheUnshardedFile() throws IOException {
        byte[] reference = reference();
        for (int count : new int[] {2, 3, 4, 12}) {
            ByteArrayOutputStream cat = new ByteArrayOutputStream();
            long prompts = 0;
            for (int i = 0; i < count; i++) {
                Path out = dir.resolve("shards-" + count + "/out-" + i + ".jsonl");
                Files.createDirectories(out.getParent());
                int index = i;
                CollectionSummary s = run(out, b -> b.shard(index, count));
                assertThat(s.promptsTotal()).isEqualTo((long) (i + 1) * 9 / count - (long) i * 9 / count);
                prompts += s.prompts();
                cat.write(Files.readAllBytes(out));
            }
            assertThat(prompts).isEqualTo(9);
            assertThat(cat.toByteArray()).as("%d shards", count).isEqualTo(reference);
        }
    }

    @Test
    void mergedShardsAreTheUnshardedJobsCompleteOutput() throws IOException {
        Path reference = dir.resolve("reference/out.jsonl");
        byte[] data = reference();
        List<Path> shards = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path out = dir.resolve("parts/out-" + i + ".jsonl");
            Files.createDirectories(out.getParent());
            int index = i;
            run(out, b -> b.shard(index, 3));
            shards.add(out);
        }
        Path merged = dir.resolve("merged.jsonl");
        CollectionSummary s = ShardMerge.merge(shards, merged);

        assertThat(s.complete()).isTrue();
        assertThat(s.prompts()).isEqualTo(9);
        assertThat(Files.readAllBytes(merged)).isEqualTo(data);
        assertThat(Files.readAllLines(progressOf(merged))).isEqualTo(Files.readAllLines(progressOf(reference)));
        assertThat(Json.MAPPER.readTree(manifestOf(merged).toFile()))
                .isEqualTo(Json.MAPPER.readTree(manifestOf(reference).toFile()));
        int calls = collector.calls.get();
        CollectionSummary again = run(merged, b -> b);   // the unsharded job finds its work done
        assertThat(again.complete()).isTrue();
        assertThat(collector.calls.get()).isEqualTo(calls);
        assertThat(Files.readAllBytes(merged)).isEqualTo(data);
    }

    @Test
    void mergingRefusesAnIncompleteOrMisplacedShard() throws IOException {
        List<Path> shards = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path out = dir.resolve("parts/out-" + i + ".jsonl");
            Files.createDirectories(out.getParent());
            int index = i;
            run(out, b -> b.shard(index, 2));
            shards.add(out);
        }
        assertThatThrownBy(() -> ShardMerge.merge(List.of(shards.get(1), shards.get(0)), dir.resolve("m.jsonl")))
                .hasMessageContaining("is shard 1 of 2, expected shard 0 of 2");
        String manifest = Files.readString(manifestOf(shards.get(1))).replace("\"complete\" : true",
                "\"complete\" : false");
        Files.writeString(manifestOf(shards.get(1)), manifest);
        assertThatThrownBy(() -> ShardMerge.merge(shards, dir.resolve("m.jsonl")))
                .hasMessageContaining(shards.get(1) + " is not complete");
        assertThat(dir.resolve("m.jsonl")).doesNotExist();
    }

    @Test
    void limitTakesTheFirstPromptsBeforeSharding() throws IOException {
        byte[] reference = reference();
        List<String> progress = Files.readAllLines(progressOf(dir.resolve("reference/out.jsonl")));
        int prefix = (int) Json.MAPPER.readTree(progress.get(3)).get("bytes").asLong();

        Path out = dir.resolve("out.jsonl");
        CollectionSummary s = run(out, b -> b.limit(4));
        assertThat(s.prompts()).isEqualTo(4);
        assertThat(Files.readAllBytes(out)).isEqualTo(Arrays.copyOf(reference, prefix));

        Path second = dir.resolve("second.jsonl");
        run(second, b -> b.limit(4).shard(1, 2));
        assertThat(TrajectoryReader.readAll(second)).extracting(r -> r.trajectory().promptIndex())
                .containsOnly(2L, 3L);
        assertThat(run(dir.resolve("none.jsonl"), b -> b.limit(0)).prompts()).isZero();
    }

    @Test
    void promptFilesGiveTheSameDataAsLists() throws IOException {
        byte[] reference = reference();
        StringBuilder lines = new StringBuilder();
        for (Prompt p : PROMPTS) {
            lines.append("{\"prompt_ids\":").append(p.ids()).append(p.answer().isEmpty() ? ""
                    : ",\"answer_ids\":" + p.answer()).append("}\n\n");
        }
        Path prompts = dir.resolve("prompts.jsonl");
        Files.writeString(prompts, lines);
        Path out = dir.resolve("out.jsonl");
        CollectionSummary s = run(out, b -> b.prompts(PromptFile.of(prompts)));
        assertThat(s.prompts()).isEqualTo(9);
        assertThat(Files.readAllBytes(out)).isEqualTo(reference);
        JsonNode settings = Json.MAPPER.readTree(manifestOf(out).toFile()).get("settings");
        assertThat(settings.get("prompt_source").asText()).isEqualTo(prompts.toAbsolutePath().toString());
        assertThat(settings.get("prompt_source_sha256").asText()).isEqualTo(PromptFile.of(prompts).sha256());

        // a changed prompt file is refused on resume
        Files.writeString(prompts, lines + "{\"prompt_ids\":[1,50]}\n");
        assertThatThrownBy(() -> run(out, b -> b.prompts(PromptFile.of(prompts))))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("setting 'prompt_source_sha256' was");
    }

    @Test
    void differentSettingsAreRefusedOnResume() {
        Path out = dir.resolve("out.jsonl");
        run(out, b -> b.limit(3));
        assertThatThrownBy(() -> run(out, b -> b.limit(3).seed(12)))
                .isInstanceOf(IllegalStateException.class)
                .hasMessage(manifestOf(out) + ": cannot resume with different settings: setting 'seed' was 11, now 12."
                        + " Use the original settings, or another output path for a new collection.");
        assertThatThrownBy(() -> run(out, b -> b.limit(3).cleaning(RepetitionFilter.defaults().withMaxRun(5))))
                .hasMessageContaining("setting 'cleaning.max_run' was 10, now 5");
        assertThatThrownBy(() -> run(out, b -> b.limit(3).cleaning(RepetitionFilter.defaults())))
                .hasMessageContaining("setting 'cleaning.eos_token_ids' was [2], now []");
        assertThatThrownBy(() -> run(out, b -> b)).hasMessageContaining("setting 'limit' was 3, now null");
        assertThatThrownBy(() -> run(out, b -> b.limit(3).shard(0, 2)))
                .hasMessageContaining("setting 'shard_count' was 1, now 2");
        assertThatThrownBy(() -> run(out, b -> b.limit(3).augment(false)))
                .hasMessageContaining("setting 'augment' was true, now false");
        assertThatThrownBy(() -> run(out, b -> b.limit(3).modelDescription("other")))
                .hasMessageContaining("setting 'model' was \"fake\", now \"other\"");
        assertThat(run(out, b -> b.limit(3)).complete()).isTrue();
    }

    @Test
    void refusesAnOutputItDidNotWrite() throws IOException {
        Path out = dir.resolve("foreign.jsonl");
        Files.writeString(out, "precious\n");
        assertThatThrownBy(() -> run(out, b -> b)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("exists without foreign.jsonl.manifest.json");
        assertThat(Files.readString(out)).isEqualTo("precious\n");
    }

    @Test
    void refusesADataFileShorterThanItsProgress() throws IOException {
        Path out = dir.resolve("out.jsonl");
        run(out, b -> b.limit(3));
        Progress.truncate(out, 10);
        assertThatThrownBy(() -> run(out, b -> b.limit(3))).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("data was lost");
    }

    @Test
    void progressOfAnotherPromptOrderIsRefused() throws IOException {
        Path out = dir.resolve("out.jsonl");
        run(out, b -> b.limit(3));
        List<String> lines = new ArrayList<>(Files.readAllLines(progressOf(out)));
        lines.set(1, lines.get(1).replace("\"prompt_index\":1", "\"prompt_index\":5"));
        Files.write(progressOf(out), lines, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> run(out, b -> b.limit(3))).isInstanceOf(TrajectoryFormatException.class)
                .hasMessage(progressOf(out) + ":2: prompt_index 5 differs from the shard's prompt at this position, 1");
    }

    @Test
    void validatesItsOptions() {
        assertThatThrownBy(() -> job(dir.resolve("x")).shard(2, 2).build()).hasMessageContaining("shard 2 of 2");
        assertThatThrownBy(() -> job(dir.resolve("x")).limit(-1).build()).hasMessageContaining("limit");
        assertThatThrownBy(() -> CollectionJob.builder().model(model).build()).hasMessageContaining("collector");
    }
}
