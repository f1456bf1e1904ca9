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

    /**
     * Moves cache entries: for every layer, keys and values at slot {@code from[i]} are copied to slot {@code to[i]}
     * (all reads happen before any write, so the slots may overlap).
     */
    void move(long[] from, long[] to) {
        if (from.length == 0) {
            return;
        }
        Tensor src = Tensors.longs(from, from.length).to(k[0].device(), org.bytedeco.pytorch.global.torch.ScalarType.Long);
        Tensor dst = Tensors.longs(to, to.length).to(k[0].device(), org.bytedeco.pytorch.global.torch.ScalarType.Long);
        for (int l = 0; l < k.length; l++) {
            k[l].index_copy_(2, dst, k[l].index_select(2, src));
            v[l].index_copy_(2, dst, v[l].index_select(2, src));
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
