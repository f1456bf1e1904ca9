package dev.cllm.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.io.PrintStream;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * {@code ./cllm example [NN|name [ARGS...]]}: lists the numbered examples ({@code dev.cllm.examples.guide}), or runs
 * one's {@code main} with the remaining arguments, in this JVM.
 */
@Command(name = "example", mixinStandardHelpOptions = true,
        description = {"List the numbered examples, or run one: ./cllm example 01 [ARGS...].",
                "Arguments after the example go to its main; put -- before any that start with '-'. "
                        + "See docs/examples.md."})
final class ExampleCommand implements Callable<Integer> {

    /**
     * One example: its number, short name, class, arguments and what it shows.
     *
     * @param usage the arguments its {@code main} accepts, for the listing
     */
    record Entry(String number, String name, String className, String usage, String description) {

        /** The class name without its package. */
        String simpleName() {
            return className.substring(className.lastIndexOf('.') + 1);
        }

        /** Whether the class is on the class path (an example may be added after this table names it). */
        boolean available() {
            return load().isPresent();
        }

        Optional<Class<?>> load() {
            try {
                return Optional.of(Class.forName(className, false, ExampleCommand.class.getClassLoader()));
            } catch (ClassNotFoundException | LinkageError e) {
                return Optional.empty();
            }
        }

        /** Whether {@code key} names this example: its number (with or without the leading 0), name or class. */
        boolean matches(String key) {
            String k = key.strip().toLowerCase(Locale.ROOT);
            return k.equals(number) || k.equals(number.replaceFirst("^0+(?=.)", "")) || k.equals(name)
                    || k.equals(simpleName().toLowerCase(Locale.ROOT)) || k.equals(className.toLowerCase(Locale.ROOT));
        }
    }

    private static final String GUIDE = "dev.cllm.examples.guide.";

    /** The examples, in order. Entries whose class is absent at run time are neither listed nor runnable. */
    static final List<Entry> EXAMPLES = List.of(
            new Entry("01", "load-and-generate", GUIDE + "Example01LoadAndGenerate", "[MODEL_DIR [PROMPT]]",
                    "load the embedded model, generate greedily (AR), print the output and its statistics"),
            new Entry("02", "jacobi-streaming", GUIDE + "Example02JacobiStreaming", "[MODEL_DIR [CANCEL_AFTER]]",
                    "Jacobi decoding (n = 16) streamed chunk by chunk, cancelled after N tokens; same output as AR"),
            new Entry("03", "collect-trajectories", GUIDE + "Example03CollectTrajectories", "[OUT_DIR [MODEL_DIR]]",
                    "collect Jacobi trajectories (n = 16), clean them, write and read back a JSON lines file"),
            new Entry("04", "train-cllm", GUIDE + "Example04TrainCllm",
                    "[OUT_DIR [STEPS [TRAJECTORIES.jsonl [MODEL_DIR]]]]",
                    "consistency-train stories260K for a few dozen steps; tokens per pass before and after"));

    @Parameters(index = "0", arity = "0..1", paramLabel = "NN|name",
            description = "the example to run, by number (01) or name (load-and-generate); none: list them")
    String example;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "arguments for the example's main")
    List<String> args = new ArrayList<>();

    /** The examples whose class exists now. */
    static List<Entry> available() {
        return available(EXAMPLES);
    }

    static List<Entry> available(List<Entry> table) {
        return table.stream().filter(Entry::available).toList();
    }

    @Override
    public Integer call() throws Exception {
        if (example == null) {
            list(System.out);
            return 0;
        }
        Entry entry = find(example);
        run(entry, args.toArray(String[]::new));
        return 0;
    }

    /** Prints one line per available example: number, name, class, arguments; then its description. */
    static void list(PrintStream out) {
        out.println("Examples (./cllm example NN|name [ARGS...]; sources in examples/src/main/java/dev/cllm/examples/"
                + "guide, guide in docs/examples.md):");
        for (Entry e : available()) {
            out.printf(Locale.ROOT, "  %s  %-21s %-29s %s%n", e.number(), e.name(), e.simpleName(), e.usage());
            out.printf(Locale.ROOT, "      %s%n", e.description());
        }
    }

    /** The available example {@code key} names. @throws IllegalArgumentException naming the choices */
    static Entry find(String key) {
        return find(key, EXAMPLES);
    }

    static Entry find(String key, List<Entry> table) {
        List<Entry> available = available(table);
        Optional<Entry> missing = table.stream().filter(e -> e.matches(key) && !e.available()).findFirst();
        if (missing.isPresent()) {
            throw new IllegalArgumentException("example " + missing.get().number() + " (" + missing.get().name()
                    + ") is not in this build: " + missing.get().className() + " is not on the class path");
        }
        return available.stream().filter(e -> e.matches(key)).findFirst().orElseThrow(
                () -> new IllegalArgumentException("unknown example '" + key + "'; choose one of "
                        + available.stream().map(e -> e.number() + " (" + e.name() + ")")
                        .collect(Collectors.joining(", ")) + "; ./cllm example lists them"));
    }

    /** Calls the example's {@code public static void main(String[])} with {@code args}, rethrowing what it throws. */
    static void run(Entry entry, String[] args) throws Exception {
        Class<?> type = entry.load().orElseThrow(
                () -> new IllegalStateException(entry.className() + " is not on the class path"));
        Method main = type.getMethod("main", String[].class);
        if (!Modifier.isStatic(main.getModifiers())) {
            throw new IllegalStateException(entry.className() + ".main is not static");
        }
        try {
            main.invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            Throwable cause = e.getCause();
            if (cause instanceof Exception ex) {
                throw ex;
            }
            if (cause instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }
}
