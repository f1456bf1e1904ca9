package dev.cllm.torch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.api.CheckpointException;
import dev.cllm.api.GenerationConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads a checkpoint's {@code generation_config.json} (Hugging Face's generation defaults) into a
 * {@link GenerationConfig}: {@code max_new_tokens}, {@code min_new_tokens}, {@code do_sample}, {@code temperature},
 * {@code top_k}, {@code top_p}, {@code min_p}, {@code repetition_penalty}, {@code stop_strings}, and {@code seed} when
 * present. Fields it does not use ({@code max_length}, which counts the prompt; {@code pad_token_id}; beam search
 * settings) are ignored. EOS ids are not copied here: the model's {@link dev.cllm.api.ModelConfig#eosTokenIds()}
 * already merges the file's {@code eos_token_id} with {@code config.json}'s, and the returned config uses them.
 */
public final class GenerationConfigJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private GenerationConfigJson() {
    }

    /**
     * The defaults of the checkpoint in {@code dir}: Hugging Face's defaults overridden by its
     * {@code generation_config.json} when there is one.
     *
     * @throws CheckpointException naming the file and field when the file is malformed or a value is invalid
     */
    public static GenerationConfig read(Path dir) {
        Path file = dir.resolve("generation_config.json");
        if (!Files.isRegularFile(file)) {
            return GenerationConfig.defaults();
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new CheckpointException(file + ": invalid JSON: " + e.getMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new CheckpointException(file + ": expected a JSON object");
        }
        GenerationConfig.Builder b = GenerationConfig.builder();
        try {
            if (present(root, "max_new_tokens")) {
                b.maxNewTokens(integer(root, "max_new_tokens", file));
            }
            if (present(root, "min_new_tokens")) {
                b.minNewTokens(integer(root, "min_new_tokens", file));
            }
            if (present(root, "do_sample")) {
                JsonNode n = root.get("do_sample");
                if (!n.isBoolean()) {
                    throw new CheckpointException(file + ": do_sample must be true or false, got " + n);
                }
                b.doSample(n.booleanValue());
            }
            if (present(root, "temperature")) {
                b.temperature(number(root, "temperature", file));
            }
            if (present(root, "top_k")) {
                b.topK(integer(root, "top_k", file));
            }
            if (present(root, "top_p")) {
                b.topP(number(root, "top_p", file));
            }
            if (present(root, "min_p")) {
                b.minP(number(root, "min_p", file));
            }
            if (present(root, "repetition_penalty")) {
                b.repetitionPenalty(number(root, "repetition_penalty", file));
            }
            if (present(root, "seed")) {
                b.seed((long) integer(root, "seed", file));
            }
            if (present(root, "stop_strings")) {
                JsonNode n = root.get("stop_strings");
                List<String> stops = new ArrayList<>();
                if (n.isTextual()) {
                    stops.add(n.textValue());
                } else if (n.isArray()) {
                    for (JsonNode s : n) {
                        if (!s.isTextual()) {
                            throw new CheckpointException(file + ": stop_strings must hold strings, got " + s);
                        }
                        stops.add(s.textValue());
                    }
                } else {
                    throw new CheckpointException(file + ": stop_strings must be a string or a list, got " + n);
                }
                b.stopStrings(stops);
            }
            return b.build();
        } catch (IllegalArgumentException e) {
            throw new CheckpointException(file + ": " + e.getMessage(), e);
        }
    }

    private static boolean present(JsonNode root, String field) {
        return root.has(field) && !root.get(field).isNull();
    }

    private static int integer(JsonNode root, String field, Path file) {
        JsonNode n = root.get(field);
        if (!n.isIntegralNumber() || !n.canConvertToInt()) {
            throw new CheckpointException(file + ": " + field + " must be an integer, got " + n);
        }
        return n.intValue();
    }

    private static double number(JsonNode root, String field, Path file) {
        JsonNode n = root.get(field);
        if (!n.isNumber()) {
            throw new CheckpointException(file + ": " + field + " must be a number, got " + n);
        }
        return n.doubleValue();
    }
}
