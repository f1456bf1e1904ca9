package dev.cllm.examples.sql;

import org.sqlite.ProgressHandler;
import org.sqlite.SQLiteConfig;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteLimits;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Scores predicted SQL by running it, and the gold SQL, on in-memory SQLite copies of the generated databases.
 *
 * <p><b>Execution match</b>: both results are read as rows of values (integers and integral reals as {@code long},
 * other reals rounded to 6 decimals) and compared as ordered lists when the gold SQL has {@code ORDER BY}, else as
 * multisets; column order matters. A prediction that is not a single {@code SELECT}, does not parse, fails, runs
 * more than {@value #MAX_STEPS} SQLite VM instructions (or {@value #QUERY_TIMEOUT_SECONDS} s) or returns more than
 * {@value #MAX_ROWS} rows is wrong; it never throws. <b>Exact match</b>: equal strings after collapsing whitespace.
 *
 * <p>The databases are query-only ({@code PRAGMA query_only}, no {@code ATTACH}), so no prediction changes what
 * the next one sees. A database is built on first use. The caller closes the evaluator; thread-safe (one query at a
 * time).
 */
public final class SqlEvaluator implements AutoCloseable {
    /** Most rows a result may have; gold results have at most 12. */
    static final int MAX_ROWS = 1_000;
    /** Longest SQL run; longer predictions are wrong. */
    static final int MAX_SQL_CHARS = 2_000;
    /** SQLite VM instructions between two calls of the progress handler. */
    static final int STEPS_PER_CHECK = 1_000;
    /** SQLite VM instructions a query may take: a cost cap that is the same on every machine. */
    static final long MAX_STEPS = 20_000_000;
    /**
     * The JDBC query timeout. In sqlite-jdbc it is only a busy timeout (waiting for locks), so long-running queries
     * are stopped by a progress handler: after {@link #MAX_STEPS} instructions or this many seconds.
     */
    static final int QUERY_TIMEOUT_SECONDS = 2;

    private static final Pattern ORDER_BY = Pattern.compile("\\bORDER\\s+BY\\b", Pattern.CASE_INSENSITIVE);
    private static final Pattern SELECT = Pattern.compile("^\\s*SELECT\\b", Pattern.CASE_INSENSITIVE);

    /** A query's rows, or why there are none ({@code error} is empty when the query ran). */
    public record QueryResult(List<List<Object>> rows, String error) {
        public QueryResult {
            Objects.requireNonNull(error, "error");
            rows = rows.stream().map(r -> Collections.unmodifiableList(new ArrayList<>(r))).toList();
        }

        static QueryResult failed(String error) {
            return new QueryResult(List.of(), error);
        }

        public boolean ok() {
            return error.isEmpty();
        }
    }

    private final Map<String, SqlDatabase> databases = new LinkedHashMap<>();
    private final Map<String, Connection> connections = new HashMap<>();
    private boolean closed;
    // the running query's budget, read by the progress handlers
    private long checks;
    private long deadlineNanos;

    private SqlEvaluator(Collection<SqlDatabase> databases) {
        for (SqlDatabase db : databases) {
            this.databases.put(db.id(), db);
        }
    }

    /** An evaluator over {@code databases}; the caller closes it. Builds nothing yet. */
    public static SqlEvaluator open(Collection<SqlDatabase> databases) {
        return new SqlEvaluator(databases);
    }

    /** Whether {@code predicted} has the same result as {@code gold}'s SQL on its database. */
    public boolean executionMatch(SqlExample gold, String predicted) {
        return executionMatch(gold.db(), gold.sql(), predicted);
    }

    /**
     * Whether {@code predictedSql} has the same result as {@code goldSql} on database {@code db}.
     *
     * @throws IllegalArgumentException if the gold SQL fails or {@code db} is unknown
     */
    public synchronized boolean executionMatch(String db, String goldSql, String predictedSql) {
        QueryResult gold = execute(db, goldSql);
        if (!gold.ok()) {
            throw new IllegalArgumentException("gold SQL fails on " + db + ": " + gold.error() + ": " + goldSql);
        }
        QueryResult predicted = execute(db, predictedSql);
        if (!predicted.ok()) {
            return false;
        }
        return ORDER_BY.matcher(goldSql).find() ? gold.rows().equals(predicted.rows())
                : multiset(gold.rows()).equals(multiset(predicted.rows()));
    }

    /** Whether the two strings are equal after trimming and collapsing runs of whitespace; false for null. */
    public static boolean exactMatch(String gold, String predicted) {
        return gold != null && predicted != null && normalize(gold).equals(normalize(predicted));
    }

    /**
     * Scores {@code predictions.get(i)} against {@code golds.get(i)}.
     *
     * @throws IllegalArgumentException if the lists differ in size, or as {@link #executionMatch(String, String,
     *                                  String)}
     */
    public synchronized SqlScore score(List<SqlExample> golds, List<String> predictions) {
        if (golds.size() != predictions.size()) {
            throw new IllegalArgumentException(golds.size() + " gold examples but " + predictions.size()
                    + " predictions");
        }
        int execution = 0;
        int exact = 0;
        int failed = 0;
        for (int i = 0; i < golds.size(); i++) {
            SqlExample gold = golds.get(i);
            String predicted = predictions.get(i);
            if (executionMatch(gold, predicted)) {
                execution++;
                exact += exactMatch(gold.sql(), predicted) ? 1 : 0;
            } else if (!execute(gold.db(), predicted).ok()) {
                failed++;
            }
        }
        return new SqlScore(golds.size(), execution, exact, failed);
    }

    /**
     * Runs {@code sql} on database {@code db}. Never throws for bad SQL: a refused or failing query gives a result
     * with an {@link QueryResult#error()}.
     *
     * @throws IllegalArgumentException if {@code db} is unknown
     * @throws IllegalStateException    if the evaluator is closed
     */
    public synchronized QueryResult execute(String db, String sql) {
        Connection c = connection(db);
        if (sql == null) {
            return QueryResult.failed("no SQL");
        }
        String query = sql.strip();
        while (query.endsWith(";")) {
            query = query.substring(0, query.length() - 1).strip();
        }
        if (query.length() > MAX_SQL_CHARS) {
            return QueryResult.failed("longer than " + MAX_SQL_CHARS + " characters");
        }
        if (!SELECT.matcher(query).find() || query.indexOf(';') >= 0) {
            return QueryResult.failed("not a single SELECT statement");
        }
        checks = 0;
        deadlineNanos = System.nanoTime() + QUERY_TIMEOUT_SECONDS * 1_000_000_000L;
        try (Statement s = c.createStatement()) {
            s.setQueryTimeout(QUERY_TIMEOUT_SECONDS);
            try (ResultSet rs = s.executeQuery(query)) {
                int columns = rs.getMetaData().getColumnCount();
                List<List<Object>> rows = new ArrayList<>();
                while (rs.next()) {
                    if (rows.size() == MAX_ROWS) {
                        return QueryResult.failed("more than " + MAX_ROWS + " rows");
                    }
                    List<Object> row = new ArrayList<>(columns);
                    for (int i = 1; i <= columns; i++) {
                        row.add(value(rs.getObject(i)));
                    }
                    rows.add(row);
                }
                return new QueryResult(rows, "");
            }
        } catch (SQLException | RuntimeException e) {
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            return QueryResult.failed(checks * STEPS_PER_CHECK > MAX_STEPS ? "more than " + MAX_STEPS
                    + " SQLite steps" : System.nanoTime() > deadlineNanos ? "timed out" : message);
        }
    }

    /** Closes every database. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Connection c : connections.values()) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // an in-memory database: nothing to lose
            }
        }
        connections.clear();
    }

    private Connection connection(String db) {
        if (closed) {
            throw new IllegalStateException("the evaluator is closed");
        }
        Connection c = connections.get(db);
        if (c == null) {
            SqlDatabase database = databases.get(db);
            if (database == null) {
                throw new IllegalArgumentException("unknown database " + db);
            }
            try {
                c = build(database);
            } catch (SQLException e) {
                throw new IllegalStateException("cannot build database " + db + " in SQLite: " + e.getMessage(), e);
            }
            connections.put(db, c);
        }
        return c;
    }

    private Connection build(SqlDatabase db) throws SQLException {
        Connection c = new SQLiteConfig().createConnection("jdbc:sqlite::memory:");
        try {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                for (SqlTable t : db.tables()) {
                    s.execute(createTable(db, t));
                }
            }
            for (SqlTable t : db.tables()) {
                String insert = "INSERT INTO " + t.name() + " VALUES (" + t.columns().stream().map(col -> "?")
                        .collect(Collectors.joining(", ")) + ")";
                try (PreparedStatement p = c.prepareStatement(insert)) {
                    for (List<Object> row : t.rows()) {
                        for (int i = 0; i < row.size(); i++) {
                            p.setObject(i + 1, row.get(i));
                        }
                        p.addBatch();
                    }
                    p.executeBatch();
                }
            }
            c.commit();
            c.setAutoCommit(true);
            SQLiteConnection sqlite = c.unwrap(SQLiteConnection.class);
            sqlite.setLimit(SQLiteLimits.SQLITE_LIMIT_ATTACHED, 0);
            sqlite.setLimit(SQLiteLimits.SQLITE_LIMIT_LENGTH, 1_000_000);
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA query_only = 1");
            }
            ProgressHandler.setHandler(c, STEPS_PER_CHECK, new ProgressHandler() {
                @Override
                protected int progress() {
                    return ++checks * STEPS_PER_CHECK > MAX_STEPS || System.nanoTime() > deadlineNanos ? 1 : 0;
                }
            });
            return c;
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    private static String createTable(SqlDatabase db, SqlTable t) {
        List<String> parts = new ArrayList<>();
        for (SqlColumn col : t.columns()) {
            parts.add(col.name() + " " + col.type() + (col.name().equals("id") ? " PRIMARY KEY" : ""));
        }
        db.foreignKeys().stream().filter(fk -> fk.table().equals(t.name())).forEach(fk -> parts.add(
                "FOREIGN KEY (" + fk.column() + ") REFERENCES " + fk.references() + " (id)"));
        return "CREATE TABLE " + t.name() + " (" + String.join(", ", parts) + ")";
    }

    /** A value as results compare it: integral numbers as long, other reals rounded, blobs as hex. */
    private static Object value(Object v) {
        if (v instanceof Number n) {
            double d = n.doubleValue();
            if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
                return n.longValue();
            }
            if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                return (long) d;
            }
            return Math.rint(d * 1e6) / 1e6;
        }
        if (v instanceof byte[] bytes) {
            return "x'" + HexFormat.of().formatHex(bytes) + "'";
        }
        return v; // String or null
    }

    private static Map<List<Object>, Integer> multiset(List<List<Object>> rows) {
        Map<List<Object>, Integer> counts = new HashMap<>();
        rows.forEach(r -> counts.merge(r, 1, Integer::sum));
        return counts;
    }

    private static String normalize(String sql) {
        return sql.strip().replaceAll("\\s+", " ");
    }
}
