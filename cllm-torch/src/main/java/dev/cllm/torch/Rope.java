package dev.cllm.torch;

import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;

/**
 * Rotary position embedding tables, computed in fp32 the way Hugging Face transformers computes them
 * ({@code inv_freq = 1 / theta^(2i/d)}, scaled per {@code rope_scaling}; angle = position · inv_freq; the table repeats
 * the d/2 angles twice).
 */
final class Rope {
    private final int positions;
    private final int headDim;
    private final float[] invFreq;

    Rope(LlamaConfig config) {
        this.positions = config.maxPositions();
        this.headDim = config.headDim();
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) {
            inv[i] = (float) (1.0 / (float) Math.pow(config.ropeTheta(), (float) (2 * i) / headDim));
        }
        this.invFreq = config.ropeScaling() == null ? inv : config.ropeScaling().apply(inv);
    }

    /** cos(angle) as {@code [positions, headDim]}. */
    Tensor cosTable(TensorOptions options) {
        return table(false, options);
    }

    /** sin(angle) as {@code [positions, headDim]} with the first half negated (rotate_half's sign). */
    Tensor signedSinTable(TensorOptions options) {
        return table(true, options);
    }

    private Tensor table(boolean sin, TensorOptions options) {
        int half = headDim / 2;
        float[] values = new float[positions * headDim];
        for (int p = 0; p < positions; p++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) p * invFreq[i];
                float c = (float) (sin ? Math.sin(angle) : Math.cos(angle));
                values[p * headDim + i] = sin ? -c : c;
                values[p * headDim + half + i] = c;
            }
        }
        return Tensors.floats(values, positions, headDim).to(options, false, false, null);
    }
}
