package dev.cllm.examples.math;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The {@link MathTaskConfig} a model was trained against, from {@value #FILE_NAME} in its checkpoint directory:
 * {@code {"seed": 0, "train_examples": 16000, "held_out_examples": 200}}. Regenerating the task from it gives exactly
 * the held-out split the model never saw. A missing file means {@link MathTaskConfig#defaults()}; a missing field
 * means its default.
 */
public final class MathTaskConfigFile {
    /** The file's name in a checkpoint directory. */
    public static final String FILE_NAME = "math-task.json";

    private static final ObjectMapper JSON = new ObjectMapper();

    private MathTaskConfigFile() {
    }

    /** Whether {@code modelDir} holds a {@value #FILE_NAME}. */
    public static boolean present(Path modelDir) {
        return Files.isRegularFile(modelDir.resolve(FILE_NAME));
    }

    /**
     * Reads {@code modelDir/math-task.json}, or returns the defaults when there is none.
     *
     * @throws IllegalArgumentException naming the file if it is not a JSON object of integers or the values are out
     *                                  of range
     * @throws UncheckedIOException     if it cannot be read
     */
    public static MathTaskConfig read(Path modelDir) {
        Path file = modelDir.resolve(FILE_NAME);
        MathTaskConfig defaults = MathTaskConfig.defaults();
        if (!Files.isRegularFile(file)) {
            return defaults;
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": expected a JSON object");
        }
        try {
            return new MathTaskConfig(
                    integer(root, "seed", defaults.seed()),
                    Math.toIntExact(integer(root, "train_examples", defaults.trainExamples())),
                    Math.toIntExact(integer(root, "held_out_examples", defaults.heldOutExamples())));
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(file + ": a count is too large", e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Writes {@code config} as {@code modelDir/math-task.json}, the file {@link #read} reads. */
    public static void write(Path modelDir, MathTaskConfig config) {
        try {
            JSON.writerWithDefaultPrettyPrinter().writeValue(modelDir.resolve(FILE_NAME).toFile(),
                    JSON.createObjectNode().put("seed", config.seed()).put("train_examples", config.trainExamples())
                            .put("held_out_examples", config.heldOutExamples()));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + modelDir.resolve(FILE_NAME), e);
        }
    }

    private static long integer(JsonNode root, String field, long fallback) {
        JsonNode v = root.get(field);
        if (v == null || v.isNull()) {
            return fallback;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new IllegalArgumentException("field '" + field + "' must be an integer, got " + v);
        }
        return v.longValue();
    }
}
