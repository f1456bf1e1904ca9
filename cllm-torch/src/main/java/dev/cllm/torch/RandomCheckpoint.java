package dev.cllm.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random-weight checkpoints for tests and benchmarks: matrices from N(0, {@value #INIT_STD}²) drawn from a seeded Java
 * generator (the same weights on every machine), norms at 1, biases at 0.
 */
public final class RandomCheckpoint {
    /** Standard deviation of random initial weights (the LLaMA/GPT-2 convention). */
    public static final double INIT_STD = 0.02;

    private RandomCheckpoint() {
    }

    /** The random weights under their Hugging Face names, fp32 on the CPU, attached to the caller's scope. */
    public static Map<String, Tensor> hfWeights(LlamaConfig config, long seed) {
        TorchRuntime.ensureLoaded();
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, Tensor> weights = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : HfNames.expectedShapes(config).entrySet()) {
            long[] shape = e.getValue();
            int n = Math.toIntExact(Arrays.stream(shape).reduce(1, Math::multiplyExact));
            float[] values = new float[n];
            if (HfNames.isNorm(e.getKey())) {
                Arrays.fill(values, 1f);
            } else if (!HfNames.isBias(e.getKey())) {
                for (int i = 0; i < n; i++) {
                    values[i] = (float) (gaussian(rng) * INIT_STD);
                }
            }
            weights.put(e.getKey(), Tensors.floats(values, shape));
        }
        return weights;
    }

    /**
     * Writes a checkpoint directory holding {@link #hfWeights}: {@code config.json} (with {@code torch_dtype}) and
     * the weights in {@code storage} precision, in one file or shards of at most {@code maxShardBytes}.
     */
    public static Path write(Path dir, LlamaConfig config, long seed, ComputeDtype storage, long maxShardBytes) {
        if (storage == ComputeDtype.AUTO) {
            throw new IllegalArgumentException("choose a storage dtype: F32, BF16 or F16");
        }
        String torchDtype = switch (storage) {
            case BF16 -> "bfloat16";
            case F16 -> "float16";
            default -> "float32";
        };
        try (PointerScope scope = new PointerScope()) {
            Files.createDirectories(dir);
            Map<String, Tensor> weights = new LinkedHashMap<>();
            for (Map.Entry<String, Tensor> e : hfWeights(config, seed).entrySet()) {
                weights.put(e.getKey(), e.getValue().to(storage.scalarType(false)).contiguous());
            }
            SafetensorsCheckpoint.writeSharded(dir, weights, maxShardBytes);
            Path tmp = dir.resolve("config.json.tmp");
            config.toBuilder().torchDtype(torchDtype).build().write(tmp);
            Files.move(tmp, dir.resolve("config.json"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(dir + ": cannot write the random checkpoint: " + e.getMessage(), e);
        }
    }

    private static double gaussian(SplittableRandom rng) {
        // Box-Muller: SplittableRandom has no nextGaussian on Java 17
        double u1 = 1.0 - rng.nextDouble();
        double u2 = rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    }
}
