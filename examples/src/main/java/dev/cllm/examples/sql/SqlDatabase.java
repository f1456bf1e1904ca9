package dev.cllm.examples.sql;

import java.util.List;
import java.util.stream.Collectors;

/** A generated database: an id, 3-4 tables with their rows, and the foreign keys between them. */
public record SqlDatabase(String id, List<SqlTable> tables, List<ForeignKey> foreignKeys) {
    /** {@code table.column} holds ids of {@code references} ({@code references.id}). */
    public record ForeignKey(String table, String column, String references) {
    }

    public SqlDatabase {
        if (id == null || id.isBlank()) {
            throw new IllegalArgumentException("database id must not be blank, got '" + id + "'");
        }
        tables = List.copyOf(tables);
        foreignKeys = List.copyOf(foreignKeys);
        if (tables.stream().map(SqlTable::name).distinct().count() != tables.size()) {
            throw new IllegalArgumentException(id + ": duplicate table names in " + tables.stream()
                    .map(SqlTable::name).toList());
        }
        for (ForeignKey fk : foreignKeys) {
            find(id, tables, fk.references());
            if (find(id, tables, fk.table()).column(fk.column()).type() != SqlColumn.Type.INTEGER) {
                throw new IllegalArgumentException(id + ": foreign key " + fk + " must be an INTEGER column");
            }
        }
    }

    /** The table called {@code name}. */
    public SqlTable table(String name) {
        return find(id, tables, name);
    }

    private static SqlTable find(String id, List<SqlTable> tables, String name) {
        return tables.stream().filter(t -> t.name().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException(id + " has no table " + name));
    }

    /** The schema as the prompt shows it: the tables' {@link SqlTable#schemaText()} separated by spaces. */
    public String schemaText() {
        return tables.stream().map(SqlTable::schemaText).collect(Collectors.joining(" "));
    }
}
