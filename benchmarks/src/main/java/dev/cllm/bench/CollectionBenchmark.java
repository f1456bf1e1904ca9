package dev.cllm.bench;

import dev.cllm.api.DecodingSession;
import dev.cllm.api.Prompt;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TrajectoryCollector;
import dev.cllm.jacobi.JacobiTrajectoryCollector;
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
 * Trajectory collection throughput: {@link JacobiTrajectoryCollector} (what {@code ./cllm collect} runs) over the
 * model's benchmark prompts, one session reused. One operation collects every prompt once; the counters report
 * recorded blocks (trajectories), new tokens and forward passes per second.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(1)
public class CollectionBenchmark {
    @Param({BenchModels.STORIES_260K})
    public String model;

    /** Trajectory block size (at least 2). */
    @Param({"16"})
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
    private JacobiTrajectoryCollector collector;
    private Prompt[] prompts;

    /** Blocks, tokens and passes; in throughput mode JMH reports them as rates per second. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Counters {
        public long blocks;
        public long tokens;
        public long passes;

        @Setup(Level.Iteration)
        public void reset() {
            blocks = 0;
            tokens = 0;
            passes = 0;
        }
    }

    @Setup(Level.Trial)
    public void setUp() {
        Threads.apply(threads);
        loaded = BenchModels.load(model, dtype);
        TokenIds[] ids = Prompts.forModel(model, loaded);
        prompts = new Prompt[ids.length];
        int longest = 0;
        for (int i = 0; i < ids.length; i++) {
            prompts[i] = Prompt.of(i, ids[i]);
            longest = Math.max(longest, ids[i].size());
        }
        collector = JacobiTrajectoryCollector.builder().blockSize(blockSize).maxNewTokens(maxNewTokens)
                .stopOnEos(false).build();
        session = loaded.newSession(Math.min(loaded.config().contextLength(), longest + collector.maxNewTokens()));
    }

    @Benchmark
    public int collect(Counters counters) {
        int sum = 0;
        for (Prompt prompt : prompts) {
            TrajectoryCollector.Result r = collector.collect(session, prompt);
            counters.blocks += r.trajectories().size();
            counters.tokens += r.generation().stats().newTokens();
            counters.passes += r.generation().stats().forwardPasses();
            sum += r.generation().ids().last();
        }
        return sum;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        loaded.close();
    }
}
