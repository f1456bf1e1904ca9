package dev.cllm.examples.math;

import dev.cllm.examples.math.MathExample.Split;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The generator: determinism, sizes, format, correct arithmetic, lengths, and the held-out split. */
class MathTaskTest {
    private static final Pattern EQUATION = Pattern.compile("([0-9]+) ([-+x/]) ([0-9]+) = ([0-9]+) \\.");
    private static final Pattern NUMBER = Pattern.compile("(?<![^ ])[0-9]+(?![^ ])");

    static MathTask task;

    @BeforeAll
    static void generate() {
        task = MathTaskFixture.defaults();
    }

    @Test
    void theSameSeedWritesTheSameBytesAndAnotherSeedDoesNot(@TempDir Path dir) throws Exception {
        MathTaskConfig config = new MathTaskConfig(7, 300, 60);
        MathTask.generate(config).write(dir.resolve("a"));
        MathTask.generate(config).write(dir.resolve("b"));
        MathTask.generate(config.withSeed(8)).write(dir.resolve("c"));
        for (String file : List.of("task.json", "train.prompts.jsonl", "train.examples.jsonl",
                "heldout.prompts.jsonl", "heldout.examples.jsonl")) {
            assertThat(Files.readAllBytes(dir.resolve("b").resolve(file))).as(file)
                    .isEqualTo(Files.readAllBytes(dir.resolve("a").resolve(file)));
        }
        assertThat(Files.readAllBytes(dir.resolve("c").resolve("train.prompts.jsonl")))
                .isNotEqualTo(Files.readAllBytes(dir.resolve("a").resolve("train.prompts.jsonl")));
    }

    @Test
    void splitsHaveTheConfiguredSizesAndUseEveryStoryAndPhrasing() {
        assertThat(task.examples(Split.TRAIN)).hasSize(16_000);
        assertThat(task.examples(Split.HELD_OUT)).hasSize(200);
        assertThat(task.examples().subList(0, 16_000)).allSatisfy(e -> assertThat(e.split()).isEqualTo(Split.TRAIN));
        for (Split split : Split.values()) {
            assertThat(task.examples(split).stream().map(MathExample::story).collect(Collectors.toSet()))
                    .as("%s", split).isEqualTo(EnumSet.allOf(MathStory.class));
            assertThat(task.examples(split).stream().map(MathExample::phrasing).collect(Collectors.toSet()))
                    .as("%s", split).isEqualTo(EnumSet.allOf(MathPhrasing.class));
        }
    }

    @Test
    void heldOutStoryPhrasingPairsAreUnseenButEveryWordIsSeen() {
        Set<String> train = pairs(Split.TRAIN);
        Set<String> heldOut = pairs(Split.HELD_OUT);
        assertThat(heldOut).hasSize(MathStory.values().length).doesNotContainAnyElementsOf(train);
        // each story keeps every other phrasing for training
        assertThat(train).hasSize(MathStory.values().length * (MathPhrasing.values().length - 1));
        assertThat(words(Split.TRAIN)).containsAll(words(Split.HELD_OUT));
        Set<String> trainQuestions = task.examples(Split.TRAIN).stream().map(MathExample::question)
                .collect(Collectors.toSet());
        assertThat(trainQuestions).hasSize(16_000);
        assertThat(task.examples(Split.HELD_OUT)).noneMatch(e -> trainQuestions.contains(e.question()));
    }

    @Test
    void validationProblemsAreDrawnLikeTheHeldOutOnesAndAreNoneOfThem() {
        MathTaskConfig config = new MathTaskConfig(7, 1500, 60);
        MathTask test = MathTask.generate(config);
        MathTask validation = MathTask.validation(config, 120);
        assertThat(MathTask.validation(config, 120).examples()).as("deterministic").isEqualTo(validation.examples());
        assertThat(validation.examples(Split.TRAIN)).isEqualTo(test.examples(Split.TRAIN));
        List<MathExample> v = validation.examples(Split.HELD_OUT);
        assertThat(v).hasSize(120);
        Set<String> heldOutQuestions = test.examples(Split.HELD_OUT).stream().map(MathExample::question)
                .collect(Collectors.toSet());
        assertThat(v.stream().map(MathExample::question)).doesNotHaveDuplicates()
                .doesNotContainAnyElementsOf(heldOutQuestions);
        // the held-out (story, phrasing) pairs: each story's one unseen in training
        Set<String> trainPairs = test.examples(Split.TRAIN).stream().map(e -> e.story() + "/" + e.phrasing())
                .collect(Collectors.toSet());
        Set<String> validationPairs = v.stream().map(e -> e.story() + "/" + e.phrasing()).collect(Collectors.toSet());
        assertThat(validationPairs).doesNotContainAnyElementsOf(trainPairs);
        assertThat(v.stream().collect(Collectors.groupingBy(MathExample::story,
                Collectors.mapping(MathExample::phrasing, Collectors.toSet())))).allSatisfy((story, phrasings) ->
                assertThat(phrasings).as(story.name()).hasSize(1));
        v.forEach(MathTaskTest::checkSolution);
        // the filter bites: told to avoid the first validation question as well, the draw avoids it
        String first = v.get(0).question();
        List<MathExample> avoiding = MathTaskGenerator.validation(config, 120, Set.of(first))
                .examples(Split.HELD_OUT);
        assertThat(avoiding).hasSize(120).noneMatch(e -> e.question().equals(first));
        assertThatThrownBy(() -> MathTask.validation(config, 0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("validation problems must be >= 1, got 0");
    }

    @Test
    void everyGoldSolutionComputesCorrectlyStepByStepAndEndsInItsFinalAnswer() {
        for (MathExample e : task.examples()) {
            checkSolution(e);
        }
    }

    @Test
    void problemsOfAnySeedAreCorrectToo() {
        SplittableRandom random = new SplittableRandom(42);
        for (int i = 0; i < 20_000; i++) {
            MathStory story = MathStory.values()[i % MathStory.values().length];
            MathPhrasing phrasing = MathPhrasing.values()[i % MathPhrasing.values().length];
            checkSolution(MathTaskGenerator.problem(story, phrasing, Split.TRAIN, random));
        }
    }

    @Test
    void answersAreFortyToAHundredTokensForTheBulk() {
        int[] answers = task.examples().stream().mapToInt(e -> MathTaskGenerator.words(MathTask.answer(e)).size())
                .sorted().toArray();
        int[] prompts = task.examples().stream().mapToInt(e -> MathTaskGenerator.words(MathTask.prompt(e)).size())
                .sorted().toArray();
        System.out.printf("answer tokens: min %d p10 %d median %d p90 %d max %d%n", answers[0],
                answers[answers.length / 10], answers[answers.length / 2], answers[answers.length * 9 / 10],
                answers[answers.length - 1]);
        System.out.printf("prompt tokens (without BOS): min %d median %d p90 %d max %d%n", prompts[0],
                prompts[prompts.length / 2], prompts[prompts.length * 9 / 10], prompts[prompts.length - 1]);
        long inBand = java.util.Arrays.stream(answers).filter(n -> n >= 40 && n <= 100).count();
        assertThat((double) inBand / answers.length).isGreaterThanOrEqualTo(0.98);
        assertThat(answers[answers.length / 2]).isBetween(55, 80);
        assertThat(answers[0]).isGreaterThanOrEqualTo(30);
        assertThat(answers[answers.length - 1]).isLessThanOrEqualTo(120);
        assertThat(prompts[prompts.length - 1] + answers[answers.length - 1]).isLessThanOrEqualTo(256);
    }

    @Test
    void promptsAreQuestionThenCueAndEachHasOneSolution() {
        MathExample e = task.examples().get(0);
        assertThat(MathTask.prompt(e)).isEqualTo("question : " + e.question() + " answer :");
        assertThat(MathTask.answer(e)).isEqualTo(e.solution());
        for (MathExample x : task.examples()) {
            for (String text : List.of(x.question(), x.solution())) {
                assertThat(text).matches("[a-z0-9?.,+x/=-]+( [a-z0-9?.,+x/=-]+)*");
                // two numbers are never adjacent: the tokenizer's decoder could not tell them apart
                assertThat(text).doesNotMatch(".*(^| )[0-9]+ [0-9]+( |$).*");
            }
            assertThat(x.question()).endsWith(" ?");
            // the items name the story
            List<String> words = List.of(x.question().split(" "));
            for (MathStory story : MathStory.values()) {
                assertThat(story.items().stream().anyMatch(words::contains)).as(x.question())
                        .isEqualTo(story == x.story());
            }
        }
        // one prompt, one solution: exact match is meaningful
        assertThat(task.examples().stream().collect(Collectors.groupingBy(MathTask::prompt,
                Collectors.mapping(MathExample::solution, Collectors.toSet())))).allSatisfy((prompt, solutions) ->
                assertThat(solutions).as(prompt).hasSize(1));
    }

    @Test
    void writtenTasksReadBackEqual(@TempDir Path dir) {
        MathTask small = MathTask.generate(new MathTaskConfig(3, 50, 20));
        small.write(dir);
        MathTask read = MathTask.read(dir);
        assertThat(read.config()).isEqualTo(small.config());
        assertThat(read.examples()).isEqualTo(small.examples());
        assertThat(MathTask.promptsFile(dir, Split.HELD_OUT)).hasFileName("heldout.prompts.jsonl");
    }

    @Test
    void malformedFilesAreNamed(@TempDir Path dir) throws Exception {
        MathTask.generate(new MathTaskConfig(3, 20, 5)).write(dir);
        Path file = MathTask.examplesFile(dir, Split.HELD_OUT);
        Files.writeString(file, "{\"question\":\"q\",\"solution\":\"s final answer 3\",\"final_answer\":4,"
                + "\"story\":\"BAKING\",\"phrasing\":\"PLAIN\"}\n");
        assertThatThrownBy(() -> MathTask.read(dir)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(file.toString()).hasMessageContaining("final answer 4");
    }

    @Test
    void configsRejectBadSizes() {
        assertThat(MathTaskConfig.defaults()).isEqualTo(new MathTaskConfig(0, 16_000, 200));
        assertThatThrownBy(() -> MathTaskConfig.defaults().withTrainExamples(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("trainExamples");
        assertThatThrownBy(() -> MathTaskConfig.defaults().withHeldOutExamples(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("heldOutExamples");
    }

    /**
     * Recomputes every equation of {@code e}'s solution and checks they chain: each {@code +}, {@code -} and
     * {@code /} starts from the running total, a product feeds the next sum, the last total is the final answer;
     * and the solution restates the question's numbers in order.
     */
    static void checkSolution(MathExample e) {
        String s = e.solution();
        Matcher start = Pattern.compile("^[a-z]+ has ([0-9]+) [a-z]+ \\.").matcher(s);
        Integer total = start.lookingAt() ? Integer.valueOf(start.group(1)) : null;
        Integer product = null;
        int equations = 0;
        Matcher m = EQUATION.matcher(s);
        List<String> restated = new ArrayList<>();
        int from = 0;
        while (m.find()) {
            equations++;
            restated.add(s.substring(from, m.start()));
            from = m.end();
            int a = Integer.parseInt(m.group(1));
            int b = Integer.parseInt(m.group(3));
            int c = Integer.parseInt(m.group(4));
            assertThat(b).as(s).isBetween(1, 99);
            assertThat(c).as(s).isBetween(1, 999);
            switch (m.group(2)) {
                case "x" -> {
                    assertThat(a * b).as(s).isEqualTo(c);
                    assertThat(a).as(s).isBetween(1, 99);
                    if (total == null) {
                        total = c;
                    } else {
                        product = c;
                    }
                    continue;
                }
                case "+" -> assertThat(a + b).as(s).isEqualTo(c);
                case "-" -> assertThat(a - b).as(s).isEqualTo(c);
                case "/" -> assertThat(a % b == 0 && a / b == c).as(s).isTrue();
                default -> throw new AssertionError(s);
            }
            assertThat(a).as(s).isEqualTo(total);
            if (product != null) {
                assertThat(b).as(s).isEqualTo(product);
                product = null;
            }
            total = c;
        }
        restated.add(s.substring(from));
        assertThat(equations).as(s).isBetween(3, 6);
        assertThat(product).as(s).isNull();
        assertThat(total).as(s).isEqualTo(e.finalAnswer());
        assertThat(s).endsWith(" . final answer " + e.finalAnswer());
        assertThat(MathEvaluator.finalAnswer(s)).as(s).hasValue(e.finalAnswer());
        // the sentences between the equations restate the question's numbers, in order
        List<String> expected = new ArrayList<>(numbers(e.question()));
        expected.add(Integer.toString(e.finalAnswer()));
        assertThat(numbers(String.join(" ", restated))).as(s).isEqualTo(expected);
    }

    private static List<String> numbers(String text) {
        List<String> out = new ArrayList<>();
        Matcher m = NUMBER.matcher(text);
        while (m.find()) {
            out.add(m.group());
        }
        return out;
    }

    static Set<String> pairs(Split split) {
        return task.examples(split).stream().map(e -> e.story() + "/" + e.phrasing()).collect(Collectors.toSet());
    }

    /** The words of the split's prompts and solutions as the tokenizer sees them. */
    static Set<String> words(Split split) {
        Set<String> out = new HashSet<>();
        task.examples(split).forEach(e -> out.addAll(MathTaskGenerator.words(MathTask.prompt(e) + " "
                + MathTask.answer(e))));
        return out;
    }
}
