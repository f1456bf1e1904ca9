package dev.cllm.examples.sql;

import dev.cllm.examples.sql.SqlDatabase.ForeignKey;
import dev.cllm.examples.sql.SqlExample.Split;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Generates a {@link SqlTask}. All randomness comes from one {@code SplittableRandom(seed)}, split once per purpose
 * (schema split, phrasing split, training data, held-out data). Nothing iterates a hash-ordered collection, so a
 * seed gives the same task on every JVM.
 *
 * <h2>The split</h2>
 * <ol>
 *   <li><b>Schemas.</b> A table's <em>signature</em> is its kind and its attributes (the columns besides
 *       {@code id}, {@code name} and the foreign key): one or two of the kind's 4-5 attributes, so 10-15 signatures
 *       per kind. Per kind, a random {@value #HELD_OUT_SIGNATURE_FRACTION} of them (at least one) is held out, drawn
 *       again until every attribute of the kind is still in some training signature. Training databases are built
 *       from training signatures only, held-out databases from held-out signatures only: every table of a held-out
 *       database has a column combination that no training table has.</li>
 *   <li><b>Phrasings.</b> Per pattern, one phrasing is held out, drawn again (up to
 *       {@value #PHRASING_DRAWS} times) until every literal word of a held-out phrasing occurs in some training
 *       phrasing. Training questions use the other phrasings, held-out questions only the held-out one: every
 *       (pattern, phrasing) pair of the held-out set is unseen in training, while every pattern is seen.</li>
 *   <li><b>Words.</b> The training set is generated first; a held-out question is kept only if every word of its
 *       prompt and SQL (numbers as digits, quotes stripped) occurs in some training prompt or SQL. So no held-out
 *       token is one the model never trained on (a rare value word such as {@code iris} could otherwise be).</li>
 * </ol>
 */
final class SqlTaskGenerator {
    /** The share of each kind's signatures kept for held-out databases. */
    static final double HELD_OUT_SIGNATURE_FRACTION = 0.25;
    static final int PHRASING_DRAWS = 10_000;
    static final int MIN_ROWS = 5;
    static final int MAX_ROWS = 12;
    static final int MIN_LIMIT = 2;
    static final int MAX_LIMIT = 4;
    /** Databases per wanted question after which filling a split gives up (training too small to cover words). */
    static final int MAX_DATABASES_PER_EXAMPLE = 100;

    /** The kinds that may reference another. */
    private static final List<TableKind> CHILDREN = Arrays.stream(TableKind.values())
            .filter(k -> !k.parents().isEmpty()).toList();

    /** A table's kind and attributes (in the kind's order). */
    record Signature(TableKind kind, List<Attribute> attributes) {
    }

    private final SqlTaskConfig config;
    private final Map<TableKind, List<Signature>> trainSignatures = new EnumMap<>(TableKind.class);
    private final Map<TableKind, List<Signature>> heldOutSignatures = new EnumMap<>(TableKind.class);
    private final Map<SqlPattern, Integer> heldOutPhrasing = new EnumMap<>(SqlPattern.class);
    private final Set<String> trainWords = new HashSet<>();
    /** Prompts a question must not have (the validation questions avoid every training and held-out prompt). */
    private final Set<String> excludedPrompts = new HashSet<>();

    private SqlTaskGenerator(SqlTaskConfig config) {
        this.config = config;
    }

    static SqlTask generate(SqlTaskConfig config) {
        return generate(config, 0, Set.of());
    }

    /**
     * The task {@code config} describes with its held-out questions replaced by {@code count} validation questions:
     * drawn like the held-out ones (held-out signatures and phrasings, every word seen in training) from a random
     * stream of their own, on databases of their own ({@code valid-NNNN}), none with the prompt of a training or
     * held-out question. Choosing anything on them (a checkpoint, a setting) leaves the held-out questions unseen.
     */
    static SqlTask validation(SqlTaskConfig config, int count) {
        return validation(config, count, Set.of());
    }

    /** The same, avoiding {@code alsoExcluded} prompts as well (tests force a collision with it). */
    static SqlTask validation(SqlTaskConfig config, int count, Set<String> alsoExcluded) {
        if (count < 1) {
            throw new IllegalArgumentException("validation questions must be >= 1, got " + count);
        }
        return generate(config, count, alsoExcluded);
    }

    /**
     * The task, with {@code validation} validation questions in place of the held-out ones when it is not 0, none with
     * a prompt in {@code alsoExcluded}.
     */
    private static SqlTask generate(SqlTaskConfig config, int validation, Set<String> alsoExcluded) {
        SplittableRandom root = new SplittableRandom(config.seed());
        SplittableRandom schemaRandom = root.split();
        SplittableRandom phrasingRandom = root.split();
        SplittableRandom trainRandom = root.split();
        SplittableRandom heldOutRandom = root.split();
        SplittableRandom validationRandom = root.split();   // split last: the streams before it do not depend on it

        SqlTaskGenerator g = new SqlTaskGenerator(config);
        g.splitSignatures(schemaRandom);
        g.splitPhrasings(phrasingRandom);
        List<SqlDatabase> databases = new ArrayList<>();
        List<SqlExample> examples = new ArrayList<>();
        g.fill(Split.TRAIN, config.trainExamples(), trainRandom, databases, examples);
        if (validation == 0) {
            g.fill(Split.HELD_OUT, config.heldOutExamples(), heldOutRandom, databases, examples);
            return new SqlTask(config, databases, examples);
        }
        List<SqlDatabase> testDatabases = new ArrayList<>(databases);
        List<SqlExample> test = new ArrayList<>(examples);
        g.fill(Split.HELD_OUT, config.heldOutExamples(), heldOutRandom, testDatabases, test);
        SqlTask withTest = new SqlTask(config, testDatabases, test);
        for (SqlExample e : test) {
            g.excludedPrompts.add(withTest.prompt(e));
        }
        g.excludedPrompts.addAll(alsoExcluded);
        g.fill(Split.HELD_OUT, "valid-", validation, validationRandom, databases, examples);
        return new SqlTask(config, databases, examples);
    }

    /** The phrasing indexes of {@code pattern} that {@code split} may use. */
    private List<Integer> phrasings(SqlPattern pattern, Split split) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < pattern.phrasings().size(); i++) {
            if ((heldOutPhrasing.get(pattern) == i) == (split == Split.HELD_OUT)) {
                out.add(i);
            }
        }
        return out;
    }

    // ---- the split -------------------------------------------------------------------------------------------

    private void splitSignatures(SplittableRandom random) {
        for (TableKind kind : TableKind.values()) {
            List<Signature> all = new ArrayList<>();
            List<Attribute> attributes = kind.attributes();
            for (int i = 0; i < attributes.size(); i++) {
                all.add(new Signature(kind, List.of(attributes.get(i))));
                for (int j = i + 1; j < attributes.size(); j++) {
                    all.add(new Signature(kind, List.of(attributes.get(i), attributes.get(j))));
                }
            }
            int heldOut = Math.max(1, (int) Math.round(HELD_OUT_SIGNATURE_FRACTION * all.size()));
            while (true) {
                List<Signature> shuffled = shuffled(all, random);
                List<Signature> train = shuffled.subList(heldOut, shuffled.size());
                if (train.stream().flatMap(s -> s.attributes().stream()).distinct().count() == attributes.size()) {
                    heldOutSignatures.put(kind, List.copyOf(shuffled.subList(0, heldOut)));
                    trainSignatures.put(kind, List.copyOf(train));
                    break;
                }
            }
        }
    }

    private void splitPhrasings(SplittableRandom random) {
        for (int draw = 0; draw < PHRASING_DRAWS; draw++) {
            for (SqlPattern p : SqlPattern.values()) {
                heldOutPhrasing.put(p, random.nextInt(p.phrasings().size()));
            }
            Set<String> trainPhrasingWords = new HashSet<>();
            Set<String> heldOutPhrasingWords = new HashSet<>();
            for (SqlPattern p : SqlPattern.values()) {
                for (int i = 0; i < p.phrasings().size(); i++) {
                    (heldOutPhrasing.get(p) == i ? heldOutPhrasingWords : trainPhrasingWords)
                            .addAll(SqlPattern.literalWords(p.phrasings().get(i)));
                }
            }
            if (trainPhrasingWords.containsAll(heldOutPhrasingWords)) {
                return;
            }
        }
        throw new IllegalStateException("no phrasing split in " + PHRASING_DRAWS + " draws covers every word");
    }

    // ---- databases -------------------------------------------------------------------------------------------

    private void fill(Split split, int count, SplittableRandom random, List<SqlDatabase> databases,
                      List<SqlExample> examples) {
        fill(split, split == Split.TRAIN ? "train-" : "heldout-", count, random, databases, examples);
    }

    private void fill(Split split, String prefix, int count, SplittableRandom random, List<SqlDatabase> databases,
                      List<SqlExample> examples) {
        int made = 0;
        for (int n = 0; made < count; n++) {
            if (n > MAX_DATABASES_PER_EXAMPLE * count) {
                throw new IllegalStateException("cannot find " + count + " " + split + " questions whose words all "
                        + "occur in training; " + config.trainExamples() + " training examples are too few");
            }
            SqlDatabase db = database(String.format(Locale.ROOT, "%s%04d", prefix, n),
                    split == Split.TRAIN ? trainSignatures : heldOutSignatures, random);
            List<SqlExample> asked = questions(db, split, Math.min(config.examplesPerDatabase(), count - made),
                    random);
            if (!asked.isEmpty()) {
                databases.add(db);
                examples.addAll(asked);
                made += asked.size();
            }
        }
    }

    /** 3-4 tables, the first pair linked by a foreign key; every other table references a present parent if any. */
    private SqlDatabase database(String id, Map<TableKind, List<Signature>> signatures, SplittableRandom random) {
        while (true) {
            TableKind child = CHILDREN.get(random.nextInt(CHILDREN.size()));
            TableKind parent = child.parents().get(random.nextInt(child.parents().size()));
            Set<TableKind> kinds = new LinkedHashSet<>(List.of(child, parent));
            int tables = random.nextInt(3, 5);
            while (kinds.size() < tables) {
                kinds.add(TableKind.values()[random.nextInt(TableKind.values().length)]);
            }
            Map<TableKind, Signature> chosen = new EnumMap<>(TableKind.class);
            for (TableKind k : kinds) {
                List<Signature> options = signatures.get(k);
                chosen.put(k, options.get(random.nextInt(options.size())));
            }
            if (!mayReference(chosen.get(child), parent)) {
                continue; // e.g. a stadium with a city column would also get city_id
            }
            Map<TableKind, TableKind> references = new EnumMap<>(TableKind.class);
            references.put(child, parent);
            for (TableKind k : kinds) {
                if (k != child) {
                    List<TableKind> present = k.parents().stream()
                            .filter(p -> kinds.contains(p) && mayReference(chosen.get(k), p)).toList();
                    if (!present.isEmpty()) {
                        references.put(k, present.get(random.nextInt(present.size())));
                    }
                }
            }
            Map<TableKind, Integer> rowCounts = new EnumMap<>(TableKind.class);
            for (TableKind k : kinds) {
                rowCounts.put(k, random.nextInt(MIN_ROWS, MAX_ROWS + 1));
            }
            List<SqlTable> out = new ArrayList<>();
            List<ForeignKey> foreignKeys = new ArrayList<>();
            for (TableKind k : shuffled(List.copyOf(kinds), random)) {
                TableKind p = references.get(k);
                out.add(table(chosen.get(k), p, rowCounts.get(k), p == null ? 0 : rowCounts.get(p), random));
                if (p != null) {
                    foreignKeys.add(new ForeignKey(k.table(), p.foreignKeyColumn(), p.table()));
                }
            }
            return new SqlDatabase(id, out, foreignKeys);
        }
    }

    private static boolean mayReference(Signature table, TableKind parent) {
        return table.attributes().stream().noneMatch(a -> a.column().equals(parent.table()));
    }

    /** Columns id, name, the attributes, then the foreign key to {@code parent} (null: none). */
    private static SqlTable table(Signature signature, TableKind parent, int rows, int parentRows,
                                  SplittableRandom random) {
        TableKind kind = signature.kind();
        List<SqlColumn> columns = new ArrayList<>();
        columns.add(new SqlColumn("id", SqlColumn.Type.INTEGER));
        columns.add(new SqlColumn("name", SqlColumn.Type.TEXT));
        for (Attribute a : signature.attributes()) {
            columns.add(new SqlColumn(a.column(), a.type()));
        }
        if (parent != null) {
            columns.add(new SqlColumn(parent.foreignKeyColumn(), SqlColumn.Type.INTEGER));
        }
        List<String> names = shuffled(kind.names(), random).subList(0, rows);
        List<List<Object>> data = new ArrayList<>();
        for (int r = 0; r < rows; r++) {
            List<Object> row = new ArrayList<>();
            row.add(r + 1);
            row.add(names.get(r));
            for (Attribute a : signature.attributes()) {
                row.add(a.sample(random));
            }
            if (parent != null) {
                row.add(random.nextInt(1, parentRows + 1));
            }
            data.add(row);
        }
        return new SqlTable(kind.table(), columns, data);
    }

    // ---- questions -------------------------------------------------------------------------------------------

    /** Up to {@code count} distinct questions about {@code db} (fewer only if the database runs out of them). */
    private List<SqlExample> questions(SqlDatabase db, Split split, int count, SplittableRandom random) {
        SqlPattern[] patterns = SqlPattern.values();
        Set<String> asked = new HashSet<>();
        List<SqlExample> out = new ArrayList<>();
        for (int attempt = 0; out.size() < count && attempt < 50 * count; attempt++) {
            SqlPattern pattern = patterns[random.nextInt(patterns.length)];
            List<Integer> allowed = phrasings(pattern, split);
            int phrasing = allowed.get(random.nextInt(allowed.size()));
            Map<String, String> slots = slots(pattern, db, random);
            if (slots == null) {
                continue;
            }
            String question = SqlPattern.fill(pattern.phrasings().get(phrasing), slots);
            String sql = SqlPattern.fill(pattern.sql(), slots);
            String prompt = SqlTask.prompt(db, question);
            List<String> words = words(prompt + " " + sql);
            if (split == Split.HELD_OUT && !trainWords.containsAll(words)) {
                continue;
            }
            if (excludedPrompts.contains(prompt)) {
                continue;
            }
            if (asked.add(question)) {
                out.add(new SqlExample(db.id(), question, sql, pattern, phrasing, split));
                if (split == Split.TRAIN) {
                    trainWords.addAll(words);
                }
            }
        }
        return out;
    }

    /**
     * The slot values of one instance of {@code pattern} on {@code db}: on a random foreign key for a join, else on
     * the first table, in random order, that has one. Null if the database has none.
     */
    private static Map<String, String> slots(SqlPattern pattern, SqlDatabase db, SplittableRandom random) {
        if (pattern == SqlPattern.JOIN_WHERE) {
            Map<String, String> slots = new LinkedHashMap<>();
            ForeignKey fk = db.foreignKeys().get(random.nextInt(db.foreignKeys().size()));
            SqlTable child = db.table(fk.table());
            SqlTable parent = db.table(fk.references());
            String c = pick(contentColumns(parent), random);
            List<Object> childRow = child.rows().get(random.nextInt(child.rows().size()));
            Object parentId = childRow.get(child.indexOf(fk.column()));
            Object v = parent.rows().stream().filter(r -> r.get(0).equals(parentId)).findFirst().orElseThrow()
                    .get(parent.indexOf(c));
            tableSlots(slots, child);
            slots.put("p", parent.name());
            slots.put("fk", fk.column());
            slots.put("s", pick(contentColumns(child), random));
            slots.put("c", c);
            value(slots, v);
            return slots;
        }
        for (SqlTable t : shuffled(db.tables(), random)) {
            Map<String, String> found = slots(pattern, t, random);
            if (found != null) {
                return found;
            }
        }
        return null;
    }

    /** The slot values of one instance of single-table {@code pattern} on {@code t}; null if it has none. */
    private static Map<String, String> slots(SqlPattern pattern, SqlTable t, SplittableRandom random) {
        Map<String, String> slots = new LinkedHashMap<>();
        tableSlots(slots, t);
        List<String> content = contentColumns(t);
        List<String> attributes = content.subList(1, content.size());
        List<String> numeric = attributes.stream()
                .filter(c -> t.column(c).type() == SqlColumn.Type.INTEGER).toList();
        List<String> text = attributes.stream().filter(c -> t.column(c).type() == SqlColumn.Type.TEXT).toList();
        switch (pattern) {
            case PROJECT -> slots.put("s", pick(content, random));
            case COUNT -> { }
            case PROJECT_TWO -> {
                List<String> two = shuffled(content, random);
                slots.put("s", two.get(0));
                slots.put("c", two.get(1));
            }
            case WHERE_EQUAL, COUNT_WHERE -> {
                String c = pick(attributes, random);
                slots.put("c", c);
                value(slots, t.values(c).get(random.nextInt(t.rows().size())));
                if (pattern == SqlPattern.WHERE_EQUAL) {
                    slots.put("s", pick(without(content, c), random));
                }
            }
            case WHERE_GREATER, WHERE_LESS -> {
                if (numeric.isEmpty()) {
                    return null;
                }
                String c = pick(numeric, random);
                int min = t.values(c).stream().mapToInt(v -> (Integer) v).min().orElseThrow();
                int max = t.values(c).stream().mapToInt(v -> (Integer) v).max().orElseThrow();
                if (min == max) {
                    return null;
                }
                // some row is above (below) the threshold, so the answer is never empty
                int v = pattern == SqlPattern.WHERE_GREATER ? random.nextInt(min, max)
                        : random.nextInt(min + 1, max + 1);
                slots.put("c", c);
                slots.put("s", pick(without(content, c), random));
                value(slots, v);
            }
            case AVG, MAX, MIN, SUM -> {
                List<String> columns = pattern != SqlPattern.SUM ? numeric
                        : numeric.stream().filter(c -> Attribute.valueOf(c.toUpperCase(Locale.ROOT))
                        .additive()).toList();
                if (columns.isEmpty()) {
                    return null;
                }
                slots.put("c", pick(columns, random));
            }
            case GROUP_COUNT -> {
                if (text.isEmpty()) {
                    return null;
                }
                slots.put("c", pick(text, random));
            }
            case ORDER_DESC, ORDER_ASC -> {
                if (numeric.isEmpty()) {
                    return null;
                }
                String c = pick(numeric, random);
                int k = random.nextInt(MIN_LIMIT, MAX_LIMIT + 1);
                List<Integer> sorted = t.values(c).stream().map(v -> (Integer) v).sorted(
                        pattern == SqlPattern.ORDER_DESC ? Comparator.reverseOrder() : Comparator.naturalOrder())
                        .toList();
                // the first k+1 values strictly ordered: the top k rows and their order are unambiguous
                if (sorted.size() <= k || sorted.subList(0, k + 1).stream().distinct().count() != k + 1) {
                    return null;
                }
                slots.put("c", c);
                slots.put("s", pick(without(content, c), random));
                slots.put("k", Integer.toString(k));
            }
            default -> throw new IllegalStateException("unhandled pattern " + pattern);
        }
        return slots;
    }

    private static void tableSlots(Map<String, String> slots, SqlTable t) {
        TableKind kind = TableKind.of(t.name());
        slots.put("t", kind.table());
        slots.put("ts", kind.plural());
    }

    private static void value(Map<String, String> slots, Object v) {
        slots.put("v", v.toString());
        slots.put("V", v instanceof String ? "'" + v + "'" : v.toString());
    }

    /** {@code name} then the attribute columns: what a question may select or filter (not ids, not keys). */
    private static List<String> contentColumns(SqlTable t) {
        return t.columns().stream().map(SqlColumn::name)
                .filter(c -> !c.equals("id") && !c.endsWith("_id")).toList();
    }

    /** The words of prompts and SQL as the tokenizer sees them: numbers as digits, quotes stripped. */
    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        for (String w : text.split(" ")) {
            String bare = w.replace("'", "");
            if (bare.matches("[0-9]+")) {
                bare.chars().forEach(d -> out.add(Character.toString(d)));
            } else {
                out.add(bare);
            }
        }
        return out;
    }

    private static List<String> without(List<String> columns, String column) {
        return columns.stream().filter(c -> !c.equals(column)).toList();
    }

    private static <T> T pick(List<T> list, SplittableRandom random) {
        return list.get(random.nextInt(list.size()));
    }

    /** A Fisher-Yates shuffle driven by {@code random} (not {@link java.util.Collections#shuffle}). */
    static <T> List<T> shuffled(List<T> list, SplittableRandom random) {
        List<T> out = new ArrayList<>(list);
        for (int i = out.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            T tmp = out.get(i);
            out.set(i, out.get(j));
            out.set(j, tmp);
        }
        return out;
    }
}
