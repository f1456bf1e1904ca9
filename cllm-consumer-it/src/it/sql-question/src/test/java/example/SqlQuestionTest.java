package example;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Runs {@link SqlQuestion} as a user would: {@code java -cp CLASSES:RUNTIME_CLASSPATH example.SqlQuestion MODEL}, no
 * JVM flags, and checks what it prints on stdout and on stderr.
 */
class SqlQuestionTest {
    /** A line of slf4j-simple, the consumer's logging backend: {@code [thread] LEVEL logger - message}. */
    private static final Pattern LOG_LINE = Pattern.compile("^\\[[^\\]]+\\] (TRACE|DEBUG|INFO|WARN|ERROR) \\S+ - .*");

    /**
     * Messages that native code printed straight to stderr before cllm-torch routed them through SLF4J: libtorch's
     * warnings that its FBGEMM fp16 functions are deprecated ({@code fbgemm_pack_gemm_matrix_fp16} at load,
     * {@code fbgemm_linear_fp16_weight_fp32_activation} at the first forward pass), and DJL's GPU probe. They are
     * allowed only when {@code cllm.it.tolerateNativeWarnings} is true (false in cllm-consumer-it's POM: stderr must
     * hold log lines only).
     */
    private static final List<Pattern> KNOWN_NATIVE_WARNINGS = List.of(
            Pattern.compile("^\\[W[0-9 :.]+ [A-Za-z]+\\.cpp:[0-9]+\\] Warning: fbgemm_\\w+ is deprecated .*"),
            Pattern.compile(".*Failed to detect GPU count.*"));

    @Test
    void answersWithTheSqlOfArDecodingAndWritesOnlyLogLinesToStderr() throws Exception {
        Path model = Path.of(System.getProperty("cllm.model"));
        assertTrue(Files.isDirectory(model), "no model at " + model);
        String classpath = "target/classes" + java.io.File.pathSeparator
                + Files.readString(Path.of("target/classpath.txt")).strip();
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-cp", classpath, "example.SqlQuestion", model.toString())
                .start();
        CompletableFuture<String> out = CompletableFuture.supplyAsync(() -> read(p.getInputStream()));
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> read(p.getErrorStream()));
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "still running after 120 s");
        String stdout = out.get();
        String stderr = err.get();
        System.out.println("stdout:\n" + stdout + "stderr:\n" + stderr);
        assertEquals(0, p.exitValue(), "exit status; stderr:\n" + stderr);

        List<String> lines = stdout.lines().toList();
        assertEquals(3, lines.size(), stdout);
        String jacobi = field(lines.get(0), "jacobi: ");
        String ar = field(lines.get(1), "ar: ");
        assertTrue(jacobi.startsWith("SELECT "), "not SQL: " + jacobi);
        assertEquals(ar, jacobi, "Jacobi decoding is lossless: the same SQL as AR");

        boolean tolerate = Boolean.parseBoolean(System.getProperty("cllm.it.tolerateNativeWarnings", "false"));
        List<String> unexpected = new ArrayList<>();
        for (String line : stderr.lines().toList()) {
            boolean known = KNOWN_NATIVE_WARNINGS.stream().anyMatch(w -> w.matcher(line).matches());
            if (!LOG_LINE.matcher(line).matches() && !(tolerate && known)) {
                unexpected.add(line);
            }
        }
        assertTrue(unexpected.isEmpty(), "stderr lines that are not log lines: " + unexpected);
    }

    private static String field(String line, String prefix) {
        assertTrue(line.startsWith(prefix), line);
        return line.substring(prefix.length());
    }

    private static String read(java.io.InputStream in) {
        try {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
