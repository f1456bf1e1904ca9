package dev.cllm.examples.demo;

import dev.cllm.examples.demo.DemoReport.AccuracyGap;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** The CLLM-minus-base accuracy and its confidence interval, against the textbook computation on the differences. */
class AccuracyGapTest {
    /** 1.96 standard errors of the mean of the per-question differences, from the differences themselves. */
    private static double textbookHalfWidth(int cllmOnly, int baseOnly, int n) {
        double[] d = new double[n];
        for (int i = 0; i < cllmOnly; i++) {
            d[i] = 1;
        }
        for (int i = cllmOnly; i < cllmOnly + baseOnly; i++) {
            d[i] = -1;
        }
        double mean = java.util.Arrays.stream(d).average().orElseThrow();
        double ss = java.util.Arrays.stream(d).map(x -> (x - mean) * (x - mean)).sum();
        return 100 * 1.959964 * Math.sqrt(ss / (n - 1) / n);
    }

    @Test
    void pointsAndIntervalMatchThePairedComputation() {
        AccuracyGap shipped = new AccuracyGap(11, 12, 200);   // the shipped SQL pair on the demo's questions
        assertThat(shipped.points()).isCloseTo(-0.5, within(1e-12));
        assertThat(shipped.halfWidth()).isCloseTo(4.711, within(1e-3))
                .isCloseTo(textbookHalfWidth(11, 12, 200), within(1e-9));
        for (int[] c : new int[][]{{0, 0, 10}, {5, 0, 10}, {0, 7, 7}, {30, 55, 1000}, {1, 1, 2}}) {
            AccuracyGap g = new AccuracyGap(c[0], c[1], c[2]);
            assertThat(g.halfWidth()).as("%d %d %d", c[0], c[1], c[2])
                    .isCloseTo(textbookHalfWidth(c[0], c[1], c[2]), within(1e-9));
        }
        // identical answers: no difference and no uncertainty left in these questions
        assertThat(new AccuracyGap(0, 0, 50).halfWidth()).isZero();
        // four times the questions, half the interval
        assertThat(new AccuracyGap(44, 48, 800).halfWidth() / shipped.halfWidth()).isCloseTo(0.5, within(0.01));
    }

    @Test
    void theTemplateIntervalTreatsTemplatesAsTheDraws() {
        // three templates of four questions: the CLLM fails all of template a, wins all of template b, ties on c
        boolean[] cllm = {false, false, false, false, true, true, true, true, true, false, true, false};
        boolean[] base = {true, true, true, true, false, false, false, false, true, false, true, false};
        List<String> t = List.of("a", "a", "a", "a", "b", "b", "b", "b", "c", "c", "c", "c");
        AccuracyGap g = AccuracyGap.of(cllm, base, t);
        assertThat(g.cllmOnly()).isEqualTo(4);
        assertThat(g.baseOnly()).isEqualTo(4);
        assertThat(g.points()).isZero();
        assertThat(g.templates()).isEqualTo(3);
        // by hand: mean 0, template residual sums -4, +4, 0; CR1 variance 3/2 * 32 / 144 = 1/3; t(2) = 4.303
        assertThat(g.templateHalfWidth()).isCloseTo(100 * 4.303 * Math.sqrt(1.0 / 3), within(1e-9));
        assertThat(g.templateHalfWidth()).as("wider than treating the 12 questions as independent")
                .isGreaterThan(g.halfWidth());
        // one question per template: close to the question-level interval (t and n/(n-1) aside)
        boolean[] c2 = new boolean[200];
        boolean[] b2 = new boolean[200];
        List<String> single = new java.util.ArrayList<>();
        for (int q = 0; q < 200; q++) {
            c2[q] = q % 3 == 0;
            b2[q] = q % 5 == 0;
            single.add("q" + q);
        }
        AccuracyGap each = AccuracyGap.of(c2, b2, single);
        assertThat(each.templateHalfWidth() / each.halfWidth()).isCloseTo(1.0, within(0.01));
        // no templates: none reported
        assertThat(AccuracyGap.of(cllm, base, null).hasTemplates()).isFalse();
        assertThat(AccuracyGap.of(cllm, base, List.of("a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a", "a"))
                .hasTemplates()).as("one template: no interval").isFalse();
    }

    @Test
    void theTemplateSentenceNamesTheLargestDifferencesFirst() {
        List<DemoReport.TemplateScore> scores = List.of(new DemoReport.TemplateScore("AVG", 50, 50, 50),
                new DemoReport.TemplateScore("COUNT", 67, 18, 67), new DemoReport.TemplateScore("PROJECT", 67, 61, 0),
                new DemoReport.TemplateScore("JOIN", 84, 79, 78));
        DemoReport.Setting setting = new DemoReport.Setting("b", "c", 1, 1, "task", 268, 268, 8, 64, 0, 1, 2, 1, 2,
                "cpu", "linux", "title", "exec_accuracy", "exec acc", "definition", null);
        DemoReport report = new DemoReport(setting, List.of(), 0, List.of(), List.of(), new AccuracyGap(68, 62, 268),
                scores);
        assertThat(report.templateSentence()).hasValue("where the models differ most, by template (base model -> "
                + "CLLM): PROJECT 91.0% -> 0.0% (67 questions); COUNT 26.9% -> 100.0% (67 questions); JOIN 94.0% -> "
                + "92.9% (84 questions)");
        DemoReport agreeing = new DemoReport(setting, List.of(), 0, List.of(), List.of(), new AccuracyGap(0, 0, 50),
                List.of(new DemoReport.TemplateScore("AVG", 50, 50, 50)));
        assertThat(agreeing.templateSentence()).isEmpty();
    }

    @Test
    void impossibleCountsAreRefused() {
        assertThatThrownBy(() -> new AccuracyGap(6, 5, 10)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("6 + 5 of 10");
        assertThatThrownBy(() -> new AccuracyGap(-1, 0, 10)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> new AccuracyGap(0, 0, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
