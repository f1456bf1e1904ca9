package dev.cllm.bench;

import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;
import dev.cllm.jacobi.LookaheadDecoder;
import dev.cllm.torch.TorchConsistencyModel;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * End-to-end greedy generation, autoregressive (block size 1) against Jacobi decoding and lookahead decoding (the
 * Jacobi window of {@code blockSize} tokens plus n-gram candidates verified in the same pass, with the sources that
 * need no task data: prompt lookup, the window's own n-grams, recycled tails), like for like: same model, same
 * prompts, same number of new tokens (EOS ignored), same session. One operation generates
 * {@code maxNewTokens} for each prompt in turn; the counters report tokens and forward passes per second, so
 * tokens/pass = tokens / passes. The prompts are the model's own when its directory has a
 * {@value BenchModels#PROMPTS_FILE} (see {@link Prompts}); such a task model (the text-to-SQL models) stops at EOS,
 * as it is used, so every decoder still produces the same tokens (Jacobi decoding is lossless).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class GenerationBenchmark {
    @Param({BenchModels.STORIES_260K})
    public String model;

    /** {@code jacobi} ({@link JacobiDecoder}; with block size 1, autoregressive) or {@code lookahead}
     *  ({@link LookaheadDecoder} with a window of {@code blockSize}, which must be at least 2). */
    @Param({"jacobi"})
    public String decoder;

    /** 1 = autoregressive. */
    @Param({"1", "16"})
    public int blockSize;

    @Param({"128"})
    public int maxNewTokens;

    @Param({"default"})
    public String threads;

    /** Compute dtype: auto (fp32 on CPU), f32, bf16, f16. */
    @Param({"auto"})
    public String dtype;

    private TorchConsistencyModel loaded;
    private DecodingSession session;
    private Decoder generator;
    private GenerationConfig config;
    private TokenIds[] prompts;

    /** Tokens and passes; in throughput mode JMH reports them as rates per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long tokens;
        public long passes;

        @Setup(Level.Iteration)
        public void reset() {
            tokens = 0;
            passes = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        Threads.apply(threads);
        loaded = BenchModels.load(model, dtype);
        prompts = Prompts.forModel(model, loaded);
        int longest = 0;
        for (TokenIds p : prompts) {
            longest = Math.max(longest, p.size());
        }
        generator = switch (decoder) {
            case "jacobi" -> JacobiDecoder.builder().blockSize(blockSize).build();
            case "lookahead" -> {
                if (blockSize < 2) {
                    throw new IllegalArgumentException("decoder lookahead needs blockSize >= 2 (its window), got "
                            + blockSize);
                }
                yield LookaheadDecoder.builder().window(blockSize).build();
            }
            default -> throw new IllegalArgumentException("decoder must be jacobi or lookahead, got '" + decoder
                    + "'");
        };
        GenerationConfig.Builder c = GenerationConfig.builder().maxNewTokens(maxNewTokens);   // greedy
        // a task model (its own prompts, e.g. text-to-SQL) answers and stops at EOS; others run the full budget
        config = (Prompts.ownTask(model) ? c : c.noStop()).build();
        session = loaded.newSession(Math.min(loaded.config().contextLength(),
                longest + maxNewTokens + generator.scratchPositions()));
    }

    @Benchmark
    public int generate(Counters counters) {
        int sum = 0;
        for (TokenIds prompt : prompts) {
            Generation g = generator.generate(session, prompt, config, GenerationListener.NONE);
            counters.tokens += g.stats().newTokens();
            counters.passes += g.stats().forwardPasses();
            sum += g.ids().last();
        }
        return sum;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        loaded.close();
    }
}
