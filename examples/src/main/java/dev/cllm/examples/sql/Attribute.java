package dev.cllm.examples.sql;

import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A column a table kind may have besides {@code id}, {@code name} and foreign keys, with its value domain: a word
 * list (TEXT) or an integer range (INTEGER).
 */
enum Attribute {
    AGE(18, 70, false),
    YEAR(1990, 2024, false),
    PRICE(1, 500, true),
    SALARY(20, 200, true),
    RATING(1, 10, false),
    CAPACITY(100, 999, true),
    POPULATION(100, 999, true),
    CREDITS(1, 6, true),
    BUDGET(100, 999, true),
    PAGES(50, 900, true),
    DURATION(60, 240, true),
    COUNTRY(Words.COUNTRIES),
    CITY(Words.CITIES),
    COLOR(Words.COLORS),
    GENRE(Words.GENRES),
    MAJOR(Words.SUBJECTS);

    private final List<String> words; // empty for INTEGER
    private final int min;
    private final int max;
    private final boolean additive;

    Attribute(int min, int max, boolean additive) {
        this.words = List.of();
        this.min = min;
        this.max = max;
        this.additive = additive;
    }

    Attribute(List<String> words) {
        this.words = words;
        this.min = 0;
        this.max = 0;
        this.additive = false;
    }

    /** The column name: the constant's name in lowercase. */
    String column() {
        return name().toLowerCase(Locale.ROOT);
    }

    SqlColumn.Type type() {
        return words.isEmpty() ? SqlColumn.Type.INTEGER : SqlColumn.Type.TEXT;
    }

    /** Whether a SUM of it means something (a total price does, a total age does not). */
    boolean additive() {
        return additive;
    }

    /** The words a TEXT attribute takes (empty for INTEGER). */
    List<String> words() {
        return words;
    }

    /** A random value: an {@link Integer} in the range or a {@link String} from the word list. */
    Object sample(SplittableRandom random) {
        return words.isEmpty() ? (Object) random.nextInt(min, max + 1) : words.get(random.nextInt(words.size()));
    }
}
