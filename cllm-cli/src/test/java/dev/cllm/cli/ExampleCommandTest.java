package dev.cllm.cli;

import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@code ./cllm example}: its listing, its errors, and running an example with arguments. */
class ExampleCommandTest {

    @Test
    void withoutArgumentsListsTheExamplesWithNumberClassAndDescription() {
        CliRunner.Run r = CliRunner.run("example");

        assertThat(r.status()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        assertThat(lines).anyMatch(l -> l.matches("\\s+01\\s+load-and-generate\\s+Example01LoadAndGenerate\\s+.*"))
                .anyMatch(l -> l.matches("\\s+02\\s+jacobi-streaming\\s+Example02JacobiStreaming\\s+.*"))
                .anyMatch(l -> l.matches("\\s+03\\s+collect-trajectories\\s+Example03CollectTrajectories\\s+.*"))
                .anyMatch(l -> l.matches("\\s+04\\s+train-cllm\\s+Example04TrainCllm\\s+.*"))
                .anyMatch(l -> l.contains("Jacobi decoding (n = 16) streamed chunk by chunk"));
        // the pipeline is a command (./cllm pipeline), not an SDK example
        assertThat(r.out()).doesNotContain("Example05Pipeline");
        assertThat(r.out().indexOf("01  ")).isLessThan(r.out().indexOf("02  "));
    }

    @Test
    void theTableNamesEveryGuideExampleInOrder() {
        assertThat(ExampleCommand.EXAMPLES).extracting(ExampleCommand.Entry::number)
                .containsExactly("01", "02", "03", "04");
        assertThat(ExampleCommand.available()).extracting(ExampleCommand.Entry::number)
                .startsWith("01", "02", "03", "04");
    }

    @Test
    void findsAnExampleByNumberNameOrClass() {
        for (String key : List.of("01", "1", "load-and-generate", "Example01LoadAndGenerate",
                "dev.cllm.examples.guide.Example01LoadAndGenerate")) {
            assertThat(ExampleCommand.find(key).number()).as(key).isEqualTo("01");
        }
        assertThat(ExampleCommand.find("4").name()).isEqualTo("train-cllm");
    }

    @Test
    void rejectsAnUnknownExampleWithOneLineNamingTheChoices() {
        CliRunner.Run r = CliRunner.run("example", "99");

        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.out()).isEmpty();
        assertThat(r.err().lines().filter(l -> l.startsWith("error:")).toList()).singleElement().asString()
                .contains("unknown example '99'").contains("01 (load-and-generate)").contains("04 (train-cllm)")
                .contains("./cllm example lists them");
    }

    @Test
    void anExampleWhoseClassIsAbsentIsNeitherListedNorRunnable() {
        List<ExampleCommand.Entry> table = List.of(ExampleCommand.EXAMPLES.get(0),
                new ExampleCommand.Entry("07", "future", "dev.cllm.examples.guide.Example07NotWrittenYet", "",
                        "not written yet"));

        assertThat(ExampleCommand.available(table)).extracting(ExampleCommand.Entry::number).containsExactly("01");
        assertThat(ExampleCommand.find("1", table).name()).isEqualTo("load-and-generate");
        assertThatThrownBy(() -> ExampleCommand.find("07", table)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("example 07 (future) is not in this build: dev.cllm.examples.guide.Example07NotWrittenYet "
                        + "is not on the class path");
        assertThatThrownBy(() -> ExampleCommand.find("08", table)).isInstanceOf(IllegalArgumentException.class)
                .hasMessage("unknown example '08'; choose one of 01 (load-and-generate); ./cllm example lists them");
    }

    @Test
    void runsTheChosenExampleWithTheRemainingArguments() {
        String model = Stories260K.dir().toString();
        CliRunner.Run r = CliRunner.run("example", "01", model);

        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("prompt ids (this model has no tokenizer): [1, 404, 475, 464, 454, 275]")
                .contains("ar: 64 tokens in 64 forward passes");
    }

    @Test
    void anExamplesBadArgumentsExitWithStatus2() {
        CliRunner.Run tooMany = CliRunner.run("example", "load-and-generate", "a", "b", "c");
        assertThat(tooMany.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(tooMany.err()).contains("usage: Example01LoadAndGenerate [MODEL_DIR [PROMPT]]");

        CliRunner.Run notANumber = CliRunner.run("example", "02", "-", "many");
        assertThat(notANumber.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(notANumber.err()).contains("CANCEL_AFTER must be a whole number, got 'many'");
    }
}
