package dev.cllm.examples.guide;

import dev.cllm.api.StopReason;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.assertj.core.api.Assertions.assertThat;

class Example02JacobiStreamingTest {

    @Test
    void streamsChunksCancelsAndMatchesAutoregressiveDecoding() {
        Stories260K.GreedyCase reference = Stories260K.greedyCases().get(3);
        assertThat(reference.promptIds()).containsExactly(Example02JacobiStreaming.STORIES_PROMPT.toArray());
        Output out = new Output();

        Example02JacobiStreaming.Result r = Example02JacobiStreaming.run(Stories260K.dir(), 48, out.stream);

        // cancelled once 48 tokens arrived; the last chunk may carry it a little past 48
        assertThat(r.jacobi().stopReason()).isEqualTo(StopReason.CANCELLED);
        int delivered = r.jacobi().ids().size();
        assertThat(delivered).isBetween(48, 48 + Example02JacobiStreaming.BLOCK_SIZE - 1);
        assertThat(r.chunkSizes().stream().mapToInt(Integer::intValue).sum()).isEqualTo(delivered);
        // lossless: the same tokens as greedy AR, and as llama2.c's reference as far as it goes
        assertThat(r.jacobi().ids()).isEqualTo(r.ar().ids());
        assertThat(Arrays.copyOf(r.jacobi().ids().toArray(), reference.greedyIds().length))
                .containsExactly(reference.greedyIds());
        // this prompt has repetitive stretches where one pass accepts several tokens
        assertThat(r.chunkSizes()).anyMatch(size -> size > 1);
        assertThat(r.jacobi().stats().fastForwarded()).isEqualTo(delivered - r.chunkSizes().size());
        assertThat(r.jacobi().stats().forwardPasses()).isEqualTo(r.chunkSizes().size()).isLessThan(delivered);
        assertThat(r.ar().stats().forwardPasses()).isEqualTo(delivered);

        String text = out.text();
        String streamed = text.lines().filter(l -> l.startsWith("426 | 264")).findFirst().orElseThrow();
        assertThat(streamed.split(" \\| ")).hasSize(r.chunkSizes().size());
        assertThat(text).contains("stop: CANCELLED after " + delivered + " tokens in "
                        + r.jacobi().stats().forwardPasses() + " forward passes")
                .contains("fast-forwarded: " + r.jacobi().stats().fastForwarded() + " tokens")
                .contains("stationary: " + r.jacobi().stats().stationary() + " tokens")
                .contains("Jacobi output == AR output");
    }

    @Test
    void cancellingAfterOneTokenKeepsOnlyThePrefillsToken() {
        Example02JacobiStreaming.Result r = Example02JacobiStreaming.run(Stories260K.dir(), 1, new Output().stream);

        assertThat(r.jacobi().stopReason()).isEqualTo(StopReason.CANCELLED);
        assertThat(r.chunkSizes()).containsExactly(1);
        assertThat(r.jacobi().ids()).isEqualTo(r.ar().ids());
        assertThat(r.jacobi().ids().toArray()).containsExactly(Stories260K.greedyCases().get(3).greedyIds()[0]);
    }
}
