package dev.cllm.data;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Logits;
import dev.cllm.api.ModelConfig;
import dev.cllm.api.Tokenizer;

import java.util.Optional;
import java.util.Set;

/**
 * A model that only has a configuration: {@link FakeCollector} computes its trajectories itself, so sessions only
 * report their capacity.
 */
final class FakeModel implements ConsistencyModel {
    private final ModelConfig config;
    int sessionsOpened;

    FakeModel(int vocabSize, int contextLength, Set<Integer> eos) {
        this.config = new ModelConfig("Fake", vocabSize, contextLength, -1, eos, 1234);
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public Optional<Tokenizer> tokenizer() {
        return Optional.empty();
    }

    @Override
    public DecodingSession newSession(int capacity) {
        sessionsOpened++;
        return new DecodingSession() {
            @Override
            public ConsistencyModel model() {
                return FakeModel.this;
            }

            @Override
            public int position() {
                return 0;
            }

            @Override
            public int capacity() {
                return capacity;
            }

            @Override
            public int[] forward(int[] block) {
                throw new UnsupportedOperationException();
            }

            @Override
            public Logits forwardLogits(int[] block) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void commit(int count) {
                throw new UnsupportedOperationException();
            }

            @Override
            public int[] forward(dev.cllm.api.DraftTree tree) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void commitPath(int node) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void select(dev.cllm.api.TokenSelector selector) {
            }

            @Override
            public dev.cllm.api.TokenSelector selector() {
                return dev.cllm.api.TokenSelector.GREEDY;
            }

            @Override
            public int prefill(int[] tokens) {
                throw new UnsupportedOperationException();
            }

            @Override
            public void rewind(int position) {
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public void close() {
    }
}
