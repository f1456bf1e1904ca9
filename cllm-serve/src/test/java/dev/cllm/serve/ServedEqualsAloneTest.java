package dev.cllm.serve;

import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TokenSelector;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.fixtures.Stories260K;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Lossless serving on a real checkpoint (stories260K): requests submitted together, with different prompts, lengths
 * and decoders (AR, Jacobi, lookahead), are batched into shared steps, and each one's output equals the same request
 * decoded alone with {@link Decoder#generate}, greedy or sampled with the same seed, up to rounding-level near-ties
 * (checked as such, and rare).
 */
class ServedEqualsAloneTest {
    private static TorchConsistencyModel model;

    @BeforeAll
    static void load() {
        model = TorchConsistencyModel.load(Stories260K.dir(), TorchOptions.defaults().withDevice("cpu"));
    }

    @AfterAll
    static void close() {
        if (model != null) {
            model.close();
        }
    }

    /**
     * The decoders requests choose among: the service runs each unchanged. The lookahead decoder runs a fixed number
     * of tokens per pass: by default it sizes its trees by a pass cost it times on the model, so two solo runs may
     * verify different trees.
     *
     * <p>Equality is exact only up to rounding ({@link dev.cllm.api.BatchedForward}): passes of other shapes sum the
     * same logits in another order, so a token whose score is that close to the best, or whose logit is that close
     * to the top-k cut, can come out either way: on another CPU, request 9 of the sampled cases (seed 1009, top_k 50
     * by default) once selected 66 where its solo run selected 196, the 50th largest logit with the 51st 2e-6 below
     * it; the rest was equal. {@link #equalUpToNearTies} accepts such a difference only after checking that it is
     * one. With top_p 0.95, seed 1003 and the prompt {@code 1,20,340,77,403,401}, the 11th
     * sampled token sits that close to the nucleus boundary: AR and lookahead with 16-token trees select 48, lookahead
     * with 8-token trees and the same request served in a batch select 214; the near-tie check does not model the
     * nucleus, so the sampled cases here use temperature and the default top-k alone.
     */
    static final List<Decoder> DECODERS = List.of(
            JacobiDecoder.autoregressive(GenerationConfig.DEFAULT_MAX_NEW_TOKENS),
            JacobiDecoder.builder().blockSize(16).build(),
            JacobiDecoder.builder().blockSize(5).build(),
            LookaheadDecoder.builder().window(6).fixedTreeSize(16).build());

    /** A request with its expected (alone) output. */
    record Case(TokenIds prompt, Decoder decoder, GenerationConfig config) {
        GenerationRequest request(GenerationListener listener) {
            return GenerationRequest.ids(prompt).decoder(decoder).config(config).listener(listener).build();
        }

        Generation alone() {
            return decoder.generate(model, prompt, config, GenerationListener.NONE);
        }
    }

    static List<Case> cases(int count, boolean sample, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        int vocab = model.config().vocabSize();
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            int[] prompt = new int[1 + rng.nextInt(12)];
            prompt[0] = 1;                                             // BOS, as llama2.c's prompts start
            for (int j = 1; j < prompt.length; j++) {
                prompt[j] = 3 + rng.nextInt(vocab - 3);
            }
            GenerationConfig.Builder config = GenerationConfig.builder().maxNewTokens(20 + rng.nextInt(60)).noStop();
            if (sample) {
                config.sampling(0.8).seed(1000L + i);
            }
            out.add(new Case(TokenIds.of(prompt), DECODERS.get(i % DECODERS.size()), config.build()));
        }
        return out;
    }

    @Test
    void greedyRequestsServedTogetherEqualEachAlone() {
        check(cases(12, false, 7));
    }

    @Test
    void sampledRequestsWithASeedEqualEachAlone() {
        check(cases(12, true, 8));
    }

    /** Submits every case at once (released together), then compares each output and stream with its solo run. */
    private static void check(List<Case> cases) {
        ServiceStats stats;
        List<List<Integer>> streamed = new ArrayList<>();
        List<CompletableFuture<Generation>> futures = new ArrayList<>();
        CountDownLatch start = new CountDownLatch(1);
        try (GenerationService service = GenerationService.builder(model).maxActive(8).build()) {
            for (Case c : cases) {
                List<Integer> stream = new ArrayList<>();
                streamed.add(stream);
                futures.add(service.submit(c.request(accepted -> {
                    await(start);                    // hold every request's first delivery until all are submitted
                    accepted.stream().forEach(stream::add);
                    return true;
                })));
            }
            start.countDown();
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).orTimeout(120, TimeUnit.SECONDS).join();
            stats = service.stats();
        }
        int nearTies = 0;
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            Generation served = futures.get(i).join();
            Generation alone = c.alone();
            nearTies += equalUpToNearTies(String.format("request %d (%s, %s)", i, c.decoder().name(), c.prompt()), c,
                    served, alone);
            assertThat(served.stopReason()).as("request %d", i).isEqualTo(alone.stopReason());
            assertThat(served.seed()).as("request %d", i).isEqualTo(alone.seed());
            assertThat(streamed.get(i)).as("request %d: tokens streamed, none lost or repeated", i)
                    .containsExactlyElementsOf(served.ids().stream().boxed().toList());
        }
        assertThat(nearTies).as("outputs that differ from their solo run at a near-tie: rare").isLessThanOrEqualTo(2);
        assertThat(stats.completed()).isEqualTo(cases.size());
        assertThat(stats.meanBatchSize()).as("passes per batched step: requests shared steps").isGreaterThan(1.5);
        assertThat(stats.active()).isZero();
        assertThat(stats.kvBytesInUse()).isZero();
    }

    /**
     * Asserts that the served output equals the solo one except at near-ties, and returns how many there were. At the
     * first difference, {@link #assertNearTie} checks on a one-token pass after the common prefix that either token
     * could be the selection under a rounding of the logits (a score within {@link #ROUNDING} of the best, or a logit
     * at the top-k cut). The rest of the served output must then equal the same decoder run alone from the served
     * prefix (the same seed, so the same noise at every absolute position), and so on.
     */
    private static int equalUpToNearTies(String what, Case c, Generation served, Generation alone) {
        int[] out = served.ids().toArray();
        int[] prompt = c.prompt().toArray();
        int[] solo = alone.ids().toArray();
        int done = 0;
        int ties = 0;
        while (true) {
            assertThat(solo.length).as("%s: length after %d served tokens", what, done).isEqualTo(out.length - done);
            int i = 0;
            while (i < solo.length && solo[i] == out[done + i]) {
                i++;
            }
            if (i == solo.length) {
                return ties;
            }
            assertNearTie(what + " at output " + (done + i), promptPlus(prompt, out, done + i), solo[i], out[done + i],
                    c.config(), served.seed());
            ties++;
            done += i + 1;
            if (done == out.length) {
                return ties;
            }
            solo = c.decoder().generate(model, TokenIds.of(promptPlus(prompt, out, done)),
                            c.config().toBuilder().maxNewTokens(out.length - done).build(), GenerationListener.NONE)
                    .ids().toArray();
        }
    }

    /** The prompt followed by the first {@code n} output tokens. */
    private static int[] promptPlus(int[] prompt, int[] output, int n) {
        int[] out = Arrays.copyOf(prompt, prompt.length + n);
        System.arraycopy(output, 0, out, prompt.length, n);
        return out;
    }

    /** Largest logit difference between passes of different shapes accepted as rounding. */
    static final double ROUNDING = 1e-3;

    /**
     * Asserts that each of two different tokens is the selection after {@code prefix} under some rounding of its
     * logits (computed here by a one-token pass): its score (the logit; when sampling, divided by the temperature and
     * plus the position's Gumbel noise) is within rounding of the best score among the tokens certainly kept, and,
     * under top-k, its logit is not certainly below the k-th largest. A token whose logit is within rounding of the
     * k-th largest may be in the kept set or not: the selection after both passes at this near-tie of the boundary.
     */
    private static void assertNearTie(String what, int[] prefix, int soloToken, int servedToken,
                                      GenerationConfig config, Long seed) {
        TokenSelector selector = config.selector(seed != null ? seed : 0, config.stopTokens(model.config()));
        assertThat(selector.hasPenalties() || selector.topP() < 1 || selector.minP() > 0)
                .as("near-ties are checked for temperature and top-k alone").isFalse();
        float[] logits;
        try (DecodingSession s = model.newSession(prefix.length + 1)) {
            s.prefill(Arrays.copyOf(prefix, prefix.length - 1));
            logits = s.forwardLogits(new int[]{prefix[prefix.length - 1]}).row(0);
        }
        int vocab = logits.length;
        boolean sample = selector.sample();
        double kth = Double.NEGATIVE_INFINITY;
        if (sample && selector.topK() > 0 && selector.topK() < vocab) {
            float[] sorted = logits.clone();
            Arrays.sort(sorted);
            kth = sorted[vocab - selector.topK()];
        }
        double[] score = new double[vocab];
        double best = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            score[v] = sample ? logits[v] / selector.temperature() + TokenSelector.gumbel(selector.seed(),
                    prefix.length, v) : logits[v];
            if (logits[v] >= kth + ROUNDING) {
                best = Math.max(best, score[v]);
            }
        }
        double scale = sample ? 1 / selector.temperature() : 1;
        for (int t : new int[]{soloToken, servedToken}) {
            assertThat((double) logits[t])
                    .as("%s: token %d (solo %d, served %d) is kept up to rounding (k-th logit %s)", what, t, soloToken,
                            servedToken, kth).isGreaterThan(kth - ROUNDING);
            assertThat(score[t]).as("%s: token %d (solo %d, served %d) has the best kept score up to rounding",
                    what, t, soloToken, servedToken).isGreaterThan(best - ROUNDING * scale);
        }
    }

    /**
     * The near-tie check on the case CI met: after request 9's first 55 sampled tokens, token 196's logit is the 50th
     * largest (top_k 50) and the 51st is 2e-6 below it, so a pass of another shape can drop 196 from the kept set,
     * and 66, the best score after it, is selected. A token that is not such a tie fails the check.
     */
    @Test
    void theNearTieCheckAcceptsATopKBoundaryTieAndNothingElse() {
        Case c = cases(12, true, 8).get(9);
        int[] solo = c.alone().ids().toArray();
        int[] prompt = c.prompt().toArray();
        int[] prefix = promptPlus(prompt, solo, 55);
        assertThat(solo[55]).isEqualTo(196);
        assertNearTie("CI's case", prefix, 196, 66, c.config(), 1009L);
        for (int other : new int[]{solo[56], 3, 93}) {
            assertThatThrownBy(() -> assertNearTie("not a tie", prefix, 196, other, c.config(), 1009L))
                    .as("token %d", other).isInstanceOf(AssertionError.class);
        }
    }

    static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
