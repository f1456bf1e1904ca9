package dev.cllm.train;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.junit.jupiter.api.Test;

import static dev.cllm.torch.Tensors.floats;
import static dev.cllm.torch.Tensors.toFloats;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link TrainingObjective#frozenPass}: the teacher's and the anchor's passes free their intermediate tensors when they
 * return, and their results live in the micro-batch's scope, without a graph.
 */
class FrozenPassTest {
    static {
        dev.cllm.torch.TorchRuntime.ensureLoaded();
    }

    @Test
    void theIntermediatesAreFreedAtOnceAndTheResultWithTheCallersScope() {
        Tensor[] intermediate = new Tensor[1];
        Tensor result;
        try (PointerScope microBatch = new PointerScope()) {
            Tensor weight = floats(new float[] {1f, 2f, 3f}, 3).requires_grad_(true);
            result = TrainingObjective.frozenPass(() -> {
                intermediate[0] = weight.mul(new Scalar(2.0));
                return intermediate[0].add(new Scalar(1.0));
            });
            assertThat(intermediate[0].isNull()).as("freed when the pass returned").isTrue();
            assertThat(result.isNull()).isFalse();
            assertThat(result.requires_grad()).as("no graph to the trained weights").isFalse();
            assertThat(toFloats(result)).containsExactly(3f, 5f, 7f);
            assertThat(weight.requires_grad()).isTrue();
            // the caller's scope still records gradients after the pass
            assertThat(weight.mul(new Scalar(2.0)).requires_grad()).isTrue();
        }
        assertThat(result.isNull()).as("freed with the micro-batch's scope").isTrue();
    }

    @Test
    void aTensorOwnedOutsideThePassOutlivesItAndStaysWithItsOwner() {
        try (PointerScope outer = new PointerScope()) {
            Tensor owned = floats(new float[] {4f, 5f}, 2);
            Tensor result;
            try (PointerScope microBatch = new PointerScope()) {
                result = TrainingObjective.frozenPass(() -> owned);
                assertThat(toFloats(result)).containsExactly(4f, 5f);
            }
            assertThat(result.isNull()).as("the handle the micro-batch owned").isTrue();
            assertThat(owned.isNull()).as("its owner's scope is still open").isFalse();
            assertThat(toFloats(owned)).containsExactly(4f, 5f);
        }
    }

    @Test
    void withoutAnEnclosingScopeItOnlyTurnsOffGradients() {
        assertThat(PointerScope.getInnerScope()).isNull();
        Tensor weight = floats(new float[] {1f, -1f}, 2).requires_grad_(true);
        Tensor result = TrainingObjective.frozenPass(() -> weight.mul(new Scalar(3.0)));
        assertThat(result.requires_grad()).isFalse();
        assertThat(toFloats(result)).containsExactly(3f, -3f);
        result.close();
        weight.close();
    }
}
