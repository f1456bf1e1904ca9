package dev.cllm.examples.guide;

import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.torch.fixtures.Stories260K;
import dev.cllm.data.RepetitionFilter.Verdict;
import dev.cllm.data.TrajectoryReader;
import dev.cllm.data.TrajectoryRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class Example03CollectTrajectoriesTest {
    private static final int N = Example03CollectTrajectories.BLOCK_SIZE;

    @TempDir
    Path dir;

    @Test
    void writesTheKeptTrajectoriesWhoseFixedPointsAreTheGreedyOutput() throws Exception {
        Output out = new Output();

        Example03CollectTrajectories.Result r = Example03CollectTrajectories.run(Stories260K.dir(), dir, out.stream);

        Path file = dir.resolve("trajectories.jsonl");
        assertThat(r.file()).isEqualTo(file);
        // 5 prompts x 4 blocks of 16 (no EOS within 64 tokens for these prompts)
        assertThat(r.collected()).isEqualTo(Example03CollectTrajectories.PROMPTS.size() * 4);
        assertThat(r.verdicts().values().stream().mapToInt(Integer::intValue).sum()).isEqualTo(r.collected());
        assertThat(r.verdicts().get(Verdict.TOKEN_RUN) + r.verdicts().get(Verdict.REPEATED_NGRAM)).isPositive();
        assertThat(r.written()).isEqualTo(r.verdicts().get(Verdict.KEEP)).isPositive();
        assertThat(Files.readAllLines(file)).hasSize(r.written());

        List<TrajectoryRecord> records = TrajectoryReader.readAll(file);
        List<Stories260K.GreedyCase> reference = Stories260K.greedyCases();
        int checked = 0;
        for (TrajectoryRecord record : records) {
            Trajectory t = record.trajectory();
            assertThat(t.blockSize()).isEqualTo(N);
            assertThat(t.states().size()).isBetween(2, N);
            assertThat(t.states()).doesNotHaveDuplicates();
            // the context is the prompt plus the fixed points of the earlier blocks
            TokenIds prompt = Example03CollectTrajectories.PROMPTS.get((int) t.promptIndex());
            assertThat(record.prompt()).isEqualTo(prompt);
            assertThat(t.context().size()).isEqualTo(prompt.size() + N * t.block());
            // the fixed point is the greedy continuation: llama2.c's reference output, as far as it goes
            int[] greedy = reference.get((int) t.promptIndex()).greedyIds();
            assertThat(reference.get((int) t.promptIndex()).promptIds()).containsExactly(prompt.toArray());
            int from = N * t.block();
            if (from + N <= greedy.length) {
                assertThat(t.fixedPoint()).isEqualTo(TokenIds.copyOf(greedy, from, from + N));
                assertThat(t.context()).isEqualTo(prompt.concat(TokenIds.copyOf(greedy, 0, from)));
                checked++;
            }
        }
        assertThat(checked).isGreaterThanOrEqualTo(records.size() / 2);

        assertThat(out.text())
                .contains("prompt 0 [1, 404, 475, 464, 454, 275]: 4 blocks")
                .contains("  block 0: context   6 tokens, ")
                .contains("fixed point " + TokenIds.copyOf(reference.get(0).greedyIds(), 0, N))
                .contains("dropped: TOKEN_RUN")
                .contains("collected " + r.collected() + " trajectories: kept " + r.written())
                .contains("wrote " + file + ": " + r.written() + " records")
                .contains("first line: {\"format_version\":1,\"prompt_index\":0,\"block\":0,");
    }

    @Test
    void mainWritesIntoTheGivenDirectoryAndRewritesOnRerun() throws Exception {
        Path out = dir.resolve("new").resolve("dir");
        String[] args = {out.toString(), Stories260K.dir().toString()};
        Example03CollectTrajectories.main(args);
        byte[] first = Files.readAllBytes(out.resolve("trajectories.jsonl"));
        Example03CollectTrajectories.main(args);
        assertThat(Files.readAllBytes(out.resolve("trajectories.jsonl"))).isEqualTo(first);
    }
}
