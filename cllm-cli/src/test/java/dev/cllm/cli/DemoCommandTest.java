package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.fixtures.RepositoryModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** {@code ./cllm demo} end to end on two tiny random checkpoints that carry the task's tokenizer. */
class DemoCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    @TempDir
    static Path dir;
    static Path base;
    static Path cllm;

    @BeforeAll
    static void checkpoints() throws Exception {
        LlamaConfig config = SqlCheckpoints.shape().build();
        base = SqlCheckpoints.write(dir, config, "base", 1);
        cllm = SqlCheckpoints.write(dir, config, "cllm", 2);
    }

    private static List<String> fields(JsonNode o) {
        List<String> out = new ArrayList<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void jsonIsOneObjectWithTheDocumentedRowsAndJacobiIsLossless() throws Exception {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "5",
                "--block-size", "4", "--max-new-tokens", "12", "--warmup", "1", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out().strip().lines().count()).isEqualTo(1);
        JsonNode o = JSON.readTree(r.out());
        assertThat(fields(o)).startsWith("rows", "questions").contains("jacobi_base_mismatches", "block_size",
                "cllm_agrees_with_base").doesNotContain("html");
        assertThat(o.get("questions").asInt()).isEqualTo(5);
        assertThat(o.get("block_size").asInt()).isEqualTo(4);
        assertThat(o.get("jacobi_base_mismatches").asInt()).isZero();
        JsonNode rows = o.get("rows");
        assertThat(rows).hasSize(5);
        List<String> decoders = new ArrayList<>();
        for (JsonNode row : rows) {
            assertThat(fields(row)).startsWith("decoder", "exec_accuracy", "exact_match", "tokens_per_pass",
                    "tokens_per_s", "speedup");
            decoders.add(row.get("decoder").asText());
            assertThat(row.get("tokens_per_s").asDouble()).isPositive();
            assertThat(row.get("exec_accuracy").asDouble()).isBetween(0.0, 1.0);
        }
        assertThat(decoders).containsExactly("ar", "jacobi-base", "jacobi-cllm", "lookahead-base", "lookahead-cllm");
        for (JsonNode check : o.get("lossless_checks")) {
            assertThat(check.get("mismatches").asInt()).as(check.toString()).isZero();
        }
        // the gap is the jacobi-cllm row's accuracy minus ar's, from the question-by-question counts
        JsonNode gap = o.get("cllm_accuracy_gap");
        assertThat(gap.get("points").asDouble()).isCloseTo(100 * (rows.get(2).get("exec_accuracy").asDouble()
                - rows.get(0).get("exec_accuracy").asDouble()), within(1e-9));
        assertThat(gap.get("points").asDouble()).isCloseTo(100.0 * (gap.get("cllm_only_right").asInt()
                - gap.get("base_only_right").asInt()) / 5, within(1e-9));
        assertThat(gap.get("ci95_half_width").asDouble()).isNotNegative();
        assertThat(gap.get("templates").asInt()).as("SQL patterns among 5 questions").isBetween(2, 5);
        assertThat(gap.get("ci95_half_width_by_template").asDouble()).isNotNegative();
        // the per-template accuracies add up to the rows' (ar for the base model, jacobi-cllm for the CLLM)
        JsonNode byTemplate = o.get("by_template");
        assertThat(byTemplate).hasSize(gap.get("templates").asInt());
        double questions = 0;
        double base = 0;
        double cllm = 0;
        for (JsonNode t : byTemplate) {
            int n = t.get("questions").asInt();
            questions += n;
            base += n * t.get("base_exec_accuracy").asDouble();
            cllm += n * t.get("cllm_exec_accuracy").asDouble();
        }
        assertThat(questions).isEqualTo(5);
        assertThat(base / 5).isCloseTo(rows.get(0).get("exec_accuracy").asDouble(), within(1e-9));
        assertThat(cllm / 5).isCloseTo(rows.get(2).get("exec_accuracy").asDouble(), within(1e-9));
        assertThat(rows.get(3).get("accepted_by_source").fieldNames()).toIterable()
                .contains("jacobi", "pool", "prompt", "recycled");
        JsonNode ar = rows.get(0);
        JsonNode jacobiBase = rows.get(1);
        assertThat(ar.get("tokens_per_pass").asDouble()).isEqualTo(1.0);
        assertThat(ar.get("speedup").asDouble()).isEqualTo(1.0);
        assertThat(jacobiBase.get("tokens_per_pass").asDouble()).isGreaterThanOrEqualTo(1.0).isLessThanOrEqualTo(4.0);
        assertThat(jacobiBase.get("exec_accuracy").asDouble()).isEqualTo(ar.get("exec_accuracy").asDouble());
        assertThat(jacobiBase.get("exact_match").asDouble()).isEqualTo(ar.get("exact_match").asDouble());
        assertThat(jacobiBase.get("speedup").asDouble()).isCloseTo(jacobiBase.get("tokens_per_s").asDouble()
                / ar.get("tokens_per_s").asDouble(), within(1e-9));
    }

    @Test
    void humanOutputShowsTheTableTheTrajectoriesAndWritesTheHtmlPage() throws Exception {
        Path html = dir.resolve("out").resolve("demo.html");
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "3",
                "--block-size", "4", "--max-new-tokens", "8", "--warmup", "0", "--repeats", "2", "--show", "2",
                "--html", html.toString());
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("exec acc", "tokens/pass", "latency speedup", "lossless: jacobi-base output",
                "Jacobi trajectories of question 2", "jacobi-base (base model, block size 4)",
                "jacobi-cllm (CLLM, block size 4)", "    pass  1  +1  [", "HTML: " + html.toAbsolutePath())
                .doesNotContain("\u001B[");
        assertThat(html).exists();
        String page = Files.readString(html);
        assertThat(page).startsWith("<!DOCTYPE html>").contains("<td class=\"ok\">", "jacobi-cllm")
                .doesNotContain("<script", "src=", "href=");
    }

    @Test
    void byDefaultTheShownOutputsAreMarkedAgainstTheGoldAnswerOnTheTerminalAndThePage() throws Exception {
        Path html = dir.resolve("default-show.html");
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions",
                "4", "--block-size", "4", "--max-new-tokens", "8", "--warmup", "0", "--repeats", "1", "--html",
                html.toString());
        assertThat(r.status()).as(r.err()).isZero();
        // random weights answer every question wrong: no right answer to show, so one question, the wrong answer
        // with the most tokens per pass, with its gold answer and both decoders' outputs marked wrong
        List<String> shown = r.out().lines().filter(l -> l.startsWith("Jacobi trajectories of question ")).toList();
        assertThat(shown).hasSize(1);
        assertThat(r.out().lines().filter(l -> l.startsWith("  gold: "))).hasSize(1);
        assertThat(r.out().lines().filter(l -> l.startsWith("  output: "))).hasSize(2)
                .allMatch(l -> l.endsWith("   (WRONG)"));
        String page = Files.readString(html);
        assertThat(page.split("<h2>Jacobi trajectories of question ", -1)).hasSize(2);
        assertThat(page.split("<span class=\"wrong\">wrong</span>", -1)).hasSize(3);
        assertThat(page).doesNotContain("<span class=\"right\">");
    }

    @Test
    void aShownQuestionOutsideTheDecodedOnesIsBadInput() {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "3",
                "--show", "4");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("error: --show 4: only 3 questions are decoded\n");
        r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--show", "0");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--show must be >= 1 (questions are numbered from 1), got 0").hasLineCount(1);
    }

    @Test
    void theMathTaskScoresFinalAnswersOnTheShippedPair() throws Exception {
        Path mathBase = RepositoryModels.checkpoint("math-base");
        Path mathCllm = RepositoryModels.checkpoint("math-cllm");
        CliRunner.Run r = CliRunner.run("demo", "--task", "math", "--base", mathBase.toString(), "--cllm",
                mathCllm.toString(), "--questions", "3", "--block-size", "16", "--warmup", "0", "--repeats", "1",
                "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("questions").asInt()).isEqualTo(3);
        JsonNode rows = o.get("rows");
        assertThat(rows).hasSize(5);
        for (JsonNode row : rows) {
            // the math rows carry final-answer accuracy where the SQL rows carry execution accuracy
            assertThat(fields(row)).startsWith("decoder", "accuracy", "exact_match", "tokens_per_pass")
                    .doesNotContain("exec_accuracy");
        }
        JsonNode ar = rows.get(0);
        assertThat(rows.get(1).get("accuracy").asDouble()).isEqualTo(ar.get("accuracy").asDouble());
        // the shipped base model solves at least one of the first three held-out problems
        assertThat(ar.get("accuracy").asDouble()).isGreaterThan(0.0);
        // long answers in blocks of 16: the shipped CLLM fast-forwards well past one token per pass
        assertThat(rows.get(2).get("tokens_per_pass").asDouble()).isGreaterThan(2.0);
        for (JsonNode c : o.get("lossless_checks")) {
            assertThat(c.get("mismatches").asInt()).as(c.toString()).isZero();
        }
        // the shipped CLLM solves these three problems, so the view shows one it answers right, marked right
        assertThat(rows.get(2).get("accuracy").asDouble()).isEqualTo(1.0);
        Path html = dir.resolve("math.html");
        CliRunner.Run human = CliRunner.run("demo", "--task", "math", "--base", mathBase.toString(), "--cllm",
                mathCllm.toString(), "--questions", "3", "--block-size", "16", "--warmup", "0", "--repeats", "1",
                "--html", html.toString());
        assertThat(human.status()).as(human.err()).isZero();
        assertThat(human.out().lines().filter(l -> l.startsWith("Jacobi trajectories of question "))).hasSize(1);
        List<String> outputs = human.out().lines().filter(l -> l.startsWith("  output: ")).toList();
        assertThat(outputs).hasSize(2);
        assertThat(outputs.get(1)).endsWith("   (right)");
        assertThat(Files.readString(html)).contains("<span class=\"right\">right</span>");
    }

    @Test
    void theRunningWindowRowGivesJacobiCllmsOutputWithFullPasses() throws Exception {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "4",
                "--block-size", "4", "--max-new-tokens", "12", "--warmup", "0", "--running", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        List<String> names = new ArrayList<>();
        o.get("rows").forEach(row -> names.add(row.get("decoder").asText()));
        assertThat(names).containsExactly("ar", "jacobi-base", "jacobi-cllm", "lookahead-base", "lookahead-cllm",
                "running-cllm");
        JsonNode running = o.get("rows").get(5);
        JsonNode jacobiCllm = o.get("rows").get(2);
        // lossless: the CLLM's own greedy output, so the same accuracy as plain Jacobi on it
        assertThat(running.get("exec_accuracy").asDouble()).isEqualTo(jacobiCllm.get("exec_accuracy").asDouble());
        assertThat(running.get("exact_match").asDouble()).isEqualTo(jacobiCllm.get("exact_match").asDouble());
        assertThat(running.get("tokens_per_pass").asDouble()).isBetween(1.0, 4.0);
        // every pass runs the whole window (the root and n - 1 guesses) where the output has room for it; a block's
        // later passes run only its unconverged tail
        assertThat(running.get("tokens_per_decoding_pass_run").asDouble()).isLessThanOrEqualTo(4.0)
                .isGreaterThan(jacobiCllm.get("tokens_per_decoding_pass_run").asDouble());
        List<String> checked = new ArrayList<>();
        for (JsonNode c : o.get("lossless_checks")) {
            assertThat(c.get("mismatches").asInt()).as(c.toString()).isZero();
            checked.add(c.get("decoder").asText() + "=" + c.get("reference").asText());
        }
        assertThat(checked).contains("running-cllm=jacobi-cllm");
        CliRunner.Run human = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions",
                "2", "--block-size", "4", "--max-new-tokens", "8", "--warmup", "0", "--running", "--html",
                dir.resolve("running.html").toString());
        assertThat(human.status()).as(human.err()).isZero();
        assertThat(human.out()).contains("running-cllm = Jacobi iteration on the CLLM over a running window of 4");
    }

    @Test
    void sampledRowsReproduceSampledArWithTheSameSeed() throws Exception {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "4",
                "--block-size", "4", "--max-new-tokens", "12", "--warmup", "0", "--sample", "1.5", "--seed", "7",
                "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = new ObjectMapper().readTree(r.out());
        List<String> names = new ArrayList<>();
        o.get("rows").forEach(row -> names.add(row.get("decoder").asText()));
        assertThat(names).contains("ar", "ar-sampled", "jacobi-base-sampled", "jacobi-cllm-sampled",
                "lookahead-base-sampled", "lookahead-cllm-sampled");
        assertThat(o.get("sampling").asText()).isEqualTo("temperature 1.5, top-k 50, seed 7");
        List<String> checked = new ArrayList<>();
        for (JsonNode c : o.get("lossless_checks")) {
            assertThat(c.get("mismatches").asInt()).as(c.toString()).isZero();
            checked.add(c.get("decoder").asText() + "=" + c.get("reference").asText());
        }
        assertThat(checked).contains("jacobi-base-sampled=ar-sampled", "lookahead-base-sampled=ar-sampled",
                "lookahead-cllm-sampled=jacobi-cllm-sampled");
        CliRunner.Run bad = CliRunner.run("demo", "--sample", "0");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("--sample must be a temperature > 0, got 0.0").hasLineCount(1);
    }

    @Test
    void validationQuestionsReplaceTheHeldOutOnesOnRequest() throws Exception {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--validation",
                "7", "--block-size", "4", "--max-new-tokens", "6", "--warmup", "0", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("questions").asInt()).isEqualTo(7);
        assertThat(o.get("task").asText()).contains("7 validation questions in place of the held-out ones");
        CliRunner.Run tooMany = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(),
                "--validation", "3", "--questions", "4", "--json");
        assertThat(tooMany.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(tooMany.err()).contains("--questions 4: the task has only 3 validation questions");
        CliRunner.Run none = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(),
                "--validation", "0");
        assertThat(none.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(none.err()).contains("--validation must be >= 1, got 0");
    }

    @Test
    void aMissingModelDirectoryIsBadInputNamingIt() {
        Path missing = dir.resolve("no-such-model");
        CliRunner.Run r = CliRunner.run("demo", "--base", missing.toString(), "--cllm", cllm.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--base " + missing + ": no such directory").hasLineCount(1);

        r = CliRunner.run("demo", "--base", base.toString(), "--cllm", missing.toString());
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--cllm " + missing + ": no such directory");
    }

    @Test
    void theDefaultModelsLiveUnderTheRepositoryRoot() {
        String old = System.getProperty("cllm.home");
        System.setProperty("cllm.home", dir.toString());
        try {
            CliRunner.Run r = CliRunner.run("demo");
            assertThat(r.status()).isEqualTo(2);
            assertThat(r.err()).contains(dir.resolve("models").resolve("sql-base") + ": no such directory",
                    "pass --base DIR");
        } finally {
            if (old == null) {
                System.clearProperty("cllm.home");
            } else {
                System.setProperty("cllm.home", old);
            }
        }
    }

    @Test
    void int8WeightsKeepJacobiLosslessAndSaySo() throws Exception {
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions", "3",
                "--block-size", "4", "--max-new-tokens", "12", "--warmup", "0", "--weights", "int8", "--json");
        assertThat(r.status()).as(r.err()).isZero();
        JsonNode o = JSON.readTree(r.out());
        assertThat(o.get("machine").get("device").asText()).endsWith(", int8 weights");
        assertThat(o.get("jacobi_base_mismatches").asInt()).isZero();
        for (JsonNode c : o.get("lossless_checks")) {
            assertThat(c.get("mismatches").asInt()).as(c.toString()).isZero();
        }
        CliRunner.Run bad = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--weights",
                "int4");
        assertThat(bad.status()).isEqualTo(2);
        assertThat(bad.err()).contains("--weights: unknown weight format 'int4' (auto, f32, f16, f16-only, int8)");
    }

    @Test
    void badOptionsAreBadInput() {
        assertThat(CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--block-size", "1")
                .err()).contains("--block-size must be >= 2");
        CliRunner.Run r = CliRunner.run("demo", "--base", base.toString(), "--cllm", cllm.toString(), "--questions",
                "13");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--questions 13: the task has only 12 held-out questions");
    }
}
