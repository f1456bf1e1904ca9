package dev.cllm.bench;

import dev.cllm.api.TokenIds;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** A model directory may bring its own benchmark prompts. */
class PromptsTest {
    @TempDir
    Path dir;

    @Test
    void aPromptsFileInTheModelDirectoryWins() throws Exception {
        Path stories = BenchModels.directory(BenchModels.STORIES_260K).orElseThrow();
        try (Stream<Path> files = Files.list(stories)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) {
                Files.copy(f, dir.resolve(f.getFileName()));
            }
        }
        String model = "dir:" + dir;
        assertThat(Prompts.describe(model)).isEqualTo("pseudo-text");
        Files.writeString(dir.resolve(BenchModels.PROMPTS_FILE),
                "{\"prompt_ids\": [1, 404, 475]}\n\n{\"prompt_ids\": [1, 385], \"answer_ids\": [453]}\n");
        assertThat(Prompts.describe(model)).isEqualTo(BenchModels.PROMPTS_FILE);
        assertThat(BenchModels.missing(model)).isEmpty();
        try (TorchConsistencyModel loaded = TorchConsistencyModel.load(dir, TorchOptions.defaults()
                .withDevice("cpu"))) {
            assertThat(Prompts.forModel(model, loaded)).containsExactly(TokenIds.of(1, 404, 475), TokenIds.of(1, 385));
            assertThat(Prompts.forModel(BenchModels.STORIES_260K, loaded)).hasSize(6);
        }
        assertThat(Prompts.describe(BenchModels.STORIES_260K)).isEqualTo("stories260K reference prompts");
    }
}
