package dev.cllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * {@code ./cllm}: the command-line interface. Results go to stdout, logs and errors to stderr; bad input exits with
 * status 2 and one line naming the problem, a failure during the run with status 1 and one line, or with
 * {@code --verbose} (before or after the command's name) the whole cause chain and the root cause's stack trace.
 */
@Command(name = "cllm", mixinStandardHelpOptions = true, version = "cllm-java 0.1.0-SNAPSHOT",
        description = "Consistency LLMs on the JVM: lossless Jacobi decoding for LLaMA-family checkpoints.",
        subcommands = {GenerateCommand.class, CollectCommand.class, ConvertCommand.class, TrainCommand.class,
                PretrainCommand.class, ExportCommand.class, AverageCommand.class, BlendCommand.class,
                PipelineCommand.class, SqlTaskCommand.class, MathTaskCommand.class, BenchCommand.class,
                BlockSizeOracleCommand.class,
                TrainingBenchCommand.class, ServingBenchCommand.class, WeightFormatsCommand.class,
                LoadBenchCommand.class, InitRandomCommand.class, DemoCommand.class, ExampleCommand.class,
                CommandLine.HelpCommand.class})
public final class Cli {
    /**
     * Root option, inherited by every command so that it may come before or after the command's name; read from the
     * parse result where an error is reported.
     */
    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "on an error, print every cause (class and message) and the root cause's stack trace")
    boolean verbose;

    /** Exit status for invalid input (bad option, file, id or size). */
    static final int BAD_INPUT = 2;
    /** Exit status for a failure during the run. */
    static final int FAILURE = 1;

    /** The repository root, set by the launcher; the embedded models live under it. */
    static Path home() {
        return Path.of(System.getProperty("cllm.home", "."));
    }

    /** The embedded default model. */
    static Path defaultModel() {
        return home().resolve("models").resolve("stories260K");
    }

    public static void main(String[] args) {
        if (System.getProperty("org.slf4j.simpleLogger.logFile") == null) {
            System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (for tests). */
    static int run(String... args) {
        return newCommandLine().execute(args);
    }

    /** A new command line with every command and this interface's error handling, ready to execute. */
    static CommandLine newCommandLine() {
        CommandLine cli = new CommandLine(new Cli());
        cli.setParameterExceptionHandler((e, a) -> {
            PrintWriter err = e.getCommandLine().getErr();
            err.println("error: " + e.getMessage());
            err.println("(try: ./cllm " + e.getCommandLine().getCommandName() + " --help)");
            err.flush();
            return BAD_INPUT;
        });
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            PrintWriter err = commandLine.getErr();
            boolean badInput = e instanceof IllegalArgumentException || e instanceof dev.cllm.api.CheckpointException
                    || e instanceof dev.cllm.data.TrajectoryFormatException
                    || e instanceof dev.cllm.data.PromptFormatException;
            report(e, badInput, verbose(parseResult), err);
            err.flush();
            return badInput ? BAD_INPUT : FAILURE;
        });
        return cli;
    }

    /** Whether {@code --verbose} was given, before or after the command's name. */
    private static boolean verbose(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            if (p.hasMatchedOption("--verbose")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Prints the error line; with {@code verbose}, then every exception of the cause chain (class and message) and the
     * stack trace of the root cause.
     */
    static void report(Throwable e, boolean badInput, boolean verbose, PrintWriter err) {
        if (!verbose) {
            err.println("error: " + oneLine(e) + (badInput ? "" : " (--verbose for the causes and stack trace)"));
            return;
        }
        err.println("error: " + oneLine(e));
        Set<Throwable> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Throwable root = e;
        for (Throwable t = e; t != null && seen.add(t); t = t.getCause()) {
            err.println((t == e ? "  " : "  caused by: ") + t);
            root = t;
        }
        err.println("stack trace of the root cause:");
        root.printStackTrace(err);
    }

    /** A subcommand's command line as typed ({@code ./cllm NAME ARGS}, shell-quoted), for results' headers. */
    static String commandLine(CommandLine.Model.CommandSpec spec) {
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        int at = args.indexOf(spec.name());
        List<String> own = at >= 0 ? args.subList(at + 1, args.size()) : args;
        return String.join(" ", Stream.concat(Stream.of("./cllm", spec.name()), own.stream().map(Cli::quote)).toList());
    }

    private static String quote(String arg) {
        return arg.matches("[A-Za-z0-9_./:,=@%+-]+") ? arg : "'" + arg.replace("'", "'\\''") + "'";
    }

    private static String oneLine(Throwable e) {
        String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int newline = message.indexOf('\n');
        return newline < 0 ? message : message.substring(0, newline);
    }
}
