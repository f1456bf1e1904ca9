package dev.cllm.train;

/**
 * The examples of one training run, indexed so that example i of epoch e is the same in every run with the same seed:
 * shuffling, sampling and resumption need no stored random state. {@link Examples} for CLLM pairs and language-model
 * sequences, {@link PackedAnswers} for Jacobi Forcing.
 */
interface ExampleSource {

    /** Examples per epoch. */
    int size();

    /** What the data held that no example trains on because it is too long (records or sequences). */
    long skipped();

    /** The permutation of epoch {@code epoch}. */
    int[] order(int epoch);

    /** Example {@code index} (in data order) as seen in epoch {@code epoch}. */
    TrainingExample get(int index, int epoch);
}
