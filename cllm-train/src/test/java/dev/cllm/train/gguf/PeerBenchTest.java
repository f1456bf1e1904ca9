package dev.cllm.train.gguf;

import dev.cllm.api.DecodingSession;
import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;
import dev.cllm.torch.TorchRuntime;
import dev.cllm.train.HfExport;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Peer rows: our engine (f32, f16 and int8 weights) against llama.cpp (the de.kherud:llama binding; F16 and Q8_0 GGUF
 * written by our own {@link GgufExporter}) on the same weights, interleaved in rounds within one process (the engine
 * order rotates each round), medians over rounds and per-round ratios to llama.cpp Q8_0. Our numbers: AR ms per
 * token over {@value #AR_TOKENS} single-token passes after a {@value #CACHED}-token prefill, and t(n), the median of 5
 * passes over n new tokens after {@value #CACHED} cached ones. llama.cpp's: {@link LlamaCppBench} (wall-clock around
 * the binding's calls; its t(n) computes logits for the last token only).
 *
 * <p>A measurement, not a check: runs only when {@code -Dcllm.peers=MODEL} is given ({@code random50M}, the 51.7M
 * random LLaMA written as a bf16 checkpoint, or a checkpoint directory), with {@code -Dcllm.peers.rounds=R}
 * (default 3) and {@code -Dcllm.peers.threads=N} (llama.cpp's threads, default 2; ours follow
 * {@code -Dcllm.torch.threads} and {@code -Dcllm.blas.threads}, else the defaults). Prints a Markdown table and
 * writes it to {@code target/peers.md}:
 * <pre>
 * mvn -B -o -pl cllm-train -am test -Dtest=PeerBenchTest -Dsurefire.failIfNoSpecifiedTests=false \
 *     -Dinvoker.skip -Dcllm.peers=random50M
 * </pre>
 */
@EnabledIfSystemProperty(named = "cllm.peers", matches = ".+")
class PeerBenchTest {
    private static final int AR_TOKENS = 32;
    private static final int CACHED = 128;
    private static final List<Integer> NS = List.of(1, 8, 16);

    @TempDir
    Path tmp;

    record Engine(String engine, String weights) {
    }

    @Test
    void peers() throws IOException {
        String name = System.getProperty("cllm.peers");
        int rounds = Integer.getInteger("cllm.peers.rounds", 3);
        int llamaThreads = Integer.getInteger("cllm.peers.threads", 2);
        Path dir = name.equals("random50M") ? random50M(tmp.resolve("random50M")) : Path.of(name);
        Map<String, Path> gguf = new LinkedHashMap<>();
        for (GgufType type : new GgufType[]{GgufType.F16, GgufType.Q8_0}) {
            Path file = tmp.resolve(type + ".gguf");
            GgufExporter.export(dir, file, type);
            gguf.put(type.toString(), file);
        }
        List<Engine> engines = List.of(new Engine("cllm-java", "f32"), new Engine("cllm-java", "f16"),
                new Engine("cllm-java", "int8"), new Engine("llama.cpp", "F16"), new Engine("llama.cpp", "Q8_0"));
        int e = engines.size();
        double[][][] ms = new double[e][1 + NS.size()][rounds];   // [engine][ar, t(n)...][round]
        String load = loadAverage();
        for (int round = -1; round < rounds; round++) {            // round -1 warms up
            for (int k = 0; k < e; k++) {
                int i = Math.floorMod(k + round, e);
                Engine engine = engines.get(i);
                double[] t = engine.engine().equals("llama.cpp")
                        ? llamaCpp(gguf.get(engine.weights()), llamaThreads)
                        : ours(dir, engine.weights());
                if (round >= 0) {
                    for (int j = 0; j < t.length; j++) {
                        ms[i][j][round] = t[j];
                    }
                }
            }
            System.out.println("peers: round " + (round + 1) + " of " + rounds + " done");
        }
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "model %s, %d rounds (+1 warm-up), "
                        + "llama.cpp threads %d, ours: libtorch/OpenBLAS threads %d/%d; load average before: %s, "
                        + "after: %s; medians, (ratio to llama.cpp Q8_0, median of per-round ratios)%n%n", name,
                rounds, llamaThreads, TorchRuntime.torchThreads(), TorchRuntime.blasThreads(), load, loadAverage()));
        md.append("| engine | weights | AR ms/token | t(1) ms | t(8) ms | t(16) ms |\n|---|---|---:|---:|---:|---:|\n");
        int q8 = e - 1;
        for (int i = 0; i < e; i++) {
            md.append("| ").append(engines.get(i).engine()).append(" | ").append(engines.get(i).weights()).append(" |");
            for (int j = 0; j < 1 + NS.size(); j++) {
                double[] ratio = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    ratio[r] = ms[i][j][r] / ms[q8][j][r];
                }
                md.append(String.format(Locale.ROOT, " %.3f (%.2fx) |", median(ms[i][j]), median(ratio)));
            }
            md.append('\n');
        }
        System.out.print(md);
        Files.writeString(Path.of("target", "peers.md"), md);
        assertThat(Arrays.stream(ms).flatMap(Arrays::stream).flatMapToDouble(Arrays::stream))
                .allSatisfy(v -> assertThat(v).isPositive().isFinite());
    }

    /** AR ms/token, t(1), t(8), t(16) of our engine with {@code weights}, loading the model for this round. */
    private static double[] ours(Path dir, String weights) {
        double[] out = new double[1 + NS.size()];
        try (TorchConsistencyModel model = TorchConsistencyModel.load(dir,
                TorchOptions.defaults().withDevice("cpu").withGemm(CpuGemm.forWeights(weights)));
             DecodingSession s = model.newSession(CACHED + AR_TOKENS + 16 + 1)) {
            int vocab = model.config().vocabSize();
            int next = s.prefill(ids(CACHED, vocab, 1));
            for (int warm = 0; warm < 4; warm++) {
                s.forward(new int[]{next});
                s.commit(0);
            }
            long start = System.nanoTime();
            for (int t = 0; t < AR_TOKENS; t++) {
                next = s.forward(new int[]{next})[0];
                s.commit(1);
            }
            out[0] = (System.nanoTime() - start) / 1e6 / AR_TOKENS;
            s.rewind(CACHED);
            for (int j = 0; j < NS.size(); j++) {
                int[] block = ids(NS.get(j), vocab, 2);
                double[] reps = new double[5];
                for (int r = 0; r < reps.length; r++) {
                    long t0 = System.nanoTime();
                    s.forward(block);
                    reps[r] = (System.nanoTime() - t0) / 1e6;
                    s.commit(0);
                }
                out[1 + j] = median(reps);
            }
        }
        return out;
    }

    private static double[] llamaCpp(Path gguf, int threads) throws IOException {
        LlamaCppBench.Timings t = LlamaCppBench.measure(gguf, threads, AR_TOKENS, CACHED, NS, 3);
        double[] out = new double[1 + NS.size()];
        out[0] = t.arMsPerToken();
        for (int j = 0; j < NS.size(); j++) {
            out[1 + j] = t.evalMs().get(NS.get(j));
        }
        return out;
    }

    /** vocab 32000, d 512, 6 layers, 8 heads, FFN 1376 (51.7M parameters), seed 1, written as bf16. */
    private static Path random50M(Path dir) throws IOException {
        LlamaConfig config = LlamaConfig.builder().vocabSize(32000).hiddenSize(512).intermediateSize(1376)
                .numLayers(6).numHeads(8).numKvHeads(8).maxPositions(1024).bosTokenId(1).eosTokenIds(Set.of(2))
                .build();
        try (LlamaModel model = LlamaModel.random(config, 1,
                TorchOptions.defaults().withDevice("cpu").withGemm(CpuGemm.BLAS))) {
            HfExport.save(model, dir, ComputeDtype.BF16, HfExport.DEFAULT_MAX_SHARD_BYTES);
        }
        return dir;
    }

    private static int[] ids(int count, int vocab, int salt) {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = 3 + Math.floorMod(i * 31 + salt * 17 + 7, vocab - 3);
        }
        return out;
    }

    private static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).strip().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException ex) {
            return "unknown";
        }
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        int m = v.length / 2;
        return v.length % 2 == 1 ? v[m] : (v[m - 1] + v[m]) / 2;
    }
}
