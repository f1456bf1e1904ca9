package dev.cllm.train;

import dev.cllm.torch.SafetensorsFile;
import dev.cllm.torch.Tensors;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.bytedeco.pytorch.global.torch.zeros_like;

/**
 * AdamW with decoupled weight decay (Loshchilov and Hutter 2019), as {@code torch.optim.AdamW} computes it, on
 * named parameters. The moments are plain tensors of this object, saved and loaded as safetensors, so a resumed run
 * continues exactly.
 *
 * <p>Owns its moment tensors ({@link #close()}); borrows the parameters.
 */
final class AdamW implements AutoCloseable {
    private final Map<String, Tensor> params;
    private final Map<String, Tensor> exp = new LinkedHashMap<>();     // first moments
    private final Map<String, Tensor> expSq = new LinkedHashMap<>();   // second moments
    private final double beta1;
    private final double beta2;
    private final double eps;
    private final double weightDecay;
    private long steps;

    AdamW(Map<String, Tensor> params, double beta1, double beta2, double eps, double weightDecay) {
        this.params = params;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                exp.put(e.getKey(), Tensors.own(zeros_like(e.getValue())));
                expSq.put(e.getKey(), Tensors.own(zeros_like(e.getValue())));
            }
        }
    }

    /** Optimizer steps taken (t in the bias corrections). */
    long steps() {
        return steps;
    }

    /** One update with learning rate {@code lr}; parameters without a gradient are left alone. */
    void step(double lr) {
        steps++;
        double bias1 = 1 - Math.pow(beta1, steps);
        double bias2 = 1 - Math.pow(beta2, steps);
        try (PointerScope scope = new PointerScope(); NoGradGuard noGrad = new NoGradGuard()) {
            Scalar oneMinusBeta1 = new Scalar(1 - beta1);
            Scalar oneMinusBeta2 = new Scalar(1 - beta2);
            Scalar b1 = new Scalar(beta1);
            Scalar b2 = new Scalar(beta2);
            Scalar sqrtBias2 = new Scalar(Math.sqrt(bias2));
            Scalar epsilon = new Scalar(eps);
            Scalar decay = new Scalar(1 - lr * weightDecay);
            Scalar stepSize = new Scalar(-lr / bias1);
            for (Map.Entry<String, Tensor> e : params.entrySet()) {
                Tensor p = e.getValue();
                Tensor g = p.grad();
                if (!g.defined()) {
                    continue;
                }
                Tensor m = exp.get(e.getKey());
                Tensor v = expSq.get(e.getKey());
                m.mul_(b1).add_(g, oneMinusBeta1);                    // m = β1 m + (1-β1) g
                v.mul_(b2).addcmul_(g, g, oneMinusBeta2);             // v = β2 v + (1-β2) g²
                Tensor denom = v.sqrt().div(sqrtBias2).add_(epsilon); // sqrt(v / (1-β2^t)) + ε
                if (weightDecay != 0) {
                    p.mul_(decay);                                    // p = p (1 - lr λ)
                }
                p.addcdiv_(m, denom, stepSize);                       // p -= lr / (1-β1^t) · m / denom
            }
        }
    }

    /** The moments, first then second, in parameter order: what a data-parallel job broadcasts on resume. */
    java.util.List<Tensor> stateTensors() {
        java.util.List<Tensor> out = new java.util.ArrayList<>(exp.values());
        out.addAll(expSq.values());
        return out;
    }

    /** Sets the step count (t in the bias corrections), as a rank that received the moments by broadcast does. */
    void restoreSteps(long count) {
        this.steps = count;
    }

    /** Saves the moments and the step count into one safetensors file. */
    void save(Path file) {
        try (PointerScope scope = new PointerScope()) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            exp.forEach((name, t) -> tensors.put("exp_avg." + name, t));
            expSq.forEach((name, t) -> tensors.put("exp_avg_sq." + name, t));
            dev.cllm.torch.SafetensorsWriter.write(file, tensors, Map.of("steps", Long.toString(steps),
                    "betas", beta1 + "," + beta2, "eps", Double.toString(eps),
                    "weight_decay", Double.toString(weightDecay)));
        }
    }

    /**
     * Loads moments saved by {@link #save}.
     *
     * @throws IllegalStateException if the file does not hold a moment of the right shape for every parameter
     */
    void load(Path file) {
        try (SafetensorsFile in = SafetensorsFile.open(file); PointerScope scope = new PointerScope();
             NoGradGuard noGrad = new NoGradGuard()) {
            for (String name : params.keySet()) {
                copyInto(in, "exp_avg." + name, exp.get(name), file);
                copyInto(in, "exp_avg_sq." + name, expSq.get(name), file);
            }
            String savedSteps = in.header().metadata().get("steps");
            if (savedSteps == null) {
                throw new IllegalStateException(file + ": no 'steps' in the metadata");
            }
            steps = Long.parseLong(savedSteps);
        }
    }

    private static void copyInto(SafetensorsFile in, String name, Tensor target, Path file) {
        if (!in.header().tensors().containsKey(name)) {
            throw new IllegalStateException(file + ": optimizer state has no tensor '" + name + "'");
        }
        Tensor saved = in.read(name);
        if (!java.util.Arrays.equals(saved.shape(), target.shape())) {
            throw new IllegalStateException(file + ": optimizer tensor '" + name + "' has shape "
                    + java.util.Arrays.toString(saved.shape()) + ", the parameter has "
                    + java.util.Arrays.toString(target.shape()));
        }
        target.copy_(saved);
    }

    @Override
    public void close() {
        exp.values().forEach(Tensors::release);
        expSq.values().forEach(Tensors::release);
        exp.clear();
        expSq.clear();
    }
}
