package dev.cllm.examples.sql;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

import static dev.cllm.examples.sql.Attribute.AGE;
import static dev.cllm.examples.sql.Attribute.BUDGET;
import static dev.cllm.examples.sql.Attribute.CAPACITY;
import static dev.cllm.examples.sql.Attribute.COLOR;
import static dev.cllm.examples.sql.Attribute.COUNTRY;
import static dev.cllm.examples.sql.Attribute.CREDITS;
import static dev.cllm.examples.sql.Attribute.DURATION;
import static dev.cllm.examples.sql.Attribute.GENRE;
import static dev.cllm.examples.sql.Attribute.MAJOR;
import static dev.cllm.examples.sql.Attribute.PAGES;
import static dev.cllm.examples.sql.Attribute.POPULATION;
import static dev.cllm.examples.sql.Attribute.PRICE;
import static dev.cllm.examples.sql.Attribute.RATING;
import static dev.cllm.examples.sql.Attribute.SALARY;
import static dev.cllm.examples.sql.Attribute.YEAR;

/**
 * A kind of table a database may contain: its singular and plural words, where its {@code name} values come from,
 * the attributes it may have, and the kinds it may hold a foreign key to ({@code concert.stadium_id -> stadium.id}).
 */
enum TableKind {
    SINGER("singers", Words.PEOPLE, List.of(AGE, COUNTRY, GENRE, YEAR), ""),
    CONCERT("concerts", Words.TITLES, List.of(YEAR, PRICE, RATING, Attribute.CITY), "stadium singer"),
    STADIUM("stadiums", Words.TITLES, List.of(Attribute.CITY, CAPACITY, YEAR, COUNTRY), "city"),
    STUDENT("students", Words.PEOPLE, List.of(AGE, Attribute.CITY, COUNTRY, MAJOR), "course"),
    COURSE("courses", Words.SUBJECTS, List.of(CREDITS, YEAR, RATING, CAPACITY), "department"),
    EMPLOYEE("employees", Words.PEOPLE, List.of(AGE, SALARY, Attribute.CITY, COUNTRY, YEAR), "department"),
    DEPARTMENT("departments", Words.DEPARTMENTS, List.of(BUDGET, Attribute.CITY, YEAR, COUNTRY), "company"),
    PRODUCT("products", Words.PRODUCTS, List.of(PRICE, COLOR, RATING, YEAR), "company"),
    CITY("cities", Words.CITIES, List.of(COUNTRY, POPULATION, YEAR, RATING), ""),
    AIRPORT("airports", Words.TITLES, List.of(Attribute.CITY, COUNTRY, CAPACITY, YEAR), "city"),
    FLIGHT("flights", Words.TITLES, List.of(PRICE, YEAR, DURATION, RATING), "airport"),
    BOOK("books", Words.TITLES, List.of(YEAR, PRICE, RATING, GENRE, PAGES), "author"),
    AUTHOR("authors", Words.PEOPLE, List.of(AGE, COUNTRY, Attribute.CITY, GENRE), ""),
    CLUB("clubs", Words.TITLES, List.of(Attribute.CITY, YEAR, COUNTRY, BUDGET), "city"),
    PLAYER("players", Words.PEOPLE, List.of(AGE, COUNTRY, RATING, SALARY), "team club"),
    TEAM("teams", Words.TITLES, List.of(Attribute.CITY, YEAR, RATING, BUDGET), "city"),
    MOVIE("movies", Words.TITLES, List.of(YEAR, RATING, GENRE, DURATION), "director"),
    DIRECTOR("directors", Words.PEOPLE, List.of(AGE, COUNTRY, Attribute.CITY, YEAR), ""),
    RESTAURANT("restaurants", Words.TITLES, List.of(Attribute.CITY, RATING, PRICE, CAPACITY), "city"),
    HOTEL("hotels", Words.TITLES, List.of(Attribute.CITY, RATING, PRICE, CAPACITY), "city"),
    MUSEUM("museums", Words.TITLES, List.of(Attribute.CITY, YEAR, CAPACITY, PRICE), "city"),
    COMPANY("companies", Words.TITLES, List.of(COUNTRY, YEAR, BUDGET, Attribute.CITY), "city");

    private final String plural;
    private final List<String> names;
    private final List<Attribute> attributes;
    private final String parents; // table names, resolved lazily (enum constants cannot refer forward)

    TableKind(String plural, List<String> names, List<Attribute> attributes, String parents) {
        this.plural = plural;
        this.names = names;
        this.attributes = attributes;
        this.parents = parents;
    }

    /** The table name and the singular word in questions. */
    String table() {
        return name().toLowerCase(Locale.ROOT);
    }

    String plural() {
        return plural;
    }

    /** The words the {@code name} column takes, at least as many as a table has rows. */
    List<String> names() {
        return names;
    }

    /** The attributes, in the order the columns appear. */
    List<Attribute> attributes() {
        return attributes;
    }

    /** The kinds this one may reference with a {@code <parent>_id} column. */
    List<TableKind> parents() {
        return parents.isEmpty() ? List.of()
                : Arrays.stream(parents.split(" ")).map(TableKind::of).toList();
    }

    /** The name of a foreign key column to this kind: {@code stadium_id}. */
    String foreignKeyColumn() {
        return table() + "_id";
    }

    static TableKind of(String table) {
        for (TableKind k : values()) {
            if (k.table().equals(table)) {
                return k;
            }
        }
        throw new IllegalArgumentException("no table kind " + table);
    }
}
