package dev.cllm.examples.sql;

import java.util.Objects;

/**
 * One question about a database with its canonical SQL.
 *
 * @param db       the {@link SqlDatabase#id()} the question is about
 * @param question lowercase words and punctuation separated by single spaces
 * @param sql      the one canonical SQL: single-space-separated tokens, uppercase keywords, quoted strings
 * @param pattern  the SQL template the example instantiates
 * @param phrasing the index of the question's wording among {@link SqlPattern#phrasings()}
 * @param split    which split the example belongs to
 */
public record SqlExample(String db, String question, String sql, SqlPattern pattern, int phrasing, Split split) {
    /** Training examples, and held-out ones on unseen schemas and unseen (pattern, phrasing) pairs. */
    public enum Split { TRAIN, HELD_OUT }

    public SqlExample {
        Objects.requireNonNull(db, "db");
        Objects.requireNonNull(question, "question");
        Objects.requireNonNull(sql, "sql");
        Objects.requireNonNull(pattern, "pattern");
        Objects.requireNonNull(split, "split");
        if (phrasing < 0 || phrasing >= pattern.phrasings().size()) {
            throw new IllegalArgumentException("phrasing " + phrasing + " out of range for " + pattern);
        }
    }
}
