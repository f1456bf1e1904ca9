package dev.cllm.bench;

import dev.cllm.api.DecodingSession;
import dev.cllm.torch.TorchConsistencyModel;
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
 * The cost of one KV-cache forward pass over n new tokens after {@code context} cached ones, argmax included (what a
 * Jacobi iteration costs). Jacobi decoding pays off only where n tokens cost far less than n single-token passes.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ForwardCostBenchmark {
    @Param({BenchModels.STORIES_260K, BenchModels.RANDOM_50M})
    public String model;

    @Param({"1", "2", "4", "8", "16", "32", "64"})
    public int n;

    @Param({"128"})
    public int context;

    /** {@code torch/blas} threads, or {@code default}. */
    @Param({"default"})
    public String threads;

    /** Compute dtype: auto (fp32 on CPU), f32, bf16, f16. */
    @Param({"auto"})
    public String dtype;

    private TorchConsistencyModel loaded;
    private DecodingSession session;
    private int[] block;

    @Setup(Level.Trial)
    public void setUp() {
        Threads.apply(threads);
        loaded = BenchModels.load(model, dtype);
        int vocab = loaded.config().vocabSize();
        session = loaded.newSession(context + n);
        session.prefill(BenchModels.tokens(context, vocab, 1));
        block = BenchModels.tokens(n, vocab, 2);
    }

    @Benchmark
    public int[] forward() {
        int[] next = session.forward(block);
        session.commit(0); // a rejected block: the cache stays at `context`
        return next;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        loaded.close();
    }
}
