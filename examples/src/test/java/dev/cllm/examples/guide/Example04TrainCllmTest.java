package dev.cllm.examples.guide;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class Example04TrainCllmTest {

    @TempDir
    Path dir;

    @Test
    void trainsThreeStepsOnExample03sTrajectoriesAndComparesBeforeAndAfter() {
        Path model = Stories260K.dir();
        Example03CollectTrajectories.Result data = Example03CollectTrajectories.run(model, dir.resolve("data"),
                new Output().stream);
        Output out = new Output();

        Example04TrainCllm.Result r = Example04TrainCllm.run(model, dir.resolve("out"), 3, data.file(), out.stream);

        assertThat(r.trajectories()).isEqualTo(data.file());
        assertThat(r.records()).isEqualTo(data.written());
        assertThat(r.summary().steps()).isEqualTo(3);
        assertThat(r.summary().examples()).isEqualTo(3 * 4);
        assertThat(r.summary().finalLoss()).isFinite().isPositive();
        assertThat(r.checkpoint()).isEqualTo(dir.resolve("out").resolve("cllm"));
        assertThat(r.checkpoint().resolve("config.json")).isRegularFile();
        assertThat(r.checkpoint().resolve("model.safetensors")).isRegularFile();
        assertThat(dir.resolve("out").resolve("cllm.metrics.jsonl")).isRegularFile();
        assertThat(dir.resolve("out").resolve("trajectories.jsonl")).doesNotExist();   // the given data was used
        for (var metrics : java.util.List.of(r.before(), r.after())) {
            // Jacobi decoding never takes more passes than AR: at least one token per pass
            assertThat(metrics.get("tokens_per_pass")).isBetween(1.0, 16.0);
            assertThat(metrics.get("ar_agreement")).isBetween(0.0, 1.0);
        }
        try (ConsistencyModel trained = TorchConsistencyModel.load(r.checkpoint())) {
            assertThat(trained.config().parameterCount()).isEqualTo(260_032);
        }
        assertThat(out.text())
                .contains("training data: " + data.file() + ", " + data.written() + " records")
                .contains("trained 3 steps in ")
                .contains("tokens_per_pass")
                .contains("checkpoint: " + r.checkpoint());
    }

    @Test
    void rejectsANonPositiveStepCountAndAMissingDataFile() {
        assertThatThrownBy(() -> Example04TrainCllm.run(Path.of("unused"), dir, 0, null, new Output().stream))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("STEPS");
        assertThatThrownBy(() -> Example04TrainCllm.run(Path.of("unused"), dir, 3, dir.resolve("none.jsonl"),
                new Output().stream)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no such file");
    }

    /** The default path: collect in-process, then train (a few steps here; the example's default is 40). */
    @Test
    @Tag("slow")
    void mainCollectsInProcessThenTrains() throws Exception {
        Path out = dir.resolve("out");
        Example04TrainCllm.main(new String[]{out.toString(), "3", "-", Stories260K.dir().toString()});
        assertThat(Files.readAllLines(out.resolve("trajectories.jsonl"))).isNotEmpty();
        assertThat(out.resolve("cllm").resolve("model.safetensors")).isRegularFile();
    }
}
