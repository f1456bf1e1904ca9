package dev.cllm.examples.sql;

import dev.cllm.examples.sql.SqlExample.Split;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.sqlite.SQLiteJDBCLoader;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Execution and exact match on SQLite. */
class SqlEvaluatorTest {
    static SqlTask task;
    static SqlEvaluator evaluator;
    /** The held-out examples and the first 1,000 training ones. */
    static List<SqlExample> sample;

    @BeforeAll
    static void open() {
        task = TaskFixture.defaults();
        evaluator = SqlEvaluator.open(task.databases());
        sample = Stream.concat(task.examples(Split.HELD_OUT).stream(),
                task.examples(Split.TRAIN).stream().limit(1000)).toList();
    }

    @AfterAll
    static void close() {
        evaluator.close();
    }

    @Test
    void sqliteRunsNativeCodeExtractedFromTheJar() throws Exception {
        assertThat(SQLiteJDBCLoader.initialize()).isTrue();
        assertThat(SQLiteJDBCLoader.isNativeMode()).isTrue();
    }

    @Test
    void everyGoldQueryRunsAndReturnsRows() {
        long empty = 0;
        for (SqlExample e : sample) {
            SqlEvaluator.QueryResult r = evaluator.execute(e.db(), e.sql());
            assertThat(r.ok()).as(e + ": " + r.error()).isTrue();
            empty += r.rows().isEmpty() ? 1 : 0;
        }
        System.out.printf("gold queries with an empty result: %d of %d%n", empty, sample.size());
        assertThat(empty).isZero(); // by construction: values come from the rows, thresholds leave a row on each side
    }

    @Test
    void goldAgainstGoldIsAllCorrect() {
        SqlScore score = evaluator.score(sample, sample.stream().map(SqlExample::sql).toList());
        assertThat(score).isEqualTo(new SqlScore(sample.size(), sample.size(), sample.size(), 0));
        assertThat(score.executionAccuracy()).isEqualTo(1.0);
        assertThat(score.exactMatchAccuracy()).isEqualTo(1.0);
    }

    @Test
    void anObviouslyWrongQueryScoresZero() {
        List<String> wrong = sample.stream().map(e -> "SELECT 'nothing'").toList();
        SqlScore score = evaluator.score(sample, wrong);
        assertThat(score.executionCorrect()).isZero();
        assertThat(score.exactCorrect()).isZero();
        assertThat(score.failed()).isZero();
    }

    @Test
    void rowOrderMattersOnlyWhenTheGoldQueryOrders() {
        SqlExample projection = first(SqlPattern.PROJECT);
        String reordered = projection.sql() + " ORDER BY id DESC";
        List<List<Object>> rows = evaluator.execute(projection.db(), projection.sql()).rows();
        assertThat(evaluator.execute(projection.db(), reordered).rows()).isEqualTo(reverse(rows)).isNotEqualTo(rows);
        assertThat(evaluator.executionMatch(projection, reordered)).isTrue();

        // SELECT {s} FROM {t} ORDER BY {c} DESC LIMIT {k}: the same k rows in ascending order are wrong
        SqlExample ordered = sample.stream().filter(e -> e.pattern() == SqlPattern.ORDER_DESC).filter(e -> {
            List<List<Object>> r = evaluator.execute(e.db(), e.sql()).rows();
            return !r.equals(reverse(r));
        }).findFirst().orElseThrow();
        String[] t = ordered.sql().split(" ");
        String ascending = "SELECT " + t[1] + " FROM ( SELECT " + t[1] + " , " + t[6] + " FROM " + t[3]
                + " ORDER BY " + t[6] + " DESC LIMIT " + t[9] + " ) ORDER BY " + t[6] + " ASC";
        assertThat(evaluator.execute(ordered.db(), ascending).rows())
                .isEqualTo(reverse(evaluator.execute(ordered.db(), ordered.sql()).rows()));
        assertThat(evaluator.executionMatch(ordered, ascending)).isFalse();
        assertThat(evaluator.executionMatch(ordered, ascending.replace(" ASC", " DESC"))).isTrue();
    }

    @Test
    void anEquivalentQueryIsCorrectButNotAnExactMatch() {
        SqlExample count = first(SqlPattern.COUNT);
        String equivalent = count.sql().replace("COUNT ( * )", "count(id)");
        assertThat(evaluator.executionMatch(count, equivalent)).isTrue();
        assertThat(SqlEvaluator.exactMatch(count.sql(), equivalent)).isFalse();
        assertThat(SqlEvaluator.exactMatch(count.sql(), "  " + count.sql().replace(" ", "   ") + "\n")).isTrue();
    }

    @Test
    void badPredictionsAreWrongAndNeverThrow() {
        SqlExample e = first(SqlPattern.COUNT);
        String table = e.sql().substring(e.sql().lastIndexOf(' ') + 1);
        List<String> bad = new ArrayList<>(List.of("", "SELEC", "SELECT FROM WHERE", "SELECT nope FROM " + table,
                "DELETE FROM " + table, "DROP TABLE " + table, "SELECT 1; DROP TABLE " + table,
                "PRAGMA query_only = 0", "ATTACH DATABASE 'x.db' AS x",
                "SELECT COUNT ( * ) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
                        + "SELECT x FROM c)",
                "SELECT * FROM " + table + " a, " + table + " b, " + table + " c, " + table + " d",
                "SELECT length(randomblob(100000000))", "SELECT " + "1 + ".repeat(1000) + "1"));
        bad.add(null);
        for (String sql : bad) {
            assertThat(evaluator.executionMatch(e, sql)).as(sql).isFalse();
            assertThat(evaluator.execute(e.db(), sql).error()).as(sql).isNotEmpty();
        }
        // nothing was changed by them
        assertThat(evaluator.executionMatch(e, e.sql())).isTrue();
        assertThat(evaluator.execute(e.db(), "SELECT COUNT ( * ) FROM " + table).rows().get(0).get(0))
                .isEqualTo((long) task.database(e.db()).table(table).rows().size());
    }

    @Test
    void scoringCountsFailuresAndChecksSizes() {
        List<SqlExample> three = sample.subList(0, 3);
        assertThat(evaluator.score(three, List.of(three.get(0).sql(), "SELECT 'x'", "garbage")))
                .isEqualTo(new SqlScore(3, 1, 1, 1));
        assertThatThrownBy(() -> evaluator.score(three, List.of("SELECT 1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("3 gold examples but 1");
        assertThatThrownBy(() -> evaluator.execute("no-such-db", "SELECT 1"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no-such-db");
    }

    @Test
    void closingIsIdempotentAndUseAfterCloseThrows() {
        SqlEvaluator e = SqlEvaluator.open(task.databases());
        SqlExample x = sample.get(0);
        assertThat(e.executionMatch(x, x.sql())).isTrue();
        e.close();
        e.close();
        assertThatThrownBy(() -> e.execute(x.db(), x.sql())).isInstanceOf(IllegalStateException.class);
    }

    private static SqlExample first(SqlPattern pattern) {
        return sample.stream().filter(e -> e.pattern() == pattern).findFirst().orElseThrow();
    }

    private static <T> List<T> reverse(List<T> list) {
        List<T> out = new ArrayList<>(list);
        Collections.reverse(out);
        return out;
    }
}
