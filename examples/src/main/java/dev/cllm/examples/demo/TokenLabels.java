package dev.cllm.examples.demo;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

/**
 * How one token id is shown in a trajectory: its vocabulary string from the checkpoint's {@code tokenizer.json}
 * (special tokens such as {@code </s>} included, a WordPiece continuation prefix {@code ##} dropped), or
 * {@code #id} for an id the file does not name. Showing vocabulary strings, not decoded text, keeps one cell per
 * token. Immutable.
 */
public final class TokenLabels {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CONTINUATION = "##";

    private final String[] labels;

    private TokenLabels(String[] labels) {
        this.labels = labels;
    }

    /** Labels from {@code labels.get(id)}; ids it lacks are shown as {@code #id}. */
    public static TokenLabels of(Map<Integer, String> labels) {
        int size = labels.keySet().stream().mapToInt(Integer::intValue).max().orElse(-1) + 1;
        String[] out = new String[size];
        labels.forEach((id, label) -> {
            if (id >= 0) {
                out[id] = display(label);
            }
        });
        return new TokenLabels(out);
    }

    /** Every id shown as {@code #id}. */
    public static TokenLabels ids() {
        return new TokenLabels(new String[0]);
    }

    /**
     * Reads the vocabulary of {@code modelDir/tokenizer.json} ({@code model.vocab} as an object of token to id, or
     * as the Unigram list of {@code [token, score]}, and {@code added_tokens}); {@link #ids()} when the file is
     * absent or unreadable: labels are for display only.
     */
    public static TokenLabels fromCheckpoint(Path modelDir) {
        Path file = modelDir.resolve("tokenizer.json");
        if (!Files.isRegularFile(file)) {
            return ids();
        }
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            return ids();
        }
        Map<Integer, String> labels = new java.util.HashMap<>();
        JsonNode vocab = root.path("model").path("vocab");
        if (vocab.isObject()) {
            vocab.fields().forEachRemaining(e -> {
                if (e.getValue().isInt()) {
                    labels.put(e.getValue().intValue(), e.getKey());
                }
            });
        } else if (vocab.isArray()) {
            for (int id = 0; id < vocab.size(); id++) {
                JsonNode piece = vocab.get(id);
                if (piece.isArray() && piece.size() > 0 && piece.get(0).isTextual()) {
                    labels.put(id, piece.get(0).textValue());
                }
            }
        }
        for (JsonNode added : root.path("added_tokens")) {
            if (added.path("id").isInt() && added.path("content").isTextual()) {
                labels.put(added.get("id").intValue(), added.get("content").textValue());
            }
        }
        return of(labels);
    }

    /** The label of {@code id}. */
    public String label(int id) {
        String label = id >= 0 && id < labels.length ? labels[id] : null;
        return label != null ? label : "#" + id;
    }

    private static String display(String token) {
        return token.startsWith(CONTINUATION) && token.length() > CONTINUATION.length()
                ? token.substring(CONTINUATION.length()) : token;
    }

    @Override
    public String toString() {
        return "TokenLabels[" + Arrays.stream(labels).filter(l -> l != null).count() + " named ids]";
    }
}
