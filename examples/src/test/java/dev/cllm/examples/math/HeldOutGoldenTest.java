package dev.cllm.examples.math;

import dev.cllm.examples.math.MathExample.Split;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The held-out problems of two configs, pinned by hash: what the demo and every recorded accuracy were measured on
 * must not move when the generator gains something (validation problems did; the hashes are from before them).
 */
class HeldOutGoldenTest {
    static String hash(MathTask task) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (MathExample e : task.examples(Split.HELD_OUT)) {
            sha.update((MathTask.prompt(e) + "\t" + MathTask.answer(e) + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    @Test
    void heldOutProblemsAreThoseOfBeforeValidationProblems() throws Exception {
        assertThat(hash(MathTask.generate(new MathTaskConfig(7, 1500, 60))))
                .isEqualTo("b288d62132c9dff142e5706591b4f5532c68d06b6c2941ad7ca8617e2f4fc31b");
        // the shipped models' task (models/*/..-task.json)
        assertThat(hash(MathTask.generate(new MathTaskConfig(0, 16000, 200))))
                .isEqualTo("c64188be0f2ab690d5b07583f4d3ccb535f3c7672c8852532a3bb953f4ff5240");
    }
}
