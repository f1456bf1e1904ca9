package dev.cllm.examples.sql;

import dev.cllm.examples.sql.SqlExample.Split;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The held-out questions of two configs, pinned by hash: what the demo and every recorded accuracy were measured on
 * must not move when the generator gains something (validation questions did; the hashes are from before them).
 */
class HeldOutGoldenTest {
    static String hash(SqlTask task) throws Exception {
        MessageDigest sha = MessageDigest.getInstance("SHA-256");
        for (SqlExample e : task.examples(Split.HELD_OUT)) {
            sha.update((task.prompt(e) + "\t" + e.sql() + "\n").getBytes(StandardCharsets.UTF_8));
        }
        return HexFormat.of().formatHex(sha.digest());
    }

    @Test
    void heldOutQuestionsAreThoseOfBeforeValidationQuestions() throws Exception {
        assertThat(hash(SqlTask.generate(new SqlTaskConfig(7, 1500, 60, 6))))
                .isEqualTo("b3cb9a6be65e32654dedf51c04daa2c3dc583dde69053e7960c66ff54f14a07b");
        // the shipped models' task (models/*/..-task.json)
        assertThat(hash(SqlTask.generate(new SqlTaskConfig(0, 16000, 200, 8))))
                .isEqualTo("40b6610748322c857d9216f214cdd8ea9749b5e5ce67431800ffbc21948c6c02");
    }
}
