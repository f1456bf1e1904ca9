package dev.cllm.cli;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/** Runs the command line in this JVM and captures what it printed (for the tests of every command). */
public final class CliRunner {
    private CliRunner() {
    }

    /** What one run printed and returned. */
    public record Run(int status, String out, String err) {
    }

    /** Runs {@code ./cllm args...}; serialised because it swaps System.out and System.err. */
    public static Run run(String... args) {
        return run(Cli::newCommandLine, args);
    }

    /**
     * Runs the command line that {@code cli} makes (from {@link Cli#newCommandLine()}, perhaps with a test command
     * added) on {@code args}; it is made after System.out and System.err are swapped, since picocli keeps the streams
     * it finds when it is made.
     */
    static synchronized Run run(Supplier<CommandLine> cli, String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = cli.get().execute(args);
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }
}
