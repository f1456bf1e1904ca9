package dev.cllm.examples.math;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.examples.math.MathExample.Split;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads and writes a {@link MathTask} as JSON lines (see {@link MathTask#write}). */
final class MathTaskFiles {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String CONFIG = "task.json";

    private MathTaskFiles() {
    }

    static String prefix(Split split) {
        return split == Split.TRAIN ? "train" : "heldout";
    }

    static void write(MathTask task, Path dir) {
        try {
            Files.createDirectories(dir);
            MathTaskConfig c = task.config();
            writeLines(dir.resolve(CONFIG), List.of(JSON.createObjectNode().put("seed", c.seed())
                    .put("train_examples", c.trainExamples()).put("held_out_examples", c.heldOutExamples())));
            for (Split split : Split.values()) {
                List<MathExample> examples = task.examples(split);
                writeLines(MathTask.promptsFile(dir, split), examples.stream().map(e -> (JsonNode) JSON
                        .createObjectNode().put("prompt", MathTask.prompt(e)).put("answer", MathTask.answer(e)))
                        .toList());
                writeLines(MathTask.examplesFile(dir, split), examples.stream().map(e -> (JsonNode) JSON
                        .createObjectNode().put("question", e.question()).put("solution", e.solution())
                        .put("final_answer", e.finalAnswer()).put("story", e.story().name())
                        .put("phrasing", e.phrasing().name())).toList());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the task to " + dir, e);
        }
    }

    static MathTask read(Path dir) {
        Path configFile = dir.resolve(CONFIG);
        JsonNode c = readLines(configFile).get(0);
        MathTaskConfig config;
        try {
            config = new MathTaskConfig(c.path("seed").asLong(), c.path("train_examples").asInt(),
                    c.path("held_out_examples").asInt());
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(configFile + ": " + ex.getMessage(), ex);
        }
        List<MathExample> examples = new ArrayList<>();
        for (Split split : Split.values()) {
            Path file = MathTask.examplesFile(dir, split);
            for (JsonNode e : readLines(file)) {
                try {
                    JsonNode answer = e.get("final_answer");
                    if (answer == null || !answer.isInt()) {
                        throw new IllegalArgumentException("field 'final_answer' missing or not an int in " + e);
                    }
                    examples.add(new MathExample(text(e, "question"), text(e, "solution"), answer.intValue(),
                            MathStory.valueOf(text(e, "story")), MathPhrasing.valueOf(text(e, "phrasing")), split));
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(file + ": " + ex.getMessage(), ex);
                }
            }
        }
        return new MathTask(config, examples);
    }

    private static String text(JsonNode node, String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException("field '" + field + "' missing or not a string in " + node);
        }
        return v.textValue();
    }

    private static void writeLines(Path file, List<? extends JsonNode> lines) throws IOException {
        try (Writer w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            for (JsonNode line : lines) {
                w.write(JSON.writeValueAsString(line));
                w.write('\n');
            }
        }
    }

    private static List<JsonNode> readLines(Path file) {
        List<JsonNode> out = new ArrayList<>();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int number = 0;
            while ((line = r.readLine()) != null) {
                number++;
                if (line.isBlank()) {
                    continue;
                }
                try {
                    out.add(JSON.readTree(line));
                } catch (IOException e) {
                    throw new IllegalArgumentException(file + ":" + number + ": not valid JSON: " + e.getMessage(), e);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + file, e);
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException(file + ": empty");
        }
        return out;
    }
}
