package dev.cllm.train;

import dev.cllm.torch.ComputeDtype;
import dev.cllm.torch.CpuGemm;
import dev.cllm.torch.LlamaConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchOptions;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The average, uniform or weighted, of several checkpoints' weights, a "model soup" (Wortsman et al. 2022, arXiv
 * 2203.05482): fine-tunes of one base model (runs of one recipe with different seeds, say) averaged weight by weight
 * into one model that costs what one costs to run. It only makes sense for models fine-tuned from the same weights,
 * which stay in one basin; averaging unrelated models gives garbage, which nothing here can detect.
 *
 * <p>The average is taken in fp32 whatever the checkpoints' storage precision, as each model's share (its weight over
 * the sum, computed in double) times its weights, summed, and written as a Hugging Face checkpoint
 * ({@link HfExport}) with the first model's config and companion files.
 */
public final class WeightAverage {
    private WeightAverage() {
    }

    /**
     * Writes the average of {@code models} (at least two checkpoint directories with the same architecture) into
     * {@code out}, stored in {@code storage}.
     *
     * @throws IllegalArgumentException naming the model whose config differs from the first's, a missing config, or an
     *                                  {@code out} that holds files
     */
    public static void write(List<Path> models, Path out, ComputeDtype storage) throws IOException {
        double[] ones = new double[models.size()];
        Arrays.fill(ones, 1.0);
        write(models, ones, out, storage);
    }

    /**
     * Writes the weighted average {@code sum_i w_i m_i / sum_i w_i} of {@code models} into {@code out}, stored in
     * {@code storage}. With two models, a base model B and a fine-tune F, weights {@code (1 - a, a)} give
     * {@code B + a (F - B)}: the fine-tune moved back toward its base model by {@code 1 - a} (interpolation in weight
     * space, as in WiSE-FT, Wortsman et al. 2022, arXiv 2109.01903).
     *
     * @param weights one finite, non-negative weight per model, not all zero
     * @throws IllegalArgumentException naming the bad weight, the model whose config differs from the first's, a
     *                                  missing config, or an {@code out} that holds files
     */
    public static void write(List<Path> models, double[] weights, Path out, ComputeDtype storage)
            throws IOException {
        if (models.size() < 2) {
            throw new IllegalArgumentException("averaging needs at least two models, got " + models.size());
        }
        if (weights.length != models.size()) {
            throw new IllegalArgumentException(weights.length + " weights for " + models.size() + " models");
        }
        double largest = 0;
        for (int i = 0; i < weights.length; i++) {
            if (!(weights[i] >= 0 && Double.isFinite(weights[i]))) {
                throw new IllegalArgumentException("weight " + weights[i] + " of " + models.get(i)
                        + ": weights must be finite and >= 0");
            }
            largest = Math.max(largest, weights[i]);
        }
        if (!(largest > 0)) {
            throw new IllegalArgumentException("the weights are all zero");
        }
        // each model's share w_i / sum w, in double, scaled first so that neither huge nor tiny weights over- or
        // underflow; the tensors then take one multiply-add each in fp32
        double scaledSum = 0;
        for (double w : weights) {
            scaledSum += w / largest;
        }
        double[] shares = new double[weights.length];
        for (int i = 0; i < weights.length; i++) {
            shares[i] = weights[i] / largest / scaledSum;
        }
        if (!HfExport.isAbsentOrEmptyDirectory(out)) {
            throw new IllegalArgumentException(out + ": exists and is not an empty directory");
        }
        LlamaConfig first = config(models.get(0));
        for (Path m : models.subList(1, models.size())) {
            LlamaConfig c = config(m);
            if (!sameArchitecture(c, first)) {
                throw new IllegalArgumentException(m + ": its config differs from " + models.get(0) + "'s (" + c
                        + " against " + first + "); only fine-tunes of one model can be averaged");
            }
        }
        TorchOptions f32 = new TorchOptions("cpu", ComputeDtype.F32, CpuGemm.BLAS);
        try (LlamaModel sum = LlamaModel.load(models.get(0), first, f32); NoGradGuard noGrad = new NoGradGuard()) {
            Map<String, Tensor> total = sum.weights();
            if (shares[0] != 1.0) {
                try (PointerScope scope = new PointerScope()) {
                    Scalar share = new Scalar(shares[0]);
                    for (Tensor t : total.values()) {
                        if (shares[0] == 0) {
                            t.zero_();              // not 0 * w: an infinite weight would make NaN
                        } else {
                            t.mul_(share);
                        }
                    }
                }
            }
            for (int i = 1; i < models.size(); i++) {
                if (shares[i] == 0) {
                    continue;                       // a model of weight 0 is not even read
                }
                try (LlamaModel next = LlamaModel.load(models.get(i), first, f32);
                     PointerScope scope = new PointerScope()) {
                    // loaded with the same config, the loader has checked every tensor's name and shape against it
                    Map<String, Tensor> w = next.weights();
                    Scalar share = new Scalar(shares[i]);
                    for (Map.Entry<String, Tensor> e : total.entrySet()) {
                        e.getValue().add_(w.get(e.getKey()), share);
                    }
                }
            }
            HfExport.save(sum, out, storage, HfExport.DEFAULT_MAX_SHARD_BYTES);
        }
        HfExport.copyCompanionFiles(models.get(0), out);
    }

    private static LlamaConfig config(Path model) {
        Path file = model.resolve("config.json");
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(model + ": no config.json");
        }
        return LlamaConfig.read(file);
    }

    /** Whether two configs describe the same model, storage precision aside: what averaging requires. */
    public static boolean sameArchitecture(LlamaConfig a, LlamaConfig b) {
        return a.toBuilder().torchDtype(null).build().equals(b.toBuilder().torchDtype(null).build());
    }
}
