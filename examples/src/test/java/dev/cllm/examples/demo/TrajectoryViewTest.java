package dev.cllm.examples.demo;

import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiBlock;
import dev.cllm.jacobi.JacobiIteration;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The paper-style trajectory view: which tokens count as converged, and how they are drawn. */
class TrajectoryViewTest {
    private static final int EOS = 2;
    private static final TokenLabels LABELS = TokenLabels.of(Map.of(EOS, "</s>", 7, "<s>", 10, "SELECT", 11,
            "a&b", 12, "##'", 9, ">"));

    /**
     * A block of 4 after prompt [1, 5] whose fixed point is SELECT a&b ' </s>: the first pass accepts one token,
     * the second one more while the stop token already sits at its final position (a stationary token), the third
     * verifies the rest.
     */
    private static TrajectoryView converged() {
        TokenIds prompt = TokenIds.of(1, 5);
        List<TokenIds> states = List.of(TokenIds.of(10, 7, 7, 7), TokenIds.of(10, 11, 9, EOS),
                TokenIds.of(10, 11, 12, EOS));
        TrajectoryRecorder r = new TrajectoryRecorder();
        r.onIteration(new JacobiIteration(0, 0, 2, states.get(0), states.get(1), 1, 1));
        r.onIteration(new JacobiIteration(0, 1, 2, states.get(1), states.get(2), 1, 1));
        r.onIteration(new JacobiIteration(0, 2, 2, states.get(2), states.get(2), 2, 2));
        r.onBlock(new JacobiBlock(0, 2, states, true, 3));
        Generation g = new Generation(prompt, TokenIds.of(10, 11, 12), "SELECT a&b'", StopReason.STOP_TOKEN,
                new DecodingStats(4, 3, 4, 1, 1, 1, List.of(0, 3, 1, 0, 0), List.of(0, 0, 0, 1), 10, 20));
        return TrajectoryView.of("jacobi-cllm <CLLM>", g, r, LABELS, "SELECT a&b'", true);
    }

    private static List<Boolean> converged(TrajectoryView.Row row) {
        return row.cells().stream().map(TrajectoryView.Cell::converged).toList();
    }

    @Test
    void aTokenIsConvergedWhenItEqualsTheFinalOutputAtItsPositionTheStopTokenIncluded() {
        TrajectoryView v = converged();
        assertThat(v.decodedTokens()).isEqualTo(3);
        assertThat(v.decodingPasses()).isEqualTo(3);
        assertThat(v.blocks()).hasSize(1);
        TrajectoryView.Block b = v.blocks().get(0);
        assertThat(b.converged()).isTrue();
        assertThat(b.rows()).extracting(TrajectoryView.Row::pass).containsExactly(1, 2, 3);
        assertThat(b.rows()).extracting(TrajectoryView.Row::accepted).containsExactly(1, 1, 2);
        assertThat(converged(b.rows().get(0))).containsExactly(true, false, false, false);
        assertThat(converged(b.rows().get(1))).containsExactly(true, true, false, true);
        assertThat(converged(b.rows().get(2))).containsExactly(true, true, true, true);
        assertThat(b.rows().get(0).cells()).extracting(TrajectoryView.Cell::token)
                .containsExactly("SELECT", "<s>", "<s>", "<s>");
        assertThat(b.rows().get(2).cells().get(2).token()).isEqualTo("'"); // the WordPiece prefix is dropped
    }

    @Test
    void aBlockCutByTheStopTokenEndsWithItsLastStateAndNothingAfterTheStopTokenIsConverged() {
        TokenIds prompt = TokenIds.of(1);
        TokenIds initial = TokenIds.of(10, 7, 7, 7);
        TokenIds last = TokenIds.of(10, EOS, 10, 10);
        TrajectoryRecorder r = new TrajectoryRecorder();
        r.onIteration(new JacobiIteration(0, 0, 1, initial, last, 1, 1));
        r.onBlock(new JacobiBlock(0, 1, List.of(initial, last), false, 1));
        Generation g = new Generation(prompt, TokenIds.of(10), "SELECT", StopReason.STOP_TOKEN,
                new DecodingStats(4, 1, 2, 1, 0, 0, List.of(0, 2, 0, 0, 0), List.of(0, 1), 1, 1));
        TrajectoryView v = TrajectoryView.of("t", g, r, LABELS, "SELECT", true);
        TrajectoryView.Block b = v.blocks().get(0);
        assertThat(b.converged()).isFalse();
        assertThat(b.rows()).extracting(TrajectoryView.Row::pass).containsExactly(1, 0);
        assertThat(converged(b.rows().get(1))).containsExactly(true, true, false, false);
        assertThat(v.decodedTokens()).isEqualTo(1);
        assertThat(v.tokensPerPass()).isEqualTo(1.0);
        assertThat(v.render(false)).contains("    end          [SELECT][</s>]");
    }

    @Test
    void plainTextMarksConvergedTokensWithBracketsInAlignedColumns() {
        String text = converged().render(false);
        assertThat(text).doesNotContain("\u001B[")
                .contains("jacobi-cllm <CLLM>: 3 tokens in 3 decoding passes (1.00 tokens/pass)")
                .contains("  output: SELECT a&b'")
                .contains("block 1, output tokens 1-4: fixed point after 3 passes");
        List<String> rows = text.lines().filter(l -> l.startsWith("    pass")).toList();
        assertThat(rows).allSatisfy(row -> assertThat(row.charAt(17)).isEqualTo('['));
        assertThat(rows).containsExactly(
                "    pass  1  +1  [SELECT] <s>  <s>  <s>",
                "    pass  2  +1  [SELECT][a&b] >   [</s>]",
                "    pass  3  +2  [SELECT][a&b][']  [</s>]");
        assertThat(TrajectoryView.legend(false)).startsWith("[token] = already equal to the fixed point");
    }

    @Test
    void ansiTextColoursConvergedTokensGreen() {
        String text = converged().render(true);
        assertThat(text).contains("\u001B[32mSELECT\u001B[0m <s>")
                .contains("\u001B[32m</s>\u001B[0m")
                .doesNotContain("[SELECT]");
        assertThat(TrajectoryView.legend(true)).startsWith("\u001B[32mgreen\u001B[0m");
    }

    @Test
    void htmlMarksConvergedCellsAndEscapesEveryToken() {
        StringBuilder html = new StringBuilder();
        converged().appendHtml(html);
        String s = html.toString();
        assertThat(s).contains("<h3>jacobi-cllm &lt;CLLM&gt;</h3>")
                .contains("<td class=\"ok\">SELECT</td><td>&lt;s&gt;</td>")
                .contains("<td class=\"ok\">a&amp;b</td><td>&gt;</td><td class=\"ok\">&lt;/s&gt;</td>")
                .contains("<td class=\"ok\">&#39;</td>")
                .contains("<code>SELECT a&amp;b&#39;</code>")
                .doesNotContain("<s>", "</s>", "a&b");
        assertThat(HtmlReport.escape("<a href=\"x\">'&'</a>"))
                .isEqualTo("&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    @Test
    void noBlocksWhenThePrefillPredictedTheStopToken() {
        Generation g = new Generation(TokenIds.of(1), TokenIds.empty(), "", StopReason.STOP_TOKEN,
                new DecodingStats(4, 0, 1, 0, 0, 0, List.of(0, 1, 0, 0, 0), List.of(), 1, 0));
        TrajectoryView v = TrajectoryView.of("t", g, new TrajectoryRecorder(), LABELS, "", true);
        assertThat(v.blocks()).isEmpty();
        assertThat(v.tokensPerPass()).isZero();
        assertThat(v.render(false)).contains("no decoding pass");
    }
}
