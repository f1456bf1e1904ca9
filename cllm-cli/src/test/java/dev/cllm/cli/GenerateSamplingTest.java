package dev.cllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cllm.torch.fixtures.RepositoryModels;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** {@code ./cllm generate} with sampling options, stop strings, the lookahead decoder and chat input. */
class GenerateSamplingTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static JsonNode json(CliRunner.Run r) throws Exception {
        assertThat(r.status()).as(r.err()).isZero();
        return JSON.readTree(r.out());
    }

    @Test
    void theSameSeedGivesTheSameTokensUnderEveryDecoder() throws Exception {
        String model = Stories260K.dir().toString();
        String prompt = "1,404,475,464,454,275";
        JsonNode ar = json(CliRunner.run("generate", "--model", model, "--prompt-ids", prompt, "--max-new-tokens",
                "48", "--no-stop", "--temperature", "0.8", "--top-k", "0", "--seed", "17", "--json"));
        assertThat(ar.get("seed").asLong()).isEqualTo(17);
        for (String decoder : new String[]{"jacobi", "lookahead"}) {
            JsonNode other = json(CliRunner.run("generate", "--model", model, "--prompt-ids", prompt,
                    "--max-new-tokens", "48", "--no-stop", "--temperature", "0.8", "--top-k", "0", "--seed", "17",
                    "--decoder", decoder, "--block-size", "8", "--json"));
            assertThat(other.get("ids")).as(decoder).isEqualTo(ar.get("ids"));
        }
        JsonNode greedy = json(CliRunner.run("generate", "--model", model, "--prompt-ids", prompt,
                "--max-new-tokens", "48", "--no-stop", "--json"));
        assertThat(greedy.get("ids")).isNotEqualTo(ar.get("ids"));
        assertThat(greedy.has("seed")).isFalse();
        JsonNode lookahead = json(CliRunner.run("generate", "--model", model, "--prompt-ids", prompt,
                "--max-new-tokens", "48", "--no-stop", "--decoder", "lookahead", "--json"));
        assertThat(lookahead.get("ids")).isEqualTo(greedy.get("ids"));
        assertThat(lookahead.get("accepted_by_source").fieldNames()).toIterable()
                .containsExactly("jacobi", "pool", "prompt", "recycled");
    }

    @Test
    void aStopStringEndsTheTextAndIsNamed() throws Exception {
        Path model = findModels().resolve("sql-cllm");
        JsonNode full = json(CliRunner.run("generate", "--model", model.toString(), "--prompt",
                "schema : director ( id , name , age , city ) question : how many directors are there ? sql :",
                "--max-new-tokens", "20", "--json"));
        String text = full.get("text").asText();
        assertThat(text).contains(" FROM ");
        JsonNode cut = json(CliRunner.run("generate", "--model", model.toString(), "--prompt",
                "schema : director ( id , name , age , city ) question : how many directors are there ? sql :",
                "--max-new-tokens", "20", "--stop", " FROM", "--json"));
        assertThat(cut.get("text").asText()).isEqualTo(text.substring(0, text.indexOf(" FROM")));
        assertThat(cut.get("stop_reason").asText()).isEqualTo("stop_string");
        assertThat(cut.get("stop_string").asText()).isEqualTo(" FROM");
    }

    @Test
    void chatNeedsATemplateAndSaysSo(@TempDir Path dir) throws Exception {
        Path chat = dir.resolve("chat.json");
        Files.writeString(chat, "[{\"role\": \"user\", \"content\": \"hello\"}]");
        CliRunner.Run r = CliRunner.run("generate", "--model", findModels().resolve("sql-cllm").toString(), "--chat",
                chat.toString());
        assertThat(r.status()).isNotZero();
        assertThat(r.err()).contains("chat_template");
        r = CliRunner.run("generate", "--model", findModels().resolve("sql-cllm").toString(), "--system", "x",
                "--prompt", "y");
        assertThat(r.status()).isEqualTo(2);
        assertThat(r.err()).contains("--system goes with --user");
    }

    /** The repository's models folder (tests run in the module directory). */
    private static Path findModels() {
        return RepositoryModels.require("sql-cllm").getParent();
    }
}
