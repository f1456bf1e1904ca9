package dev.cllm.torch;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.StreamingDetokenizer;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Tokenizer;
import dev.cllm.torch.fixtures.ChildJvm;
import dev.cllm.torch.fixtures.RepositoryModels;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A normal load and generation writes nothing to the process's stderr but logger lines: libtorch's one-time FBGEMM
 * deprecation notices (a bf16 checkpoint runs the FBGEMM fp16 kernel) and DJL's GPU probe are kept off it. Measured on
 * a child JVM's real stderr, where native code prints too.
 */
class QuietStderrTest {
    /** slf4j-simple's format, the test class path's logger: {@code [thread] LEVEL logger - message}. */
    private static final Pattern LOGGER_LINE = Pattern.compile("^\\[[^\\]]+\\] (TRACE|DEBUG|INFO|WARN|ERROR) \\S+ - .*");

    @Test
    void loadingABf16CheckpointAndGeneratingTextPrintsOnlyLoggerLines() {
        Path cllm = RepositoryModels.checkpoint("sql-cllm");
        Path base = RepositoryModels.checkpoint("sql-base");
        ChildJvm.Result r = ChildJvm.run(LoadAndGenerate.class, List.of(), 180, cllm.toString(), base.toString());
        assertThat(r.exitCode()).as("exit code; stderr:%n%s", r.stderr()).isZero();
        assertThat(r.stdout()).as("the child ran the FBGEMM kernel and produced text").contains("gemm FBGEMM_FP16")
                .contains("text ");
        assertThat(r.stderrLines()).as("the child's stderr").isNotEmpty()
                .allSatisfy(line -> assertThat(line).matches(LOGGER_LINE))
                .noneMatch(line -> line.contains("Failed to detect GPU count"))
                .noneMatch(line -> line.contains("deprecated"));
        assertThat(r.stderrLines()).filteredOn(line -> line.contains("WARN")).isEmpty();
    }

    /** The child: loads each checkpoint with the defaults and greedily generates 40 tokens from a text prompt. */
    public static final class LoadAndGenerate {
        public static void main(String[] args) {
            for (String dir : args) {
                try (TorchConsistencyModel model = TorchConsistencyModel.load(Path.of(dir))) {
                    Tokenizer tokenizer = model.tokenizer().orElseThrow();
                    StringBuilder text = new StringBuilder();
                    StreamingDetokenizer stream = new StreamingDetokenizer(tokenizer, text::append);
                    try (DecodingSession session = model.newSession(128)) {
                        int next = session.prefill(tokenizer.encode("how many singers do we have ?"));
                        for (int i = 0; i < 40; i++) {
                            stream.onTokens(TokenIds.of(next));
                            next = session.forward(new int[]{next})[0];
                            session.commit(1);
                        }
                    }
                    stream.flush();
                    System.out.println("gemm " + model.llama().gemm());
                    System.out.println("text " + text);
                }
            }
        }
    }
}
