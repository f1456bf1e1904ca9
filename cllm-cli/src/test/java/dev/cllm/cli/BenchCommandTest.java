package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.bench.BenchOptions;
import dev.cllm.bench.PeerBenchmark;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code ./cllm bench}: option parsing and bad input (no JMH run: too slow for unit tests), and the peer benchmark end
 * to end on a tiny model.
 */
class BenchCommandTest {
    private static BenchCommand parse(String... args) {
        BenchCommand command = new BenchCommand();
        new CommandLine(command).parseArgs(args);
        return command;
    }

    @Test
    void noOptionsIsTheFullDefaultRun() {
        BenchCommand c = parse();
        BenchOptions o = c.options();
        assertThat(c.json).isFalse();
        assertThat(o.quick()).isFalse();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.FORWARD, BenchOptions.Part.GENERATION);
        assertThat(o.modelsFor(BenchOptions.Part.FORWARD)).containsExactly("stories260K", "random50M");
        assertThat(o.modelsFor(BenchOptions.Part.GENERATION)).containsExactly("stories260K", "sql-base", "sql-cllm");
        assertThat(o.forwardN()).containsExactly(1, 2, 4, 8, 16, 32, 64);
        assertThat(o.generationBlockSizes()).containsExactly(1, 4, 8, 16, 32);
        assertThat(o.decoders()).containsExactly("jacobi", "lookahead");
        assertThat(o.contexts()).containsExactly(128);
        assertThat(c.resultsDir().getParent().getFileName().toString()).isEqualTo("bench-results");
        assertThat(c.resultsDir().getFileName().toString()).matches("[0-9]{8}-[0-9]{6}(-[0-9]+)?");
    }

    @Test
    void subsetOptionsReachTheRun() {
        BenchCommand c = parse("--quick", "--json", "--out", "results", "--benchmarks", "generation,collection",
                "--models", "stories260K,dir:some/model", "--n", "2,8", "--block-sizes", "8", "--decoders", "lookahead", "--contexts", "64,512",
                "--threads", "1/2,default", "--dtypes", "f32", "--max-new-tokens", "32", "--device", "cpu");
        BenchOptions o = c.options();
        assertThat(c.json).isTrue();
        assertThat(c.resultsDir()).isEqualTo(Path.of("results"));
        assertThat(o.quick()).isTrue();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.GENERATION, BenchOptions.Part.COLLECTION);
        assertThat(o.modelsFor(BenchOptions.Part.GENERATION)).containsExactly("stories260K", "dir:some/model");
        assertThat(o.forwardN()).containsExactly(1, 2, 8);
        assertThat(o.generationBlockSizes()).containsExactly(1, 8);
        assertThat(o.collectionBlockSizes()).containsExactly(8);
        assertThat(o.decoders()).containsExactly("lookahead");
        assertThat(o.contexts()).containsExactly(64, 512);
        assertThat(o.threads()).containsExactly("1/2", "default");
        assertThat(o.dtypes()).containsExactly("f32");
        assertThat(o.maxNewTokens()).isEqualTo(32);
        assertThat(o.device()).isEqualTo("cpu");
    }

    /** Moved from BenchOptionsTest when the benchmarks' own parser (BenchOptions.parse, BenchReport) was removed. */
    @Test
    void parsesTheArgumentsOfTheFormerBenchReport() {
        BenchOptions o = parse("--benchmarks", "generation,collection", "--quick", "--models", "stories260K,dir:x",
                "--block-sizes", "1,8", "--threads", "1/2,default", "--dtypes", "f32", "--max-new-tokens", "64")
                .options();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.GENERATION, BenchOptions.Part.COLLECTION);
        assertThat(o.quick()).isTrue();
        assertThat(o.modelsFor(BenchOptions.Part.GENERATION)).containsExactly("stories260K", "dir:x");
        assertThat(o.generationBlockSizes()).containsExactly(1, 8);
        assertThat(o.forwardN()).containsExactly(1, 8);   // --block-sizes sets n too when --n is absent
        assertThat(o.threads()).containsExactly("1/2", "default");
        assertThat(o.maxNewTokens()).isEqualTo(64);
        assertThat(parse("--block-sizes", "1,8", "--n", "2").options().forwardN()).containsExactly(1, 2);
    }

    /** Moved from BenchOptionsTest: the parser's errors, now picocli's, each one line naming the argument. */
    @Test
    void rejectsBadArgumentsNamingThem() {
        assertBad(CliRunner.run("bench", "--benchmarks", "speed"), "unknown benchmark 'speed'");
        assertBad(CliRunner.run("bench", "--n", "a"), "'--n'", "'a' is not an int");
        assertBad(CliRunner.run("bench", "--n"), "'--n'", "Missing required parameter");
        assertBad(CliRunner.run("bench", "--colour", "red"), "Unknown option", "'--colour'");
    }

    private static void assertBad(CliRunner.Run r, String... mentions) {
        assertThat(r.status()).as(r.err()).isEqualTo(Cli.BAD_INPUT);
        List<String> errors = r.err().lines().filter(l -> l.startsWith("error:")).toList();
        assertThat(errors).hasSize(1);
        assertThat(errors.get(0)).contains(mentions);
    }

    @Test
    void quickUsesFewerSizes() {
        BenchOptions o = parse("--quick").options();
        assertThat(o.forwardN()).containsExactly(1, 4, 16, 64);
        assertThat(o.generationBlockSizes()).containsExactly(1, 8, 16);
    }

    @Test
    void recordsTheCommandLineAsTyped() {
        CommandLine cli = new CommandLine(new Cli());
        CommandLine.ParseResult parsed = cli.parseArgs("bench", "--quick", "--models", "dir:a b");
        assertThat(Cli.commandLine(parsed.subcommand().commandSpec()))
                .isEqualTo("./cllm bench --quick --models 'dir:a b'");
    }

    @Test
    void badInputExitsWithStatus2BeforeAnythingRuns() {
        CliRunner.Run r = CliRunner.run("bench", "--benchmarks", "speed");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("unknown benchmark 'speed'");
        assertThat(CliRunner.run("bench", "--threads", "3").status()).isEqualTo(2);
        assertThat(CliRunner.run("bench", "--n", "x").status()).isEqualTo(2);
        CliRunner.Run unknown = CliRunner.run("bench", "--models", "stories1M", "--out", "no-such-results-dir");
        assertThat(unknown.status()).isEqualTo(2);
        assertThat(unknown.err()).contains("unknown benchmark model 'stories1M'");
        assertThat(Path.of("no-such-results-dir")).doesNotExist();
    }

    @Test
    void peerOptionsReachTheRun() {
        BenchOptions o = parse("--benchmarks", "peers", "--models", "random50M,dir:x", "--rounds", "5", "--ar-tokens",
                "16", "--llama-threads", "1", "--threads", "1/1", "--block-sizes", "4,16", "--max-new-tokens", "64")
                .options();
        assertThat(o.parts()).containsExactly(BenchOptions.Part.PEERS);
        assertThat(o.modelsFor(BenchOptions.Part.PEERS)).containsExactly("random50M", "dir:x");
        PeerBenchmark.Settings s = o.peerSettings("1/1");
        assertThat(s.rounds()).isEqualTo(5);
        assertThat(s.arTokens()).isEqualTo(16);
        assertThat(s.llamaThreads()).isEqualTo(1);
        assertThat(s.blockSizes()).containsExactly(4, 16);
        assertThat(s.jacobiTokens()).isEqualTo(64);
        assertThat(parse("--benchmarks", "peers").options().modelsFor(BenchOptions.Part.PEERS))
                .containsExactly("random50M");
        assertThat(parse("--benchmarks", "peers").options().peerSettings("default").rounds()).isEqualTo(3);
    }

    @Test
    void badPeerOptionsNameTheOption() {
        assertBad(CliRunner.run("bench", "--benchmarks", "peers", "--rounds", "x"), "'--rounds'", "'x' is not an int");
        assertBad(CliRunner.run("bench", "--benchmarks", "peers", "--rounds", "0"), "--rounds must be >= 1");
        assertBad(CliRunner.run("bench", "--benchmarks", "peers", "--ar-tokens", "0"), "--ar-tokens must be >= 1");
        assertBad(CliRunner.run("bench", "--benchmarks", "peers", "--llama-threads", "two"), "'--llama-threads'");
        assertBad(CliRunner.run("bench", "--benchmarks", "peers", "--llama-threads", "0"),
                "--llama-threads must be >= 1");
        assertBad(CliRunner.run("bench", "--benchmarks", "peer"), "unknown benchmark 'peer'", "peers");
        CliRunner.Run suffix = CliRunner.run("bench", "--benchmarks", "peers", "--models", "random50M+int8", "--out",
                "no-such-peer-results");
        assertBad(suffix, "random50M+int8", "every weight format");
        assertThat(Path.of("no-such-peer-results")).doesNotExist();
    }

    /** The peer benchmark end to end through the command: a tiny random model, one round, few tokens. */
    @Test
    void peersRunEndToEndIntoTheResultsFolder(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("results");
        CliRunner.Run r = CliRunner.run("bench", "--benchmarks", "peers", "--models", "random-d64-l2-h4-kv4-f128-v512",
                "--rounds", "1", "--ar-tokens", "2", "--max-new-tokens", "8", "--contexts", "16", "--block-sizes", "4",
                "--llama-threads", "1", "--json", "--out", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode json = new ObjectMapper().readTree(r.out());
        JsonNode peers = json.get("peers");
        assertThat(peers).hasSize(5);
        for (JsonNode row : peers) {
            for (String field : List.of("ar_ms_per_token", "t1_ms", "t8_ms", "t16_ms", "ar_ratio_to_q8_0",
                    "ar_tokens_per_s")) {
                assertThat(row.get(field).asDouble()).as(field + " in " + row).isPositive();
            }
        }
        assertThat(peers.get(0).get("jacobi").get(0).get("block_size").asInt()).isEqualTo(4);
        assertThat(json.get("forward_cost")).isEmpty();
        assertThat(out.resolve("results.json")).exists();
        assertThat(Files.readString(out.resolve("results.md"))).contains("## Peers: against llama.cpp")
                .contains("| llama.cpp | Q8_0 |");
        assertThat(r.err()).contains("peers: random-d64-l2-h4-kv4-f128-v512: round 1 of 1");
    }

    /** The serving benchmark through the command: a tiny random model, two client counts, AR and Jacobi. */
    @Test
    void servingRunsEndToEndIntoTheResultsFolder(@TempDir Path tmp) throws Exception {
        Path out = tmp.resolve("results");
        CliRunner.Run r = CliRunner.run("bench", "--benchmarks", "serving", "--models",
                "random-d64-l2-h4-kv4-f128-v512", "--clients", "1,2", "--decoders", "jacobi", "--max-new-tokens", "6",
                "--requests-per-client", "1", "--json", "--out", out.toString());
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode serving = new ObjectMapper().readTree(r.out()).get("serving");
        assertThat(serving).hasSize(8);                    // ar and jacobi x 1 and 2 clients x service and per thread
        for (JsonNode row : serving) {
            assertThat(row.get("identical_to_alone").asBoolean()).as(row.toString()).isTrue();
            for (String field : List.of("aggregate_tokens_per_s", "per_request_tokens_per_s", "ttft_p50_ms",
                    "ttft_p99_ms", "latency_p50_ms", "latency_p99_ms", "mean_batch_size")) {
                assertThat(row.get(field).asDouble()).as(field + " in " + row).isPositive();
            }
        }
        assertThat(Files.readString(out.resolve("results.md"))).contains("## Serving: concurrent clients")
                .contains("| random-d64-l2-h4-kv4-f128-v512 | jacobi | service | 2 |");
        assertBad(CliRunner.run("bench", "--benchmarks", "serving", "--clients", "0"), "clients must be >= 1");
        assertBad(CliRunner.run("bench", "--benchmarks", "serving", "--requests-per-client", "0"),
                "--requests-per-client must be >= 1");
        assertBad(CliRunner.run("bench", "--benchmarks", "serving", "--max-wait-ms", "-1"),
                "--max-wait-ms must be between 0 and 60000, got -1");
    }

    @Test
    void helpListsTheOptions() {
        CliRunner.Run r = CliRunner.run("bench", "--help");
        assertThat(r.status()).isZero();
        assertThat(r.out()).contains("--quick", "--json", "--out", "--models", "--block-sizes", "--n", "--rounds",
                "--ar-tokens", "--llama-threads", "peers");
    }
}
