package dev.cllm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link PeerBenchmark} end to end on a tiny random LLaMA (written as a bf16 checkpoint, exported to GGUF F16 and
 * Q8_0, run by our engine in three formats and by llama.cpp in two), one round after the warm-up, few tokens.
 */
class PeerBenchmarkTest {
    /** d 64, 2 layers, 4 heads, FFN 128, vocabulary 512 (Q8_0 needs rows that are multiples of 32). */
    static final String TINY = "random-d64-l2-h4-kv4-f128-v512";

    private static PeerBenchmark.Settings settings(int context) {
        return new PeerBenchmark.Settings(1, 3, context, 8, List.of(4), "default", 1);
    }

    @Test
    void everyEngineMeasuresTheSameWeights() {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        BenchResults.PeerRun run = PeerBenchmark.run(TINY, settings(16),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        String logged = log.toString(StandardCharsets.UTF_8);

        assertThat(run.error()).as(logged).isNull();
        assertThat(run.model()).isEqualTo(TINY);
        assertThat(run.llamaThreads()).isEqualTo(1);
        assertThat(run.ourThreads()).matches("[0-9]+/[0-9]+");
        assertThat(run.rows()).extracting(r -> r.engine() + " " + r.weights()).containsExactly("cllm-java f32",
                "cllm-java f16", "cllm-java int8", "llama.cpp F16", "llama.cpp Q8_0");
        for (BenchResults.PeerRow r : run.rows()) {
            assertThat(r.arMsPerToken()).as(r.toString()).isPositive().isFinite();
            assertThat(r.arTokensPerS()).isPositive().isFinite();
            assertThat(r.passMs()).containsOnlyKeys(1, 8, 16);
            assertThat(r.passMs().values()).allSatisfy(ms -> assertThat(ms).as(r.toString()).isPositive().isFinite());
            assertThat(r.arRatio()).isPositive().isFinite();
            assertThat(r.passRatio().values()).allSatisfy(x -> assertThat(x).isPositive().isFinite());
            if (r.engine().equals(PeerBenchmark.OURS)) {
                assertThat(r.jacobi()).hasSize(1);
                BenchResults.JacobiRate j = r.jacobi().get(0);
                assertThat(j.blockSize()).isEqualTo(4);
                assertThat(j.tokensPerS()).isPositive().isFinite();
                assertThat(j.tokensPerPass()).isBetween(1.0, 4.0);
            } else {
                assertThat(r.jacobi()).isEmpty();
            }
        }
        BenchResults.PeerRow q8 = run.rows().get(4);
        assertThat(q8.arRatio()).isEqualTo(1.0);
        assertThat(q8.passRatio().values()).containsOnly(1.0);

        // the checkpoint and GGUF files lived in a temporary folder that is gone
        Matcher folder = Pattern.compile("temporary folder (\\S+) ").matcher(logged);
        assertThat(folder.find()).as(logged).isTrue();
        assertThat(Path.of(folder.group(1))).doesNotExist();
        assertThat(logged).contains("round 1 of 1");

        // the rows as JSON and Markdown
        BenchResults results = new BenchResults(List.of(), List.of(), List.of(), List.of(run), List.of(), "x");
        JsonNode rows = BenchJson.results(results, null, null).get("peers");
        assertThat(rows).hasSize(5);
        for (JsonNode row : rows) {
            assertThat(row.get("model").asText()).isEqualTo(TINY);
            for (String field : List.of("ar_ms_per_token", "t1_ms", "t8_ms", "t16_ms", "ar_ratio_to_q8_0",
                    "t8_ratio_to_q8_0", "ar_tokens_per_s")) {
                assertThat(row.get(field).isNumber()).as(field + " in " + row).isTrue();
                assertThat(row.get(field).asDouble()).as(field + " in " + row).isPositive();
            }
            assertThat(row.get("engine").isTextual()).isTrue();
            assertThat(row.get("weights").isTextual()).isTrue();
            assertThat(row.get("rounds").asInt()).isEqualTo(1);
            assertThat(row.has("load_before")).isTrue();
        }
        assertThat(rows.get(0).get("jacobi").get(0).get("tokens_per_s").asDouble()).isPositive();
        assertThat(rows.get(0).get("jacobi").get(0).get("ratio_to_llama_q8_0_ar").asDouble()).isPositive();
        assertThat(rows.get(3).get("jacobi")).isEmpty();
        String md = BenchMarkdown.document(results, null, List.of());
        assertThat(md).contains("## Peers: against llama.cpp on the same weights").contains("| llama.cpp | Q8_0 |")
                .contains("| cllm-java | int8 | 4 |").contains("1 round after a warm-up round")
                .doesNotContain("JMH:");
    }

    /**
     * A task model (the shipped SQL CLLM) decodes its own held-out prompts in the Jacobi rows, stopping at EOS: its
     * multi-token passes show (random prompts, or generation past EOS, stay near one token per pass).
     */
    @Test
    void aTaskModelDecodesItsOwnPromptsToEos() {
        assumeTrue(BenchModels.missing(BenchModels.SQL_CLLM).isEmpty(), "the shipped SQL CLLM is not here");
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        BenchResults.PeerRun run = PeerBenchmark.run(BenchModels.SQL_CLLM,
                new PeerBenchmark.Settings(1, 3, 16, 64, List.of(8), "1/1", 1),
                new PrintStream(log, true, StandardCharsets.UTF_8));
        String logged = log.toString(StandardCharsets.UTF_8);

        assertThat(run.error()).as(logged).isNull();
        assertThat(run.rows()).hasSize(5);
        for (BenchResults.PeerRow r : run.rows().subList(0, 3)) {
            assertThat(r.jacobi()).as(r.toString()).hasSize(1);
            // measured 2.02 tokens per pass with fp16 weights on its 200 prompts; the base model makes about 1.06
            assertThat(r.jacobi().get(0).tokensPerPass()).as(r.toString()).isBetween(1.6, 8.0);
            assertThat(r.jacobi().get(0).tokensPerS()).isPositive().isFinite();
        }
        // the shipped checkpoint itself was exported and measured, not a random stand-in
        assertThat(logged).contains("exported GGUF").doesNotContain("written as a bf16 checkpoint");
    }

    @Test
    void aModelThatCannotFitIsTheRunsErrorNotAnException() {
        PrintStream none = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        BenchResults.PeerRun run = PeerBenchmark.run(TINY, settings(2000), none);
        assertThat(run.rows()).isEmpty();
        assertThat(run.error()).contains("do not fit").contains("1024 positions");
        BenchResults results = new BenchResults(List.of(), List.of(), List.of(), List.of(run), List.of(), "x");
        assertThat(BenchJson.results(results, null, null).get("peers").get(0).get("error").asText())
                .contains("do not fit");
        assertThat(BenchMarkdown.document(results, null, List.of())).contains("failed: ");
    }

    @Test
    void refusesKernelSuffixesUnknownModelsAndBadSettings() {
        assertThat(PeerBenchmark.unsuitable("random50M+int8")).get().asString()
                .contains("random50M+int8").contains("every weight format");
        assertThat(PeerBenchmark.unsuitable("stories1M")).get().asString()
                .contains("unknown benchmark model 'stories1M'");
        assertThat(PeerBenchmark.unsuitable(BenchModels.RANDOM_50M)).isEmpty();
        PrintStream none = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
        assertThatThrownBy(() -> PeerBenchmark.run("random50M+f16", settings(16), none))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("+suffix");
        assertThatThrownBy(() -> new PeerBenchmark.Settings(0, 1, 1, 1, List.of(8), "default", null))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new PeerBenchmark.Settings(1, 1, 1, 1, List.of(1), "default", null))
                .hasMessageContaining("block sizes must be >= 2");
        assertThatThrownBy(() -> new PeerBenchmark.Settings(1, 1, 1, 1, List.of(8), "default", 0))
                .hasMessageContaining("llama.cpp threads");
    }

    @Test
    void optionsDefaultToRandom50MThreeRoundsAndBlockSize8() {
        BenchOptions o = BenchOptions.builder().part(BenchOptions.Part.PEERS).build();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.PEERS);
        assertThat(o.modelsFor(BenchOptions.Part.PEERS)).containsExactly("random50M");
        PeerBenchmark.Settings s = o.peerSettings("1/1");
        assertThat(s.rounds()).isEqualTo(3);
        assertThat(s.arTokens()).isEqualTo(32);
        assertThat(s.context()).isEqualTo(128);
        assertThat(s.jacobiTokens()).isEqualTo(128);
        assertThat(s.blockSizes()).containsExactly(8);
        assertThat(s.llamaThreads()).isNull();
        assertThat(BenchOptions.builder().blockSizes(List.of(1, 16, 4)).build().peerBlockSizes())
                .containsExactly(4, 16);
        assertThatThrownBy(() -> BenchOptions.builder().rounds(0)).hasMessageContaining("--rounds");
        assertThatThrownBy(() -> BenchOptions.builder().arTokens(0)).hasMessageContaining("--ar-tokens");
        assertThatThrownBy(() -> BenchOptions.builder().llamaThreads(0)).hasMessageContaining("--llama-threads");
    }
}
