package dev.cllm.examples.demo;

import dev.cllm.api.Generation;
import dev.cllm.api.StopReason;
import dev.cllm.jacobi.JacobiBlock;
import dev.cllm.jacobi.JacobiIteration;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * One Jacobi generation drawn as in the CLLM paper's figure: for every block, one row per iteration holding the
 * block's tokens as that iteration's forward pass received them, with the tokens that are already <b>converged</b>
 * marked: equal to the fixed point, the final output, at their position. The first row is the initial guess; a
 * converged block's last row is its fixed point. A block the stop token cut short gets one more row, its state after
 * the last pass. Positions after the stop token have no fixed point and are never marked.
 *
 * <p>Rendered as text ({@link #render(boolean)}: green with ANSI colours, else in brackets) and as HTML
 * ({@link #appendHtml(StringBuilder)}). Immutable.
 *
 * @param title          what was decoded, e.g. {@code jacobi-cllm (CLLM)}
 * @param output         the generated text
 * @param decodedTokens  tokens produced after the prefill ({@link DecodeSample#decodedTokens()})
 * @param decodingPasses forward passes after the prefill
 * @param blocks         the blocks, in order
 * @param correct        whether the output answers the question right (the task's accuracy)
 */
public record TrajectoryView(String title, String output, int decodedTokens, int decodingPasses,
                             List<Block> blocks, boolean correct) {
    private static final String GREEN = "\u001B[32m";
    private static final String RESET = "\u001B[0m";

    /** A token and whether it already equals the fixed point at its position. */
    public record Cell(String token, boolean converged) {
        public Cell {
            Objects.requireNonNull(token, "token");
        }
    }

    /**
     * One state of a block.
     *
     * @param pass     the 1-based iteration that received this state, or 0 for the state after the last pass of a
     *                 block cut short
     * @param accepted tokens that pass made certain (0 for a state no pass received)
     * @param cells    the block's tokens
     */
    public record Row(int pass, int accepted, List<Cell> cells) {
        public Row {
            cells = List.copyOf(cells);
        }

        /** How many cells are converged. */
        public long convergedCount() {
            return cells.stream().filter(Cell::converged).count();
        }
    }

    /**
     * One block's trajectory.
     *
     * @param index      0-based block index
     * @param firstToken 0-based index in the output of the block's first token
     * @param converged  whether the block reached its fixed point (false when the stop token cut it short)
     * @param passes     forward passes spent on it
     * @param rows       its states, in order
     */
    public record Block(int index, int firstToken, boolean converged, int passes, List<Row> rows) {
        public Block {
            rows = List.copyOf(rows);
        }
    }

    public TrajectoryView {
        Objects.requireNonNull(title, "title");
        Objects.requireNonNull(output, "output");
        blocks = List.copyOf(blocks);
    }

    /**
     * The view of generation {@code g}, whose iterations and blocks {@code recorder} recorded.
     *
     * @param output the generated text to show ({@code g.text()} or the ids decoded by another tokenizer)
     */
    public static TrajectoryView of(String title, Generation g, TrajectoryRecorder recorder, TokenLabels labels,
                                    String output, boolean correct) {
        int promptLength = g.prompt().size();
        List<JacobiBlock> jacobiBlocks = recorder.blocks();
        int[] fixedPoint = fixedPoint(g, jacobiBlocks);
        List<JacobiIteration> iterations = recorder.iterations();
        List<Block> blocks = new ArrayList<>();
        for (JacobiBlock b : jacobiBlocks) {
            int offset = b.position() - promptLength;
            List<Row> rows = new ArrayList<>();
            for (JacobiIteration it : iterations) {
                if (it.block() == b.index()) {
                    rows.add(new Row(it.iteration() + 1, it.accepted(), cells(it.before().toArray(), offset,
                            fixedPoint, labels)));
                }
            }
            if (!b.converged()) {
                rows.add(new Row(0, 0, cells(b.lastState().toArray(), offset, fixedPoint, labels)));
            }
            blocks.add(new Block(b.index(), offset, b.converged(), b.passes(), rows));
        }
        DecodeSample sample = DecodeSample.of(g);
        return new TrajectoryView(title, output, sample.decodedTokens(), sample.decodingPasses(), blocks, correct);
    }

    /**
     * The output ids followed by the stop token when one ended the generation: a decoding pass predicted it, at the
     * position after the output, and it is still there in the last state of the last block.
     */
    static int[] fixedPoint(Generation g, List<JacobiBlock> blocks) {
        int[] ids = g.ids().toArray();
        if (g.stopReason() != StopReason.STOP_TOKEN || blocks.isEmpty()) {
            return ids;
        }
        JacobiBlock last = blocks.get(blocks.size() - 1);
        int at = ids.length - (last.position() - g.prompt().size());
        if (at < 0 || at >= last.size()) {
            return ids;
        }
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = last.lastState().get(at);
        return out;
    }

    private static List<Cell> cells(int[] state, int offset, int[] fixedPoint, TokenLabels labels) {
        List<Cell> cells = new ArrayList<>(state.length);
        for (int i = 0; i < state.length; i++) {
            int at = offset + i;
            boolean converged = at >= 0 && at < fixedPoint.length && fixedPoint[at] == state[i];
            cells.add(new Cell(labels.label(state[i]), converged));
        }
        return cells;
    }

    /** Decoded tokens per decoding pass (0 without a decoding pass). */
    public double tokensPerPass() {
        return decodingPasses == 0 ? 0.0 : (double) decodedTokens / decodingPasses;
    }

    /** The legend for {@link #render(boolean)}. */
    public static String legend(boolean ansi) {
        return (ansi ? GREEN + "green" + RESET : "[token]")
                + " = already equal to the fixed point (the final output) at its position; one row per forward "
                + "pass, +k = tokens that pass accepted";
    }

    /**
     * The view as text, one line per row, the tokens of a block in aligned columns; converged tokens green when
     * {@code ansi}, else in brackets.
     */
    public String render(boolean ansi) {
        StringBuilder out = new StringBuilder();
        out.append(String.format(Locale.ROOT, "%s: %d tokens in %d decoding passes (%.2f tokens/pass)%n", title,
                decodedTokens, decodingPasses, tokensPerPass()));
        out.append("  output: ").append(output).append(correct ? "   (right)" : "   (WRONG)")
                .append(System.lineSeparator());
        if (blocks.isEmpty()) {
            out.append("  (no decoding pass: the first token was the stop token)").append(System.lineSeparator());
        }
        for (Block b : blocks) {
            out.append("  ").append(blockCaption(b)).append(System.lineSeparator());
            int columns = b.rows().stream().mapToInt(r -> r.cells().size()).max().orElse(0);
            int[] width = new int[columns];
            for (Row r : b.rows()) {
                for (int i = 0; i < r.cells().size(); i++) {
                    width[i] = Math.max(width[i], r.cells().get(i).token().length());
                }
            }
            for (Row r : b.rows()) {
                out.append(r.pass() > 0 ? String.format(Locale.ROOT, "    pass %2d  +%-2d ", r.pass(), r.accepted())
                        : "    end          ");
                for (int i = 0; i < r.cells().size(); i++) {
                    Cell c = r.cells().get(i);
                    String pad = " ".repeat(width[i] - c.token().length());
                    if (ansi) {
                        out.append(c.converged() ? GREEN + c.token() + RESET : c.token()).append(pad).append(' ');
                    } else {
                        out.append(c.converged() ? "[" + c.token() + "]" : " " + c.token() + " ").append(pad);
                    }
                }
                int end = out.length();
                while (end > 0 && out.charAt(end - 1) == ' ') {
                    end--;
                }
                out.setLength(end);
                out.append(System.lineSeparator());
            }
        }
        return out.toString();
    }

    private static String blockCaption(Block b) {
        int size = b.rows().isEmpty() ? 0 : b.rows().get(0).cells().size();
        return String.format(Locale.ROOT, "block %d, output tokens %d-%d: %s after %d pass%s", b.index() + 1,
                b.firstToken() + 1, b.firstToken() + size, b.converged() ? "fixed point" : "stopped at the stop token",
                b.passes(), b.passes() == 1 ? "" : "es");
    }

    /** Appends the view as an HTML fragment (a {@code section}; the classes are styled by {@link HtmlReport}). */
    public void appendHtml(StringBuilder html) {
        html.append("<section class=\"trajectory\">\n<h3>").append(HtmlReport.escape(title)).append("</h3>\n");
        html.append(String.format(Locale.ROOT, "<p>%d tokens in %d decoding passes: <b>%.2f tokens/pass</b></p>%n",
                decodedTokens, decodingPasses, tokensPerPass()));
        html.append("<p>output: <code>").append(HtmlReport.escape(output)).append("</code> ")
                .append(correct ? "<span class=\"right\">right</span>" : "<span class=\"wrong\">wrong</span>")
                .append("</p>\n");
        if (blocks.isEmpty()) {
            html.append("<p>(no decoding pass: the first token was the stop token)</p>\n");
        }
        for (Block b : blocks) {
            html.append("<table class=\"block\">\n<caption>").append(HtmlReport.escape(blockCaption(b)))
                    .append("</caption>\n");
            for (Row r : b.rows()) {
                html.append("<tr><th>").append(r.pass() > 0 ? "pass " + r.pass() : "end").append("</th><td class=\"acc\">")
                        .append(r.pass() > 0 ? "+" + r.accepted() : "").append("</td>");
                for (Cell c : r.cells()) {
                    html.append(c.converged() ? "<td class=\"ok\">" : "<td>").append(HtmlReport.escape(c.token()))
                            .append("</td>");
                }
                html.append("</tr>\n");
            }
            html.append("</table>\n");
        }
        html.append("</section>\n");
    }
}
