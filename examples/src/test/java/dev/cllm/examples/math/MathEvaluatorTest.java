package dev.cllm.examples.math;

import dev.cllm.examples.math.MathExample.Split;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Final-answer extraction, exact match, and scoring. */
class MathEvaluatorTest {
    static MathTask task;
    static MathExample gold;

    @BeforeAll
    static void generate() {
        task = MathTask.generate(new MathTaskConfig(1, 200, 40));
        gold = new MathExample("tom has 12 apples . then he buys 5 more apples . then he eats 3 apples . how many "
                + "apples does tom have now ?", "tom has 12 apples . he buys 5 more . 12 + 5 = 17 . he eats 3 . "
                + "17 - 3 = 14 . final answer 14", 14, MathStory.SHOPPING, MathPhrasing.PLAIN, Split.TRAIN);
    }

    @Test
    void goldAgainstGoldIsAllCorrect() {
        List<MathExample> golds = task.examples();
        MathScore score = MathEvaluator.score(golds, golds.stream().map(MathExample::solution).toList());
        assertThat(score).isEqualTo(new MathScore(golds.size(), golds.size(), golds.size(), 0));
        assertThat(score.answerAccuracy()).isEqualTo(1.0);
        assertThat(score.exactMatchAccuracy()).isEqualTo(1.0);
    }

    @Test
    void theRightAnswerWithOtherWorkingIsCorrectButNotExact() {
        String predicted = "tom has 12 apples . 12 + 5 - 3 = 14 . final answer 14";
        assertThat(MathEvaluator.answerMatch(gold, predicted)).isTrue();
        assertThat(MathEvaluator.exactMatch(gold.solution(), predicted)).isFalse();
        assertThat(MathEvaluator.score(List.of(gold), List.of(predicted))).isEqualTo(new MathScore(1, 1, 0, 0));
    }

    @Test
    void aWrongAnswerIsWrongButParsed() {
        String predicted = gold.solution().replace("final answer 14", "final answer 15");
        assertThat(MathEvaluator.finalAnswer(predicted)).hasValue(15);
        assertThat(MathEvaluator.answerMatch(gold, predicted)).isFalse();
        assertThat(MathEvaluator.score(List.of(gold), List.of(predicted))).isEqualTo(new MathScore(1, 0, 0, 0));
    }

    @Test
    void aSolutionWithoutAFinalAnswerIsWrongNotAnError() {
        List<String> unparsed = Arrays.asList(
                "tom has 12 apples . he buys 5 more . 12 + 5 = 17 .", // cut off before the end
                "tom has 12 apples . final answer", // no number
                "final answer . 14", // no number right after the cue
                "the final answer is 14", // not the canonical cue
                "finalanswer 14", "final answers 14", "final answer 14apples",
                "final answer 014", // a leading zero
                "final answer 1234567890", // too long for an answer
                "final answer -3", "", "   ", null);
        for (String predicted : unparsed) {
            assertThat(MathEvaluator.finalAnswer(predicted)).as(String.valueOf(predicted)).isEmpty();
            assertThat(MathEvaluator.answerMatch(gold, predicted)).isFalse();
            assertThat(MathEvaluator.exactMatch(gold.solution(), predicted)).isFalse();
        }
        List<MathExample> golds = new ArrayList<>();
        unparsed.forEach(p -> golds.add(gold));
        assertThat(MathEvaluator.score(golds, unparsed)).isEqualTo(new MathScore(unparsed.size(), 0, 0,
                unparsed.size()));
    }

    @Test
    void textAfterTheAnswerIsIgnoredForTheAnswerButBreaksExactMatch() {
        for (String predicted : List.of(gold.solution() + " . tom has 14 apples .",
                gold.solution() + " final answer 15", gold.solution() + " apples", gold.solution() + "\n")) {
            assertThat(MathEvaluator.finalAnswer(predicted)).as(predicted).hasValue(14);
            assertThat(MathEvaluator.answerMatch(gold, predicted)).isTrue();
        }
        String extra = gold.solution() + " . tom has 14 apples .";
        assertThat(MathEvaluator.exactMatch(gold.solution(), extra)).isFalse();
        assertThat(MathEvaluator.score(List.of(gold), List.of(extra))).isEqualTo(new MathScore(1, 1, 0, 0));
    }

    @Test
    void digitsMayBeSpacedAsTokensAreAndWhitespaceIsCollapsed() {
        String spaced = "tom  has 1 2 apples . he buys 5 more . 1 2 + 5 = 1 7 . he eats 3 .\n1 7 - 3 = 1 4 . "
                + "final answer 1 4 ";
        assertThat(MathEvaluator.finalAnswer(spaced)).hasValue(14);
        assertThat(MathEvaluator.exactMatch(gold.solution(), spaced)).isTrue();
        assertThat(MathEvaluator.finalAnswer("final answer 0")).hasValue(0);
        assertThat(MathEvaluator.finalAnswer("x final   answer 227 .")).hasValue(227);
        assertThat(MathEvaluator.exactMatch(gold.solution(), gold.solution().replace("12", "1 3"))).isFalse();
    }

    @Test
    void scoresRejectMismatchedListsAndInconsistentCounts() {
        assertThatThrownBy(() -> MathEvaluator.score(List.of(gold), List.of()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1 gold examples but 0");
        assertThatThrownBy(() -> new MathScore(2, 1, 2, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new MathScore(2, 2, 0, 1)).isInstanceOf(IllegalArgumentException.class);
        assertThat(new MathScore(0, 0, 0, 0).answerAccuracy()).isZero();
        assertThat(new MathScore(4, 3, 1, 1).answerAccuracy()).isEqualTo(0.75);
        assertThat(new MathScore(4, 3, 1, 1).exactMatchAccuracy()).isEqualTo(0.25);
    }
}
