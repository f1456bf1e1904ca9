package dev.cllm.examples.math;

import dev.cllm.examples.math.MathExample.Split;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Generates a {@link MathTask}. All randomness comes from one {@code SplittableRandom(seed)}, split once per purpose
 * (phrasing split, training data, held-out data). Nothing iterates a hash-ordered collection, so a seed gives the
 * same task on every JVM.
 *
 * <h2>A problem</h2>
 * A person owns some items of a {@link MathStory}: they start with {@value #MIN_START}-{@value #MAX_START} items or
 * {@value #MIN_GROUPS}-{@value #MAX_GROUPS} containers of {@value #MIN_PER_GROUP}-{@value #MAX_PER_GROUP}, then gain
 * {@value #MIN_GAIN}-{@value #MAX_GAIN} items, lose 1-{@value #MAX_LOSE} (always keeping one), or gain containers,
 * until the solution has {@value #MIN_EQUATIONS}-{@value #MAX_EQUATIONS} equations (drawn uniformly); with
 * probability {@value #SHARE_PROBABILITY} the last equation instead shares the items equally among
 * {@value #MIN_SHARES}-{@value #MAX_SHARES} recipients (a divisor of the total, so the division is exact) and the
 * question asks for one share. Every number a question states has one or two digits; every total, and so every
 * result, stays in 1-{@value #MAX_TOTAL}.
 * The solution restates each sentence in one canonical form per {@link MathStep} and writes its equations
 * ({@code 12 + 5 = 17 .}), then {@code final answer 17}.
 *
 * <h2>The split</h2>
 * <ol>
 *   <li><b>Phrasings.</b> Per story, one of the {@link MathPhrasing}s is held out, drawn again (up to
 *       {@value #PHRASING_DRAWS} times) until every phrasing is held out for at least one story and kept for
 *       training by at least two. Training problems of a story use its other phrasings, held-out problems only the
 *       held-out one: every (story, phrasing) pair of the held-out set is unseen in training, while every story and
 *       every phrasing is seen (with other partners). The phrasings' templates share no story words, so every
 *       literal word of a held-out question occurs in training.</li>
 *   <li><b>Words.</b> The training set is generated first; a held-out problem is kept only if every word of its
 *       prompt and solution (numbers as digits) occurs in some training prompt or solution, so no held-out token
 *       is one the model never trained on.</li>
 *   <li><b>Duplicates.</b> No question occurs twice in a split; a held-out question never equals a training one
 *       (its phrasing differs).</li>
 * </ol>
 */
final class MathTaskGenerator {
    static final int MIN_EQUATIONS = 3;
    static final int MAX_EQUATIONS = 6;
    static final int MIN_START = 5;
    static final int MAX_START = 60;
    static final int MIN_GAIN = 2;
    static final int MAX_GAIN = 40;
    static final int MAX_LOSE = 40;
    static final int MIN_GROUPS = 2;
    static final int MAX_GROUPS = 6;
    static final int MIN_PER_GROUP = 2;
    static final int MAX_PER_GROUP = 12;
    static final int MIN_SHARES = 2;
    static final int MAX_SHARES = 9;
    static final int MAX_TOTAL = 999;
    /** The chance a problem starts with containers rather than loose items. */
    static final double START_GROUPS_PROBABILITY = 0.3;
    /** The chance the last equation shares the items out (when the total has a divisor to share by). */
    static final double SHARE_PROBABILITY = 0.4;
    static final int PHRASING_DRAWS = 10_000;
    /** Problems drawn per wanted example after which filling a split gives up. */
    static final int MAX_DRAWS_PER_EXAMPLE = 100;

    /** Who a problem is about, and the pronoun the sentences after the first use. */
    record Person(String name, String pronoun) {
    }

    static final List<Person> PEOPLE = List.of(new Person("tom", "he"), new Person("anna", "she"),
            new Person("ben", "he"), new Person("lily", "she"), new Person("sam", "he"), new Person("mia", "she"),
            new Person("leo", "he"), new Person("emma", "she"), new Person("max", "he"), new Person("zoe", "she"),
            new Person("jack", "he"), new Person("nina", "she"), new Person("omar", "he"), new Person("rosa", "she"),
            new Person("ivan", "he"), new Person("lena", "she"));

    private final MathTaskConfig config;
    private final Map<MathStory, MathPhrasing> heldOutPhrasing = new EnumMap<>(MathStory.class);
    private final Set<String> trainWords = new HashSet<>();

    private MathTaskGenerator(MathTaskConfig config) {
        this.config = config;
    }

    static MathTask generate(MathTaskConfig config) {
        return generate(config, 0, Set.of());
    }

    /**
     * The task {@code config} describes with its held-out problems replaced by {@code count} validation problems:
     * drawn like the held-out ones (held-out story and phrasing pairs, every word seen in training) from a random
     * stream of their own, none with the question of a held-out problem (a training one never has it).
     */
    static MathTask validation(MathTaskConfig config, int count) {
        return validation(config, count, Set.of());
    }

    /** The same, avoiding {@code alsoExcluded} questions as well (tests force a collision with it). */
    static MathTask validation(MathTaskConfig config, int count, Set<String> alsoExcluded) {
        if (count < 1) {
            throw new IllegalArgumentException("validation problems must be >= 1, got " + count);
        }
        return generate(config, count, alsoExcluded);
    }

    /**
     * The task, with {@code validation} validation problems in place of the held-out ones when it is not 0, none with
     * a question in {@code alsoExcluded}.
     */
    private static MathTask generate(MathTaskConfig config, int validation, Set<String> alsoExcluded) {
        SplittableRandom root = new SplittableRandom(config.seed());
        SplittableRandom phrasingRandom = root.split();
        SplittableRandom trainRandom = root.split();
        SplittableRandom heldOutRandom = root.split();
        SplittableRandom validationRandom = root.split();   // split last: the streams before it do not depend on it

        MathTaskGenerator g = new MathTaskGenerator(config);
        g.splitPhrasings(phrasingRandom);
        List<MathExample> examples = new ArrayList<>();
        g.fill(Split.TRAIN, config.trainExamples(), trainRandom, examples);
        if (validation == 0) {
            g.fill(Split.HELD_OUT, config.heldOutExamples(), heldOutRandom, examples);
            return new MathTask(config, examples);
        }
        List<MathExample> test = new ArrayList<>();
        g.fill(Split.HELD_OUT, config.heldOutExamples(), heldOutRandom, test);
        Set<String> taken = new HashSet<>();
        for (MathExample e : test) {
            taken.add(e.question());
        }
        taken.addAll(alsoExcluded);
        g.fill(Split.HELD_OUT, validation, validationRandom, examples, taken);
        return new MathTask(config, examples);
    }

    /** The phrasings {@code split} may use for {@code story}, in declaration order. */
    private List<MathPhrasing> phrasings(MathStory story, Split split) {
        List<MathPhrasing> out = new ArrayList<>();
        for (MathPhrasing p : MathPhrasing.values()) {
            if ((heldOutPhrasing.get(story) == p) == (split == Split.HELD_OUT)) {
                out.add(p);
            }
        }
        return out;
    }

    private void splitPhrasings(SplittableRandom random) {
        MathPhrasing[] phrasings = MathPhrasing.values();
        for (int draw = 0; draw < PHRASING_DRAWS; draw++) {
            int[] heldOut = new int[phrasings.length];
            for (MathStory s : MathStory.values()) {
                MathPhrasing p = phrasings[random.nextInt(phrasings.length)];
                heldOutPhrasing.put(s, p);
                heldOut[p.ordinal()]++;
            }
            boolean ok = true;
            for (int count : heldOut) {
                ok &= count >= 1 && MathStory.values().length - count >= 2;
            }
            if (ok) {
                return;
            }
        }
        throw new IllegalStateException("no phrasing split in " + PHRASING_DRAWS + " draws");
    }

    private void fill(Split split, int count, SplittableRandom random, List<MathExample> examples) {
        fill(split, count, random, examples, new HashSet<>());
    }

    /** Adds {@code count} problems of {@code split} to {@code examples}, none with a question in {@code taken}. */
    private void fill(Split split, int count, SplittableRandom random, List<MathExample> examples,
                      Set<String> taken) {
        MathStory[] stories = MathStory.values();
        Set<String> questions = new HashSet<>(taken);
        int made = 0;
        for (long draws = 0; made < count; draws++) {
            if (draws > (long) MAX_DRAWS_PER_EXAMPLE * count) {
                throw new IllegalStateException("cannot find " + count + " distinct " + split + " problems whose "
                        + "words all occur in training; " + config.trainExamples() + " training examples are too few");
            }
            MathStory story = stories[random.nextInt(stories.length)];
            MathPhrasing phrasing = pick(phrasings(story, split), random);
            MathExample e = problem(story, phrasing, split, random);
            List<String> words = words(MathTask.prompt(e) + " " + MathTask.answer(e));
            if (split == Split.HELD_OUT && !trainWords.containsAll(words)) {
                continue;
            }
            if (questions.add(e.question())) {
                examples.add(e);
                made++;
                if (split == Split.TRAIN) {
                    trainWords.addAll(words);
                }
            }
        }
    }

    /** One random problem of {@code story} worded by {@code phrasing}. */
    static MathExample problem(MathStory story, MathPhrasing phrasing, Split split, SplittableRandom random) {
        Person person = pick(PEOPLE, random);
        Map<String, String> slots = new LinkedHashMap<>();
        slots.put("name", person.name());
        slots.put("pro", person.pronoun());
        slots.put("items", pick(story.items(), random));
        slots.put("gain", story.gain());
        slots.put("lose", story.lose());
        slots.put("container", story.container());
        slots.put("containers", story.containers());
        slots.put("recipient", story.recipient());
        slots.put("recipients", story.recipients());
        List<String> question = new ArrayList<>();
        List<String> solution = new ArrayList<>();

        int equations = random.nextInt(MIN_EQUATIONS, MAX_EQUATIONS + 1);
        MathStep step = random.nextDouble() < START_GROUPS_PROBABILITY ? MathStep.START_GROUPS : MathStep.START;
        int total = 0;
        int written = 0;
        while (true) {
            int k;
            int m = 0;
            int p = 0;
            int next;
            switch (step) {
                case START -> next = k = random.nextInt(MIN_START, MAX_START + 1);
                case START_GROUPS -> {
                    k = random.nextInt(MIN_GROUPS, MAX_GROUPS + 1);
                    m = random.nextInt(MIN_PER_GROUP, MAX_PER_GROUP + 1);
                    next = k * m;
                }
                case GAIN -> {
                    k = random.nextInt(MIN_GAIN, Math.min(MAX_GAIN, MAX_TOTAL - total) + 1);
                    next = total + k;
                }
                case LOSE -> {
                    k = random.nextInt(1, Math.min(MAX_LOSE, total - 1) + 1);
                    next = total - k;
                }
                case GAIN_GROUPS -> {
                    k = random.nextInt(MIN_GROUPS, Math.min(MAX_GROUPS, (MAX_TOTAL - total) / MIN_PER_GROUP) + 1);
                    m = random.nextInt(MIN_PER_GROUP, Math.min(MAX_PER_GROUP, (MAX_TOTAL - total) / k) + 1);
                    p = k * m;
                    next = total + p;
                }
                case SHARE -> {
                    k = pick(divisors(total), random);
                    next = total / k;
                }
                default -> throw new IllegalStateException("unhandled step " + step);
            }
            slots.put("k", Integer.toString(k));
            slots.put("m", Integer.toString(m));
            slots.put("p", Integer.toString(p));
            slots.put("t", Integer.toString(total));
            slots.put("r", Integer.toString(next));
            question.add(MathStep.fill(phrasing.sentence(step), slots));
            solution.add(MathStep.fill(step.solution(), slots));
            total = next;
            written += step.equations();
            if (written == equations || step == MathStep.SHARE) {
                break;
            }
            step = next(equations - written, total, random);
        }
        question.add(MathStep.fill(phrasing.ask(step == MathStep.SHARE), slots));
        solution.add(MathStep.fill(MathStep.FINAL_ANSWER, slots));
        return new MathExample(String.join(" ", question), String.join(" ", solution), total, story, phrasing,
                split);
    }

    /** The step after one that left {@code total} items, {@code left} equations before the end. */
    private static MathStep next(int left, int total, SplittableRandom random) {
        if (left == 1 && !divisors(total).isEmpty() && random.nextDouble() < SHARE_PROBABILITY) {
            return MathStep.SHARE;
        }
        List<MathStep> options = new ArrayList<>();
        if (total + MIN_GAIN <= MAX_TOTAL) {
            options.add(MathStep.GAIN);
        }
        if (total >= 2) {
            options.add(MathStep.LOSE);
        }
        if (left >= 2 && total + MIN_GROUPS * MIN_PER_GROUP <= MAX_TOTAL) {
            options.add(MathStep.GAIN_GROUPS);
        }
        return pick(options, random);
    }

    /** The share counts that divide {@code total} exactly. */
    private static List<Integer> divisors(int total) {
        List<Integer> out = new ArrayList<>();
        for (int k = MIN_SHARES; k <= MAX_SHARES; k++) {
            if (total % k == 0) {
                out.add(k);
            }
        }
        return out;
    }

    /** The words of prompts and solutions as the tokenizer sees them: numbers as digits. */
    static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        for (String w : text.split(" ")) {
            if (!w.isEmpty() && w.chars().allMatch(c -> c >= '0' && c <= '9')) {
                w.chars().forEach(d -> out.add(Character.toString(d)));
            } else {
                out.add(w);
            }
        }
        return out;
    }

    private static <T> T pick(List<T> list, SplittableRandom random) {
        return list.get(random.nextInt(list.size()));
    }
}
