package dev.cllm.torch;

import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;

import static org.bytedeco.pytorch.global.torch.zeros;

/**
 * A static KV cache: per layer, keys and values for {@code capacity} positions, allocated once.
 *
 * <p>A forward pass writes its block's keys and values at explicit positions; tokens that are never committed
 * need no rollback, since the next write at those positions overwrites them and the attention mask only
 * reaches the positions in use (the gpt-fast design).
 */
final class KvCache implements AutoCloseable {
    final Tensor[] k; // per layer [1, kvHeads, capacity, headDim]
    final Tensor[] v; // per layer [1, kvHeads, capacity, headDim]
    final int capacity;

    KvCache(LlamaConfig config, int capacity, TensorOptions options) {
        this.capacity = capacity;
        int layers = config.numLayers();
        this.k = new Tensor[layers];
        this.v = new Tensor[layers];
        long[] shape = {1, config.numKvHeads(), capacity, config.headDim()};
        try (PointerScope scope = new PointerScope()) {
            for (int l = 0; l < layers; l++) {
                k[l] = Tensors.own(zeros(shape, options));
                v[l] = Tensors.own(zeros(shape, options));
            }
        }
    }

    /** Bytes held by the cache. */
    long bytes() {
        long total = 0;
        for (int l = 0; l < k.length; l++) {
            total += k[l].nbytes() + v[l].nbytes();
        }
        return total;
    }

    @Override
    public void close() {
        for (int l = 0; l < k.length; l++) {
            Tensors.release(k[l]);
            Tensors.release(v[l]);
        }
    }
}
