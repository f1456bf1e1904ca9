package dev.cllm.examples.demo;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Which questions' trajectories the demo shows by default, and the one asked for. */
class ShownQuestionsTest {
    @Test
    void theBestRightAnswerAndTheBestWrongOneAreFoundAmongAllQuestions() {
        int n = 200;
        double[] tokensPerPass = new double[n];
        boolean[] right = new boolean[n];
        for (int q = 0; q < n; q++) {
            tokensPerPass[q] = 1.0 + (q % 7) / 10.0;
            right[q] = true;
        }
        // the only wrong answer, and the right answer with the most tokens per pass, both far past the first 20
        right[150] = false;
        tokensPerPass[183] = 3.5;
        assertThat(Demo.shownQuestions(tokensPerPass, right, null)).containsExactly(183, 150);
    }

    @Test
    void equalsGoToTheFirstAndAMissingKindIsLeftOut() {
        double[] tokensPerPass = {2.0, 2.0, 1.5, 2.0};
        assertThat(Demo.shownQuestions(tokensPerPass, new boolean[]{false, true, true, true}, null))
                .containsExactly(1, 0);
        assertThat(Demo.shownQuestions(tokensPerPass, new boolean[]{true, true, true, true}, null))
                .containsExactly(0);
        assertThat(Demo.shownQuestions(tokensPerPass, new boolean[]{false, false, false, false}, null))
                .containsExactly(0);
        assertThat(Demo.shownQuestions(new double[0], new boolean[0], null)).isEmpty();
    }

    @Test
    void theRequestedQuestionIsShownWhateverItsAnswer() {
        double[] tokensPerPass = {1.0, 3.0, 2.0};
        boolean[] right = {true, true, false};
        assertThat(Demo.shownQuestions(tokensPerPass, right, 0)).containsExactly(0);
        assertThatThrownBy(() -> Demo.shownQuestions(tokensPerPass, right, 3))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("question 4 requested, 3 decoded");
        assertThatThrownBy(() -> Demo.shownQuestions(tokensPerPass, new boolean[2], null))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("3 tokens-per-pass values for 2 questions");
    }
}
