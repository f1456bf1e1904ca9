package dev.cllm.data;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.Generation;
import dev.cllm.api.Prompt;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Trajectory;
import dev.cllm.api.TrajectoryCollector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongPredicate;

/**
 * Textbook full-block Jacobi decoding (no cache) on a deterministic hash "model": the greedy next token is a hash of
 * the last two tokens, except that {@link #RUN_TOKEN} always predicts itself (a token run) and the tokens of
 * {@link #CYCLE} predict the next one of the cycle (a repeated n-gram without runs). Trajectories are real Jacobi
 * trajectories: every state is the Jacobi update of the previous one and the last is the fixed point.
 */
final class FakeCollector implements TrajectoryCollector {
    static final int RUN_TOKEN = 7;
    static final int[] CYCLE = {20, 21, 22};

    private final int vocabSize;
    private final int blockSize;
    private final int maxNewTokens;
    private final Set<Integer> eos;
    final AtomicInteger calls = new AtomicInteger();
    /** Prompts (by index) on which collect throws, simulating a crash. */
    volatile LongPredicate failOn = i -> false;
    /** Called after each collect (for interrupting from inside a run). */
    volatile Runnable afterCollect = () -> { };

    FakeCollector(int vocabSize, int blockSize, int maxNewTokens, Set<Integer> eos) {
        this.vocabSize = vocabSize;
        this.blockSize = blockSize;
        this.maxNewTokens = maxNewTokens;
        this.eos = eos;
    }

    int next(int[] seq, int length) {
        int last = seq[length - 1];
        if (last == RUN_TOKEN) {
            return RUN_TOKEN;
        }
        for (int i = 0; i < CYCLE.length; i++) {
            if (last == CYCLE[i]) {
                return CYCLE[(i + 1) % CYCLE.length];
            }
        }
        long h = 0x51ED270B27E2FE3DL;
        for (int i = Math.max(0, length - 2); i < length; i++) {
            h = (h ^ seq[i]) * 0x9E3779B97F4A7C15L;
            h ^= h >>> 31;
        }
        // avoid the special tokens unless a prompt leads into them
        int t = (int) Math.floorMod(h, (long) vocabSize - 30) + 30;
        return t;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public int maxNewTokens() {
        return maxNewTokens;
    }

    @Override
    public Result collect(DecodingSession session, Prompt prompt) {
        calls.incrementAndGet();
        if (prompt.ids().size() + blockSize >= session.capacity()) {
            throw new IllegalArgumentException("prompt " + prompt.index() + " too long");
        }
        if (failOn.test(prompt.index())) {
            throw new IllegalStateException("simulated crash on prompt " + prompt.index());
        }
        int[] context = prompt.ids().toArray();
        List<Trajectory> trajectories = new ArrayList<>();
        int passes = 1; // prefill
        int generated = 0;
        boolean stop = false;
        for (int b = 0; !stop && generated + blockSize <= maxNewTokens
                && context.length + blockSize < session.capacity(); b++) {
            int[] state = new int[blockSize];
            state[0] = next(context, context.length);
            for (int i = 1; i < blockSize; i++) {
                state[i] = 30 + Math.floorMod(state[0] * 31 + i * 17 + b, vocabSize - 30); // a guess
            }
            List<TokenIds> states = new ArrayList<>();
            states.add(TokenIds.of(state));
            while (true) {
                int[] seq = Arrays.copyOf(context, context.length + blockSize);
                System.arraycopy(state, 0, seq, context.length, blockSize);
                int[] update = state.clone();
                for (int i = 1; i < blockSize; i++) {
                    update[i] = next(seq, context.length + i);
                }
                passes++;
                if (Arrays.equals(update, state)) {
                    break;
                }
                state = update;
                states.add(TokenIds.of(state));
            }
            trajectories.add(new Trajectory(prompt.index(), b, TokenIds.of(context), states, prompt.answer()));
            int[] grown = Arrays.copyOf(context, context.length + blockSize);
            System.arraycopy(state, 0, grown, context.length, blockSize);
            context = grown;
            generated += blockSize;
            stop = Arrays.stream(state).anyMatch(eos::contains);
        }
        TokenIds ids = TokenIds.copyOf(context, prompt.ids().size(), context.length);
        DecodingStats stats = new DecodingStats(blockSize, generated, passes, trajectories.size(), 0, 0, List.of(),
                List.of(), 0, 0);
        Result result = new Result(prompt, trajectories,
                new Generation(prompt.ids(), ids, null, StopReason.MAX_NEW_TOKENS, stats));
        afterCollect.run();
        return result;
    }
}
