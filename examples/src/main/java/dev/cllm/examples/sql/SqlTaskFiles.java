package dev.cllm.examples.sql;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.cllm.examples.sql.SqlDatabase.ForeignKey;
import dev.cllm.examples.sql.SqlExample.Split;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads and writes a {@link SqlTask} as JSON lines (see {@link SqlTask#write}). */
final class SqlTaskFiles {
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String CONFIG = "task.json";
    static final String DATABASES = "databases.jsonl";

    private SqlTaskFiles() {
    }

    static String prefix(Split split) {
        return split == Split.TRAIN ? "train" : "heldout";
    }

    static void write(SqlTask task, Path dir) {
        try {
            Files.createDirectories(dir);
            SqlTaskConfig c = task.config();
            writeLines(dir.resolve(CONFIG), List.of(JSON.createObjectNode().put("seed", c.seed())
                    .put("train_examples", c.trainExamples()).put("held_out_examples", c.heldOutExamples())
                    .put("examples_per_database", c.examplesPerDatabase())));
            writeLines(dir.resolve(DATABASES), task.databases().stream().map(SqlTaskFiles::toJson).toList());
            for (Split split : Split.values()) {
                List<SqlExample> examples = task.examples(split);
                writeLines(SqlTask.promptsFile(dir, split), examples.stream().map(e -> (JsonNode) JSON
                        .createObjectNode().put("prompt", task.prompt(e)).put("answer", e.sql())).toList());
                writeLines(SqlTask.examplesFile(dir, split), examples.stream().map(e -> (JsonNode) JSON
                        .createObjectNode().put("db", e.db()).put("question", e.question()).put("sql", e.sql())
                        .put("pattern", e.pattern().name()).put("phrasing", e.phrasing())).toList());
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the task to " + dir, e);
        }
    }

    static SqlTask read(Path dir) {
        JsonNode c = readLines(dir.resolve(CONFIG)).get(0);
        SqlTaskConfig config = new SqlTaskConfig(c.path("seed").asLong(), c.path("train_examples").asInt(),
                c.path("held_out_examples").asInt(), c.path("examples_per_database").asInt());
        List<SqlDatabase> databases = new ArrayList<>();
        for (JsonNode db : readLines(dir.resolve(DATABASES))) {
            databases.add(database(db));
        }
        List<SqlExample> examples = new ArrayList<>();
        for (Split split : Split.values()) {
            Path file = SqlTask.examplesFile(dir, split);
            for (JsonNode e : readLines(file)) {
                try {
                    examples.add(new SqlExample(text(e, "db"), text(e, "question"), text(e, "sql"),
                            SqlPattern.valueOf(text(e, "pattern")), e.path("phrasing").asInt(-1), split));
                } catch (IllegalArgumentException ex) {
                    throw new IllegalArgumentException(file + ": " + ex.getMessage(), ex);
                }
            }
        }
        return new SqlTask(config, databases, examples);
    }

    private static JsonNode toJson(SqlDatabase db) {
        ObjectNode out = JSON.createObjectNode().put("id", db.id());
        ArrayNode tables = out.putArray("tables");
        for (SqlTable t : db.tables()) {
            ObjectNode table = tables.addObject().put("name", t.name());
            ArrayNode columns = table.putArray("columns");
            t.columns().forEach(col -> columns.addObject().put("name", col.name()).put("type", col.type().name()));
            ArrayNode rows = table.putArray("rows");
            for (List<Object> row : t.rows()) {
                ArrayNode r = rows.addArray();
                row.forEach(v -> {
                    if (v instanceof Integer i) {
                        r.add(i);
                    } else {
                        r.add((String) v);
                    }
                });
            }
        }
        ArrayNode fks = out.putArray("foreign_keys");
        db.foreignKeys().forEach(fk -> fks.addObject().put("table", fk.table()).put("column", fk.column())
                .put("references", fk.references()));
        return out;
    }

    private static SqlDatabase database(JsonNode db) {
        List<SqlTable> tables = new ArrayList<>();
        for (JsonNode t : db.path("tables")) {
            List<SqlColumn> columns = new ArrayList<>();
            t.path("columns").forEach(c -> columns.add(new SqlColumn(text(c, "name"),
                    SqlColumn.Type.valueOf(text(c, "type")))));
            List<List<Object>> rows = new ArrayList<>();
            for (JsonNode r : t.path("rows")) {
                List<Object> row = new ArrayList<>();
                r.forEach(v -> row.add(v.isInt() ? (Object) v.intValue() : v.asText()));
                rows.add(row);
            }
            tables.add(new SqlTable(text(t, "name"), columns, rows));
        }
        List<ForeignKey> fks = new ArrayList<>();
        db.path("foreign_keys").forEach(fk -> fks.add(new ForeignKey(text(fk, "table"), text(fk, "column"),
                text(fk, "references"))));
        return new SqlDatabase(text(db, "id"), tables, fks);
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
