package dev.cllm.examples.demo;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.TokenIds;
import dev.cllm.api.Decoder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Decodes the same prompts with several decoders, fairly: each decoder first decodes a few prompts untimed (JIT and
 * libtorch warm-up), then every timed sweep goes through the prompts once, running all decoders on a prompt before
 * the next prompt (so machine noise hits them alike). Each decoder keeps one session, rewound per prompt. The first
 * sweep's generations are kept, and for the chosen prompts the Jacobi trajectories, recorded by a
 * {@link TrajectoryRecorder} attached to those very decoding calls. Not thread-safe.
 */
public final class DemoRun {
    private static final Logger LOG = LoggerFactory.getLogger(DemoRun.class);

    /**
     * One decoder on one model.
     *
     * @param name    its name in the report, e.g. {@code jacobi-cllm}
     * @param model   the model it decodes with (borrowed)
     * @param decoder the decoder
     * @param record  whether to record Jacobi trajectories for {@link #run}'s chosen prompts (Jacobi decoders)
     */
    public record Contender(String name, ConsistencyModel model, Decoder decoder, boolean record) {
        public Contender {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(model, "model");
            Objects.requireNonNull(decoder, "decoder");
        }
    }

    /**
     * The totals of one decoder over one timed sweep.
     *
     * @param decodedTokens  sum of {@link DecodeSample#decodedTokens()}
     * @param decodingPasses sum of {@link DecodeSample#decodingPasses()}
     * @param decodeNanos    sum of decode times (prefill excluded)
     * @param elapsedNanos   sum of end-to-end times (prefill included)
     */
    public record Sweep(long decodedTokens, long decodingPasses, long decodeNanos, long elapsedNanos) {
        /** Decoded tokens per second of decode time. */
        public double tokensPerSecond() {
            return decodeNanos == 0 ? 0.0 : decodedTokens * 1e9 / decodeNanos;
        }

        Sweep plus(DecodeSample s) {
            return new Sweep(decodedTokens + s.decodedTokens(), decodingPasses + s.decodingPasses(),
                    decodeNanos + s.decodeNanos(), elapsedNanos + s.elapsedNanos());
        }
    }

    /**
     * What a run measured, per contender in the order given.
     *
     * @param contenders the contenders
     * @param samples    per contender, the first timed sweep's sample of every prompt
     * @param sweeps     per contender, the totals of every timed sweep
     * @param recordings per contender, the trajectory of every chosen prompt (by index), if it records
     */
    public record Result(List<Contender> contenders, List<List<DecodeSample>> samples, List<List<Sweep>> sweeps,
                         List<Map<Integer, TrajectoryRecorder>> recordings) {
        public Result {
            contenders = List.copyOf(contenders);
            samples = samples.stream().map(List::copyOf).toList();
            sweeps = sweeps.stream().map(List::copyOf).toList();
            recordings = recordings.stream().map(Map::copyOf).toList();
        }

        /** The index of the contender called {@code name}. */
        public int indexOf(String name) {
            for (int i = 0; i < contenders.size(); i++) {
                if (contenders.get(i).name().equals(name)) {
                    return i;
                }
            }
            throw new IllegalArgumentException("no contender " + name);
        }

        /** The median over the sweeps of contender {@code c}'s tokens per second. */
        public double medianTokensPerSecond(int c) {
            return median(sweeps.get(c).stream().mapToDouble(Sweep::tokensPerSecond).toArray());
        }

        /** The median over the sweeps of contender {@code c}'s summed end-to-end time, in nanoseconds. */
        public double medianElapsedNanos(int c) {
            return median(sweeps.get(c).stream().mapToDouble(Sweep::elapsedNanos).toArray());
        }
    }

    private final List<Contender> contenders;
    private final List<TokenIds> prompts;
    private final int warmup;
    private final int repeats;
    private final Set<Integer> recorded;

    /**
     * @param contenders the decoders, in the order they run on each prompt
     * @param prompts    the prompts
     * @param warmup     prompts (the first ones) each decoder decodes untimed before the sweeps
     * @param repeats    timed sweeps, at least 1
     * @param recorded   indexes of the prompts whose trajectories to record in the first sweep
     */
    public DemoRun(List<Contender> contenders, List<TokenIds> prompts, int warmup, int repeats,
                   Set<Integer> recorded) {
        if (contenders.isEmpty() || prompts.isEmpty()) {
            throw new IllegalArgumentException("nothing to run: " + contenders.size() + " decoders, "
                    + prompts.size() + " prompts");
        }
        if (repeats < 1 || warmup < 0) {
            throw new IllegalArgumentException("repeats must be >= 1 and warmup >= 0, got " + repeats + " and "
                    + warmup);
        }
        this.contenders = List.copyOf(contenders);
        this.prompts = List.copyOf(prompts);
        this.warmup = warmup;
        this.repeats = repeats;
        this.recorded = Set.copyOf(recorded);
    }

    /** Warms up, runs the timed sweeps and returns what they measured. */
    public Result run() {
        int longest = prompts.stream().mapToInt(TokenIds::size).max().orElse(1);
        List<DecodingSession> sessions = new ArrayList<>();
        try {
            for (Contender c : contenders) {
                int context = c.model().config().contextLength();
                if (longest >= context) {
                    throw new IllegalArgumentException("a prompt of " + longest + " tokens leaves no room for a new "
                            + "token in " + c.name() + "'s context of " + context + " positions");
                }
                sessions.add(c.model().newSession((int) Math.min(context,
                        (long) longest + c.decoder().defaults().maxNewTokens() + c.decoder().scratchPositions())));
            }
            long start = System.nanoTime();
            int warm = Math.min(warmup, prompts.size());
            for (int q = 0; q < warm; q++) {
                for (int c = 0; c < contenders.size(); c++) {
                    contenders.get(c).decoder().generate(sessions.get(c), prompts.get(q), GenerationListener.NONE);
                }
            }
            LOG.info("warmed up on {} questions per decoder in {} ms", warm, (System.nanoTime() - start) / 1_000_000);

            List<List<DecodeSample>> samples = new ArrayList<>();
            List<List<Sweep>> sweeps = new ArrayList<>();
            List<Map<Integer, TrajectoryRecorder>> recordings = new ArrayList<>();
            for (int c = 0; c < contenders.size(); c++) {
                samples.add(new ArrayList<>());
                sweeps.add(new ArrayList<>());
                recordings.add(new HashMap<>());
            }
            int progressEvery = Math.max(1, prompts.size() / 4);
            for (int r = 0; r < repeats; r++) {
                long sweepStart = System.nanoTime();
                Sweep[] totals = new Sweep[contenders.size()];
                Arrays.fill(totals, new Sweep(0, 0, 0, 0));
                for (int q = 0; q < prompts.size(); q++) {
                    for (int c = 0; c < contenders.size(); c++) {
                        Contender contender = contenders.get(c);
                        GenerationListener listener = GenerationListener.NONE;
                        if (r == 0 && contender.record() && recorded.contains(q)) {
                            TrajectoryRecorder recorder = new TrajectoryRecorder();
                            recordings.get(c).put(q, recorder);
                            listener = recorder;
                        }
                        DecodeSample s = DecodeSample.of(contender.decoder().generate(sessions.get(c),
                                prompts.get(q), listener));
                        totals[c] = totals[c].plus(s);
                        if (r == 0) {
                            samples.get(c).add(s);
                        }
                    }
                    if ((q + 1) % progressEvery == 0 && q + 1 < prompts.size()) {
                        LOG.info("sweep {}/{}: {}/{} questions", r + 1, repeats, q + 1, prompts.size());
                    }
                }
                for (int c = 0; c < contenders.size(); c++) {
                    sweeps.get(c).add(totals[c]);
                }
                LOG.info("sweep {}/{} done in {} ms", r + 1, repeats, (System.nanoTime() - sweepStart) / 1_000_000);
            }
            return new Result(contenders, samples, sweeps, recordings);
        } finally {
            sessions.forEach(DecodingSession::close);
        }
    }

    /** The median of {@code values} (the mean of the middle two for an even count); 0 for none. */
    static double median(double[] values) {
        if (values.length == 0) {
            return 0.0;
        }
        double[] sorted = values.clone();
        Arrays.sort(sorted);
        int mid = sorted.length / 2;
        return sorted.length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
