package dev.cllm.torch;

import dev.cllm.torch.fixtures.Stories260K;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** {@link LlamaModel#logits(Tensor, Tensor, Tensor)}: positions and masks, as packed training sequences use them. */
class PackedLogitsTest {

    @Test
    void twoSequencesPackedSideBySideGetTheLogitsTheyGetAlone() {
        try (TorchConsistencyModel model = TorchConsistencyModel.load(Stories260K.dir(),
                TorchOptions.defaults().withDevice("cpu")); PointerScope scope = new PointerScope();
             NoGradGuard noGrad = new NoGradGuard()) {
            LlamaModel llama = model.llama();
            long[] a = {1, 404, 475, 464, 454, 275};
            long[] b = {1, 22, 33, 44, 55};
            long[] packed = new long[a.length + b.length];
            long[] positions = new long[packed.length];
            byte[] mask = new byte[packed.length * packed.length];
            for (int i = 0; i < packed.length; i++) {
                boolean first = i < a.length;
                packed[i] = first ? a[i] : b[i - a.length];
                positions[i] = first ? i : i - a.length;             // each sequence starts at position 0
                int start = first ? 0 : a.length;
                for (int j = start; j <= i; j++) {
                    mask[i * packed.length + j] = 1;                 // causal within its own sequence only
                }
            }
            Tensor together = llama.logits(Tensors.longs(packed, 1, packed.length),
                    Tensors.longs(positions, positions.length),
                    Tensors.bytes(mask, packed.length, packed.length).to(ScalarType.Bool));
            Tensor alone = llama.logits(Tensors.longs(a, 1, a.length));
            Tensor alsoAlone = llama.logits(Tensors.longs(b, 1, b.length));
            double da = together.narrow(1, 0, a.length).sub(alone).abs().max().item_double();
            double db = together.narrow(1, a.length, b.length).sub(alsoAlone).abs().max().item_double();
            assertThat(da).isLessThan(1e-4);
            assertThat(db).isLessThan(1e-4);

            // the same mask given additive (0 where seen, -inf where not) gives the same logits, bit for bit: the
            // model turns a boolean mask into exactly that
            float[] additive = new float[mask.length];
            for (int i = 0; i < mask.length; i++) {
                additive[i] = mask[i] == 1 ? 0f : Float.NEGATIVE_INFINITY;
            }
            Tensor viaAdditive = llama.logits(Tensors.longs(packed, 1, packed.length),
                    Tensors.longs(positions, positions.length), Tensors.floats(additive, packed.length, packed.length));
            assertThat(Tensors.toFloats(viaAdditive)).containsExactly(Tensors.toFloats(together));
        }
    }
}
