package dev.cllm.cli;

import dev.cllm.cli.CliRunner.Run;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static dev.cllm.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** {@code ./cllm generate --stream}: what is streamed (text, or ids without a tokenizer) is printed once. */
class GenerateStreamTest {
    private static final String PROMPT = "schema : city ( id , name , population ) movie ( id , name , genre , "
            + "director_id ) director ( id , name , age , city ) question : give me the total population of the "
            + "cities . sql :";

    /** The embedded text-to-SQL CLLM, which has a tokenizer. */
    private static Path sqlCllm() {
        Path dir = Stories260K.dir().resolveSibling("sql-cllm");
        assumeTrue(Files.isDirectory(dir), "no models/sql-cllm; skipping");
        return dir;
    }

    @Test
    void streamedTextIsNotPrintedAgainAtTheEnd() {
        List<String> args = List.of("generate", "--model", sqlCllm().toString(), "--prompt", PROMPT, "--decoder",
                "jacobi", "--block-size", "8", "--max-new-tokens", "32");
        Run plain = run(args.toArray(String[]::new));
        Run streamed = run(concat(args, "--stream"));
        assertThat(plain.status()).as(plain.err()).isZero();
        assertThat(streamed.status()).as(streamed.err()).isZero();

        List<String> expected = plain.out().lines().toList();   // text, ids, statistics
        List<String> lines = streamed.out().lines().toList();
        String text = expected.get(0);
        assertThat(text).startsWith("SELECT");
        assertThat(lines).hasSameSizeAs(expected);
        assertThat(lines.subList(0, 2)).isEqualTo(expected.subList(0, 2));
        assertThat(occurrences(streamed.out(), text)).isEqualTo(1);
    }

    @Test
    void streamedIdsAreNotPrintedAgainAtTheEnd() {
        Stories260K.GreedyCase c = Stories260K.greedyCases().get(0);
        String prompt = String.join(",", Arrays.stream(c.promptIds()).mapToObj(Integer::toString).toList());
        Run streamed = run("generate", "--model", Stories260K.dir().toString(), "--prompt-ids", prompt,
                "--max-new-tokens", "20", "--decoder", "jacobi", "--no-stop", "--stream");
        assertThat(streamed.status()).as(streamed.err()).isZero();
        List<String> lines = streamed.out().lines().toList();   // the streamed ids, statistics
        assertThat(lines).hasSize(2);
        assertThat(lines.get(0).strip()).isEqualTo(String.join(" ",
                Arrays.stream(Arrays.copyOf(c.greedyIds(), 20)).mapToObj(Integer::toString).toList()));
        assertThat(streamed.out()).doesNotContain("ids:");
    }

    private static String[] concat(List<String> args, String more) {
        return java.util.stream.Stream.concat(args.stream(), java.util.stream.Stream.of(more)).toArray(String[]::new);
    }

    private static int occurrences(String haystack, String needle) {
        int count = 0;
        for (int at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) {
            count++;
        }
        return count;
    }
}
