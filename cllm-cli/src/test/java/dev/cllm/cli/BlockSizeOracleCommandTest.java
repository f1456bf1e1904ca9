package dev.cllm.cli;

import dev.cllm.cli.CliRunner.Run;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm bench-oracle}: a tiny run on the embedded stories260K, and bad input. */
class BlockSizeOracleCommandTest {
    @Test
    void printsTheTableAndTheOracle() {
        Run r = CliRunner.run("bench-oracle", "stories260K", "--n", "1,4", "--repetitions", "1",
                "--max-new-tokens", "4");
        assertThat(r.status()).as(r.err()).isZero();
        assertThat(r.out()).contains("| n | tokens/pass |", "| 1 | ", "| 4 | ", "best fixed block size n = ",
                "per-prompt oracle");
    }

    @Test
    void badInputExitsWithStatus2() {
        assertThat(CliRunner.run("bench-oracle").status()).isEqualTo(Cli.BAD_INPUT);
        Run unknown = CliRunner.run("bench-oracle", "stories1M");
        assertThat(unknown.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(unknown.err()).contains("unknown benchmark model 'stories1M'");
        assertThat(CliRunner.run("bench-oracle", "stories260K", "--n", "0").status()).isEqualTo(Cli.BAD_INPUT);
    }
}
