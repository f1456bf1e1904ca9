package dev.cllm.cli;

import dev.cllm.cli.CliRunner.Run;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code --verbose}: an unexpected failure prints one line without it; with it, the cause chain and the root cause's
 * stack trace.
 */
class VerboseTest {
    /** Fails the way a run fails deep inside a library: an exception with two causes. */
    @Command(name = "fail")
    static final class Fail implements Callable<Integer> {
        @Override
        public Integer call() {
            throw new IllegalStateException("decoding failed",
                    new UncheckedIOException("cannot read model.safetensors", new IOException("disk gone")));
        }
    }

    private static Run run(String... args) {
        return CliRunner.run(() -> Cli.newCommandLine().addSubcommand(new Fail()), args);
    }

    @Test
    void withoutVerboseAFailureIsOneLine() {
        Run r = run("fail");
        assertThat(r.status()).isEqualTo(Cli.FAILURE);
        assertThat(r.err().lines().toList()).singleElement().asString()
                .startsWith("error: decoding failed").contains("--verbose").doesNotContain("disk gone");
    }

    @Test
    void withVerboseBeforeOrAfterTheCommandEveryCauseAndTheRootStackTrace() {
        for (Run r : List.of(run("--verbose", "fail"), run("fail", "--verbose"))) {
            assertThat(r.status()).isEqualTo(Cli.FAILURE);
            List<String> lines = r.err().lines().toList();
            assertThat(lines.subList(0, 5)).containsExactly(
                    "error: decoding failed",
                    "  java.lang.IllegalStateException: decoding failed",
                    "  caused by: java.io.UncheckedIOException: cannot read model.safetensors",
                    "  caused by: java.io.IOException: disk gone",
                    "stack trace of the root cause:");
            assertThat(lines.get(5)).isEqualTo("java.io.IOException: disk gone");
            assertThat(lines.get(6)).startsWith("\tat dev.cllm.cli.VerboseTest$Fail.call");
            assertThat(lines.subList(5, lines.size())).allMatch(l -> l.equals(lines.get(5)) || l.startsWith("\t"));
        }
    }

    @Test
    void badInputStaysOneLineWithoutVerbose() {
        Run r = CliRunner.run("generate", "--prompt-ids", "1", "--decoder", "beam");
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err().lines().filter(l -> !l.startsWith("[")).toList()).singleElement().asString()
                .startsWith("error:").doesNotContain("--verbose");
    }

    @Test
    void helpListsVerboseForEveryCommand() {
        assertThat(CliRunner.run("--help").out()).contains("--verbose");
        assertThat(CliRunner.run("generate", "--help").out()).contains("--verbose");
    }
}
