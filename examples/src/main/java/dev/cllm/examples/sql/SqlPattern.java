package dev.cllm.examples.sql;

import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A SQL template and the questions that ask for it. Slots in braces are filled per example:
 * <ul>
 *   <li>{@code {t}} the table, {@code {ts}} its plural; {@code {p}} the referenced table of a join and
 *       {@code {fk}} the foreign key column pointing at it;</li>
 *   <li>{@code {s}} the selected column; {@code {c}} the column filtered, aggregated, grouped or ordered by;</li>
 *   <li>{@code {v}} a value as the question says it ({@code france}, {@code 1995}) and {@code {V}} as SQL says it
 *       ({@code 'france'}, {@code 1995}); {@code {k}} the LIMIT.</li>
 * </ul>
 * The phrasings are lowercase words and punctuation separated by single spaces; {@link #word()} is the word naming
 * an aggregate or order in every phrasing of that pattern.
 */
public enum SqlPattern {
    PROJECT("SELECT {s} FROM {t}", "",
            "list the {s} of all {ts} .",
            "what is the {s} of each {t} ?",
            "show the {s} for every {t} .",
            "give me the {s} of the {ts} ."),
    PROJECT_TWO("SELECT {s} , {c} FROM {t}", "",
            "list the {s} and {c} of all {ts} .",
            "what are the {s} and {c} of each {t} ?",
            "show the {s} and the {c} for every {t} ."),
    WHERE_EQUAL("SELECT {s} FROM {t} WHERE {c} = {V}", "",
            "list the {s} of {ts} whose {c} is {v} .",
            "what is the {s} of each {t} with {c} {v} ?",
            "find the {s} of the {ts} where {c} equals {v} .",
            "show the {s} for every {t} that has {c} {v} ."),
    WHERE_GREATER("SELECT {s} FROM {t} WHERE {c} > {V}", "",
            "list the {s} of {ts} whose {c} is greater than {v} .",
            "what is the {s} of each {t} with {c} greater than {v} ?",
            "find the {s} of the {ts} where {c} is above {v} .",
            "show the {s} for every {t} with {c} above {v} ."),
    WHERE_LESS("SELECT {s} FROM {t} WHERE {c} < {V}", "",
            "list the {s} of {ts} whose {c} is less than {v} .",
            "what is the {s} of each {t} with {c} less than {v} ?",
            "find the {s} of the {ts} where {c} is below {v} .",
            "show the {s} for every {t} with {c} below {v} ."),
    COUNT("SELECT COUNT ( * ) FROM {t}", "",
            "how many {ts} are there ?",
            "count the {ts} .",
            "what is the number of {ts} ?",
            "give me the number of all {ts} ."),
    COUNT_WHERE("SELECT COUNT ( * ) FROM {t} WHERE {c} = {V}", "",
            "how many {ts} have {c} {v} ?",
            "count the {ts} whose {c} is {v} .",
            "what is the number of {ts} with {c} {v} ?",
            "how many {ts} are there where {c} equals {v} ?"),
    AVG("SELECT AVG ( {c} ) FROM {t}", "average", Phrasings.AGGREGATE),
    MAX("SELECT MAX ( {c} ) FROM {t}", "maximum", Phrasings.AGGREGATE),
    MIN("SELECT MIN ( {c} ) FROM {t}", "minimum", Phrasings.AGGREGATE),
    SUM("SELECT SUM ( {c} ) FROM {t}", "total", Phrasings.AGGREGATE),
    GROUP_COUNT("SELECT {c} , COUNT ( * ) FROM {t} GROUP BY {c}", "",
            "how many {ts} are there for each {c} ?",
            "count the {ts} in each {c} .",
            "for each {c} , give the number of {ts} .",
            "show each {c} and the number of {ts} with it ."),
    ORDER_DESC("SELECT {s} FROM {t} ORDER BY {c} DESC LIMIT {k}", "highest", Phrasings.ORDER),
    ORDER_ASC("SELECT {s} FROM {t} ORDER BY {c} ASC LIMIT {k}", "lowest", Phrasings.ORDER),
    JOIN_WHERE("SELECT {t} . {s} FROM {t} JOIN {p} ON {t} . {fk} = {p} . id WHERE {p} . {c} = {V}", "",
            "list the {s} of {ts} whose {p} has {c} {v} .",
            "what is the {s} of each {t} with a {p} whose {c} is {v} ?",
            "find the {s} of the {ts} linked to a {p} with {c} {v} .",
            "show the {s} for every {t} linked to a {p} where {c} equals {v} .");

    private static final Pattern SLOT = Pattern.compile("\\{(\\w+)}");

    private final String sql;
    private final String word;
    private final List<String> phrasings;

    SqlPattern(String sql, String word, String... phrasings) {
        this.sql = sql;
        this.word = word;
        this.phrasings = List.of(phrasings).stream().map(p -> p.replace("{w}", word)).toList();
    }

    /** The SQL template. */
    public String sql() {
        return sql;
    }

    /** The word naming the aggregate or order ({@code average}, {@code highest}); empty if none. */
    public String word() {
        return word;
    }

    /** The question templates, the pattern's {@link #word()} already filled in. */
    public List<String> phrasings() {
        return phrasings;
    }

    /** Whether the template uses slot {@code slot} ({@code "c"}, {@code "s"}, ...). */
    boolean uses(String slot) {
        return sql.contains("{" + slot + "}");
    }

    /** {@code template} with every slot replaced by its value in {@code slots}. */
    static String fill(String template, Map<String, String> slots) {
        Matcher m = SLOT.matcher(template);
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String value = slots.get(m.group(1));
            if (value == null) {
                throw new IllegalArgumentException("no value for slot {" + m.group(1) + "} in " + template);
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(value));
        }
        return m.appendTail(sb).toString();
    }

    /** The literal words of a phrasing: everything but the slots. */
    static List<String> literalWords(String phrasing) {
        return List.of(SLOT.matcher(phrasing).replaceAll(" ").trim().split(" +"));
    }

    /** Phrasings shared by the patterns of one family; {@code {w}} is the pattern's {@link #word()}. */
    private static final class Phrasings {
        static final String[] AGGREGATE = {
            "what is the {w} {c} of all {ts} ?",
            "find the {w} {c} among the {ts} .",
            "give me the {w} {c} of the {ts} .",
            "show the {w} {c} over all {ts} .",
        };
        static final String[] ORDER = {
            "list the {s} of the {k} {ts} with the {w} {c} .",
            "what is the {s} of the {k} {ts} that have the {w} {c} ?",
            "show the {s} of the {k} {ts} whose {c} is {w} .",
            "give the {s} of the first {k} {ts} by {w} {c} .",
        };
    }
}
