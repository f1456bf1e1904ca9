package dev.cllm.bench;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.torch.TorchOptions;

import java.nio.file.Files;
import java.nio.file.Path;

/** The models benchmarks run on, by name. */
final class BenchModels {
    /** The embedded real checkpoint (per-op-overhead bound on CPU). */
    static final String STORIES_260K = "stories260K";
    /** A random LLaMA of 51.7M parameters (memory-bound at one token on CPU), made by the benchmark itself. */
    static final String RANDOM_50M = "random50M";

    private BenchModels() {
    }

    static TorchConsistencyModel load(String name, String dtype) {
        TorchOptions cpu = TorchOptions.defaults().withDevice(System.getProperty("cllm.bench.device", "cpu"))
                .withDtype(ComputeDtype.parse(dtype));
        return switch (name) {
            case STORIES_260K -> TorchConsistencyModel.load(repositoryDir().resolve("models").resolve("stories260K"),
                    cpu);
            case RANDOM_50M -> TorchConsistencyModel.of(LlamaModel.random(random50M(), 1, cpu));
            default -> throw new IllegalArgumentException("unknown benchmark model '" + name + "'");
        };
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
