package dev.cllm.examples.sql;

import java.util.Objects;

/** A column of a generated table: its name and SQL type. */
public record SqlColumn(String name, Type type) {
    /** The two SQL types the task uses. */
    public enum Type { INTEGER, TEXT }

    public SqlColumn {
        Objects.requireNonNull(type, "type");
        if (name == null || !name.matches("[a-z_]+")) {
            throw new IllegalArgumentException("column name must be lowercase letters and '_', got " + name);
        }
    }
}
