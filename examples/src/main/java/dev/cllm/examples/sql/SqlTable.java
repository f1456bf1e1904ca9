package dev.cllm.examples.sql;

import java.util.List;

/**
 * A generated table: its name, columns (the first is {@code id}) and rows. Values are {@link Integer}s for
 * {@code INTEGER} columns and {@link String}s for {@code TEXT} columns; none is null.
 */
public record SqlTable(String name, List<SqlColumn> columns, List<List<Object>> rows) {
    public SqlTable {
        if (name == null || !name.matches("[a-z_]+")) {
            throw new IllegalArgumentException("table name must be lowercase letters and '_', got " + name);
        }
        columns = List.copyOf(columns);
        if (columns.isEmpty() || !columns.get(0).name().equals("id")) {
            throw new IllegalArgumentException(name + ": the first column must be id, got " + columns);
        }
        rows = rows.stream().map(List::copyOf).toList();
        for (List<Object> row : rows) {
            if (row.size() != columns.size()) {
                throw new IllegalArgumentException(name + ": row " + row + " has " + row.size() + " values for "
                        + columns.size() + " columns");
            }
            for (int i = 0; i < row.size(); i++) {
                Class<?> expected = columns.get(i).type() == SqlColumn.Type.INTEGER ? Integer.class : String.class;
                if (!expected.isInstance(row.get(i))) {
                    throw new IllegalArgumentException(name + "." + columns.get(i).name() + ": expected a "
                            + expected.getSimpleName() + ", got " + row.get(i));
                }
            }
        }
    }

    /** The column called {@code column}. */
    public SqlColumn column(String column) {
        return columns.get(indexOf(column));
    }

    /** The position of {@code column} among the columns. */
    public int indexOf(String column) {
        for (int i = 0; i < columns.size(); i++) {
            if (columns.get(i).name().equals(column)) {
                return i;
            }
        }
        throw new IllegalArgumentException(name + " has no column " + column);
    }

    /** The values of {@code column}, one per row, in row order. */
    public List<Object> values(String column) {
        int i = indexOf(column);
        return rows.stream().map(r -> r.get(i)).toList();
    }

    /** The schema as the prompt shows it: {@code singer ( id , name , age )}. */
    public String schemaText() {
        StringBuilder sb = new StringBuilder(name).append(" (");
        for (int i = 0; i < columns.size(); i++) {
            sb.append(i == 0 ? " " : " , ").append(columns.get(i).name());
        }
        return sb.append(" )").toString();
    }
}
