package dev.cllm.examples.blend;

import dev.cllm.examples.blend.BlendSearch.Candidate;
import dev.cllm.torch.ComputeDtype;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The choice among the candidates, and the options' checks. (End to end: the CLI's BlendCommandTest.) */
class BlendSearchTest {
    private static Candidate c(double alpha, int correct, double tokensPerPass) {
        return new Candidate(alpha, correct, 1000, tokensPerPass);
    }

    @Test
    void theFastestCandidateWithinTheToleranceIsChosen() {
        List<Candidate> all = List.of(c(1, 795, 2.74), c(0.875, 806, 2.69), c(0.75, 816, 2.44), c(0.5, 825, 1.27));
        // base 820: 0.5 points are 5 questions, so 815 and up qualify
        assertThat(BlendSearch.choose(all, 820, 0.5).alpha()).isEqualTo(0.75);
        assertThat(BlendSearch.within(c(0.75, 815, 2.44), 820, 0.5)).isTrue();
        assertThat(BlendSearch.within(c(0.75, 814, 2.44), 820, 0.5)).isFalse();
        // a looser tolerance takes a faster one; a tolerance of 0 needs the base model's accuracy or better
        assertThat(BlendSearch.choose(all, 820, 1.5).alpha()).isEqualTo(0.875);
        assertThat(BlendSearch.choose(all, 820, 0).alpha()).isEqualTo(0.5);
        // a candidate more accurate than the base model qualifies as well
        assertThat(BlendSearch.choose(all, 700, 0).alpha()).isEqualTo(1.0);
    }

    @Test
    void tiesGoToTheLargerShareOfTheCllmAndWithoutAQualifierToTheMostAccurate() {
        assertThat(BlendSearch.choose(List.of(c(0.8, 810, 2.5), c(0.9, 812, 2.5)), 812, 0.5).alpha())
                .isEqualTo(0.9);
        List<Candidate> allBelow = List.of(c(1, 700, 2.7), c(0.75, 760, 2.3), c(0.5, 760, 1.4));
        Candidate chosen = BlendSearch.choose(allBelow, 820, 0.5);
        assertThat(chosen.alpha()).isEqualTo(0.75);
        assertThat(BlendSearch.within(chosen, 820, 0.5)).isFalse();
    }

    @Test
    void badOptionsAreRefusedByTheirFlag() {
        Path d = Path.of("unused");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 100, 8, 64, List.of(1.0, 0.0), 0.5,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--alphas: 0.0 is not in (0, 1]");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 100, 8, 64, List.of(1.0, 1.0), 0.5,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("repeats");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 0, 8, 64, List.of(1.0), 0.5,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--validation must be >= 1, got 0");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 10, 8, 64, List.of(1.0), -1,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--tolerance");
        assertThatThrownBy(() -> new BlendSearch.Options("chess", d, d, d, 10, 8, 64, List.of(1.0), 0.5,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--task chess");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 10, 1, 64, List.of(1.0), 0.5,
                ComputeDtype.BF16)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--block-size");
        assertThatThrownBy(() -> new BlendSearch.Options("sql", d, d, d, 10, 8, 64, List.of(1.0), 0.5,
                ComputeDtype.AUTO)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--dtype");
    }
}
