package dev.cllm.cli;

import dev.cllm.cli.CliRunner.Run;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static dev.cllm.cli.CliRunner.run;
import static org.assertj.core.api.Assertions.assertThat;

/** {@code --weights}: int8 weights from the command line, and a clear error for a format that does not exist. */
class GenerateWeightsTest {
    private static final String PROMPT = String.join(",",
            Arrays.stream(Stories260K.greedyCases().get(0).promptIds()).mapToObj(Integer::toString).toList());

    @Test
    void jacobiDecodingOnInt8WeightsGivesTheInt8ModelsGreedyOutput() {
        Run ar = generate("--weights", "int8", "--decoder", "ar");
        Run jacobi = generate("--weights", "int8", "--decoder", "jacobi", "--block-size", "8");
        Run f32 = generate("--weights", "f32", "--decoder", "ar");
        assertThat(ar.status()).as(ar.err()).isZero();
        assertThat(jacobi.status()).as(jacobi.err()).isZero();
        assertThat(f32.status()).as(f32.err()).isZero();
        String arIds = ar.out().lines().findFirst().orElseThrow();
        assertThat(jacobi.out().lines().findFirst().orElseThrow()).isEqualTo(arIds);
        assertThat(arIds).startsWith("ids: [");
        assertThat(f32.out().lines().findFirst().orElseThrow().strip())
                .isEqualTo("ids: " + Arrays.toString(Arrays.copyOf(Stories260K.greedyCases().get(0).greedyIds(), 40)));
    }

    @Test
    void anUnknownWeightFormatIsABadInputNamingTheChoices() {
        Run r = generate("--weights", "int4");
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("unknown weight format 'int4' (auto, f32, f16, f16-only, int8)");
    }

    @Test
    void int8WeightsWithBf16ComputeAreRefused() {
        Run r = generate("--weights", "int8", "--dtype", "bf16", "--device", "cpu");
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("int8 weights").contains("fp32 compute on the CPU");
    }

    @Test
    void benchWeightsRefusesAnUnknownFormatBeforeMeasuring() {
        Run r = run("bench-weights", "stories260K", "--weights", "f32,int3", "--rounds", "1");
        assertThat(r.status()).isEqualTo(Cli.BAD_INPUT);
        assertThat(r.err()).contains("unknown weight format 'int3'");
    }

    private static Run generate(String... extra) {
        String[] base = {"generate", "--model", Stories260K.dir().toString(), "--prompt-ids", PROMPT,
                "--max-new-tokens", "40", "--no-stop"};
        String[] args = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, args, base.length, extra.length);
        return run(args);
    }
}
