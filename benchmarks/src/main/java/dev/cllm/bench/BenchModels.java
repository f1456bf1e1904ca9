package dev.cllm.bench;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.RandomCheckpoint;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The models benchmarks run on, by name: {@code stories260K}, {@code random50M},
 * {@code random-d<D>-l<L>-h<H>-kv<KV>-f<F>-v<V>}, {@code sql-base} and {@code sql-cllm} (the text-to-SQL models under
 * the repository's {@code models/}), {@code dir:PATH} (any checkpoint directory). A suffix {@code +blas} or
 * {@code +fbgemm} or {@code +int8} picks the CPU kernel of the weight projections ({@link CpuGemm}; default:
 * automatic), e.g. {@code random50M+fbgemm}, {@code random50M+int8}.
 */
final class BenchModels {
    /** The embedded real checkpoint (per-op-overhead bound on CPU). */
    static final String STORIES_260K = "stories260K";
    /** A random LLaMA of 51.7M parameters (memory-bound at one token on CPU), made by the benchmark itself. */
    static final String RANDOM_50M = "random50M";
    /** The text-to-SQL base model, {@code models/sql-base} (trained by the SQL example; may be absent). */
    static final String SQL_BASE = "sql-base";
    /** The text-to-SQL consistency model, {@code models/sql-cllm} (trained by the SQL example; may be absent). */
    static final String SQL_CLLM = "sql-cllm";
    /** A file of benchmark prompts in a model directory: JSON lines {@code {"prompt": "..."}} or prompt_ids. */
    static final String PROMPTS_FILE = "bench-prompts.jsonl";

    private BenchModels() {
    }

    static TorchConsistencyModel load(String fullName, String dtype) {
        return load(base(fullName), dtype, gemm(fullName));
    }

    /** The model {@code name} (without a suffix) with the projections in {@code gemm}. */
    static TorchConsistencyModel load(String name, String dtype, CpuGemm gemm) {
        TorchOptions cpu = TorchOptions.defaults().withDevice(System.getProperty("cllm.bench.device", "cpu"))
                .withDtype(ComputeDtype.parse(dtype)).withGemm(gemm);
        Optional<Path> dir = directory(name);
        if (dir.isPresent()) {
            missing(name).ifPresent(reason -> {
                throw new IllegalArgumentException(reason);
            });
            return TorchConsistencyModel.load(dir.get(), cpu);
        }
        if (name.equals(RANDOM_50M)) {
            return TorchConsistencyModel.of(LlamaModel.random(random50M(), 1, cpu));
        }
        if (name.startsWith("random-")) {
            return TorchConsistencyModel.of(LlamaModel.random(parse(name), 1, cpu));
        }
        throw new IllegalArgumentException(unknown(name));
    }

    /** The model name without its {@code +blas}/{@code +fbgemm}/{@code +int8} suffix. */
    static String base(String name) {
        int plus = name.lastIndexOf('+');
        return plus < 0 ? name : name.substring(0, plus);
    }

    /** The CPU GEMM a model name asks for. */
    static CpuGemm gemm(String name) {
        int plus = name.lastIndexOf('+');
        return plus < 0 ? CpuGemm.AUTO : CpuGemm.parse(name.substring(plus + 1));
    }

    /** The checkpoint directory of a model loaded from disk; empty for the random models (and unknown names). */
    static Optional<Path> directory(String fullName) {
        String name = base(fullName);
        return switch (name) {
            case STORIES_260K, SQL_BASE, SQL_CLLM -> Optional.of(repositoryDir().resolve("models").resolve(name));
            default -> name.startsWith("dir:") ? Optional.of(Path.of(name.substring(4))) : Optional.empty();
        };
    }

    /**
     * Why a model cannot run here, or empty when it can: an unknown name, or a model directory without
     * {@code config.json} (the SQL models exist only once the SQL example has trained them).
     */
    static Optional<String> missing(String fullName) {
        String name = base(fullName);
        if (!name.equals(fullName)) {
            try {
                gemm(fullName);
            } catch (IllegalArgumentException e) {
                return Optional.of(fullName + ": " + e.getMessage());
            }
        }
        Optional<Path> dir = directory(name);
        if (dir.isEmpty()) {
            boolean known = name.equals(RANDOM_50M) || name.startsWith("random-");
            return known ? Optional.empty() : Optional.of(unknown(name));
        }
        if (!Files.isRegularFile(dir.get().resolve("config.json"))) {
            return Optional.of(name + ": no checkpoint at " + dir.get()
                    + (name.startsWith("sql-") ? " (the text-to-SQL example has not trained it yet)" : ""));
        }
        return Optional.empty();
    }

    private static String unknown(String name) {
        return "unknown benchmark model '" + name + "' (stories260K, random50M, "
                + "random-d<D>-l<L>-h<H>-kv<KV>-f<F>-v<V>, sql-base, sql-cllm, dir:PATH)";
    }

    /**
     * A random LLaMA described by its name, e.g. {@code random-d192-l4-h6-kv6-f512-v329} (the shape syntax of
     * {@link RandomCheckpoint#shape}).
     */
    static LlamaConfig parse(String name) {
        return RandomCheckpoint.shape(name.substring("random-".length()));
    }

    /** vocab 32000, d 512, 6 layers, 8 heads, FFN 1376: 51.7M parameters, the libtorch notes' "big" model. */
    static LlamaConfig random50M() {
        return LlamaConfig.builder().vocabSize(32000).hiddenSize(512).intermediateSize(1376).numLayers(6).numHeads(8)
                .numKvHeads(8).maxPositions(1024).bosTokenId(1).eosTokenIds(java.util.Set.of(2)).build();
    }

    /** The repository root: {@code -Dcllm.home}, else the nearest parent of the working directory with models/. */
    static Path repositoryDir() {
        String home = System.getProperty("cllm.home");
        if (home != null) {
            return Path.of(home);
        }
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("models").resolve("stories260K"))) {
                return p;
            }
        }
        throw new IllegalStateException("cannot find models/stories260K above " + Path.of("").toAbsolutePath()
                + "; pass -Dcllm.home=REPOSITORY_ROOT");
    }

    /** Deterministic pseudo-text ids in [3, vocab). */
    static int[] tokens(int count, int vocab, int salt) {
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = 3 + Math.floorMod(i * 31 + salt * 17 + 7, vocab - 3);
        }
        return out;
    }
}
