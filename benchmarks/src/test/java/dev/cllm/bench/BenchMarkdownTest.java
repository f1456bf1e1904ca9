package dev.cllm.bench;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The Markdown report: header, tables with one row per result, skipped models, charts. */
class BenchMarkdownTest {
    @Test
    void tablesHaveAHeaderAndOneRowPerResult() {
        String forward = BenchMarkdown.forwardTable(Samples.results().forwardCost());
        List<String> lines = forward.lines().toList();
        assertThat(lines).hasSize(2 + 5);
        assertThat(lines.get(0)).startsWith("| model |").contains("ratio to n=1");
        assertThat(lines.get(2)).isEqualTo("| stories260K | auto | default | 128 | 1 | 0.500 ± 0.050 | 1.00 | 0.500 |");
        assertThat(lines.get(4)).contains("| 16 | 1.500 | 3.00 |");   // no error bar where JMH had none
        assertThat(lines.get(6)).contains("failed: failed").contains("n/a");

        String generation = BenchMarkdown.generationTable(Samples.results().generation());
        assertThat(generation.lines()).hasSize(2 + 4)
                .contains("| stories260K | auto | default | ar | 2000.0 | 1.000 | 1.00x |",
                        "| stories260K | auto | default | jacobi n=16 | 1000.0 | 1.050 | 0.50x |",
                        "| stories260K | auto | default | lookahead n=8 | 1800.0 | 1.310 | 0.90x |");
        assertThat(BenchMarkdown.collectionTable(Samples.results().collection()).lines())
                .contains("| stories260K | auto | default | 16 | 40.00 | 700.0 | 1.040 |");
    }

    @Test
    void documentHasTheMachineTheTablesAndTheCharts() {
        String doc = BenchMarkdown.document(Samples.results(), Samples.machine(), List.of("chart.png"));
        assertThat(doc).contains("Test CPU 3000", "`./cllm bench --quick`", "`-Xmx1g -Dcllm.home=.`",
                "2025-01-02T03:04:05Z", "threads (libtorch/OpenBLAS): 1/2", "## Forward cost against n",
                "## Generation: AR against Jacobi and lookahead decoding", "## Trajectory collection",
                "- sql-cllm (generation): sql-cllm: no checkpoint", "![chart.png](chart.png)",
                "Prompts: stories260K: stories260K reference prompts. 128 new tokens");
    }

    @Test
    void pipesInCellsAreEscaped() {
        String table = BenchMarkdown.forwardTable(List.of(new BenchResults.ForwardRow("dir:a|b", "auto", "default",
                128, 1, null, null, null, "x | y")));
        assertThat(table).contains("dir:a\\|b", "x \\| y");
    }
}
