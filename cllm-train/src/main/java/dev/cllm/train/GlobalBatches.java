package dev.cllm.train;

import java.util.ArrayList;
import java.util.List;

/**
 * Which examples each micro-batch of a run reads, and this rank's share of them. The examples of the run, epoch after
 * epoch each in its seeded order ({@link ExampleSource#order}), are cut into global micro-batches of {@code batchSize}:
 * micro-batch m of step s is number {@code s · accumulation + m}, the same in every process whatever the number of
 * ranks; rank r of W takes the contiguous slice {@code [r·B/W, (r+1)·B/W)}. Over an epoch the ranks see disjoint
 * shards of the data, as with PyTorch's {@code DistributedSampler}.
 */
final class GlobalBatches {
    private final ExampleSource examples;
    private final int batchSize;
    private final int accumulation;
    private final int rank;
    private final int ranks;
    private int cachedEpoch = -1;
    private int[] cachedOrder;

    GlobalBatches(ExampleSource examples, int batchSize, int accumulation, int rank, int ranks) {
        this.examples = examples;
        this.batchSize = batchSize;
        this.accumulation = accumulation;
        this.rank = rank;
        this.ranks = ranks;
    }

    /**
     * One global micro-batch as a rank sees it.
     *
     * @param share                this rank's examples
     * @param size                 examples of the whole micro-batch
     * @param consistencyPositions positions the consistency term scores in the whole micro-batch
     * @param arPositions          positions the AR term scores in the whole micro-batch
     */
    record MicroBatch(List<TrainingExample> share, int size, long consistencyPositions, long arPositions) {

        /** Input tokens of this rank's forward passes. */
        long tokens() {
            long n = 0;
            for (TrainingExample e : share) {
                n += e.inputTokens();
            }
            return n;
        }
    }

    /** Micro-batch {@code micro} of the step that follows {@code step} completed steps. */
    MicroBatch get(long step, int micro) {
        long first = (step * accumulation + micro) * batchSize;
        List<TrainingExample> all = new ArrayList<>(batchSize);
        long consistencyPositions = 0;
        long arPositions = 0;
        for (int k = 0; k < batchSize; k++) {
            long global = first + k;
            int epoch = (int) (global / examples.size());
            int index = order(epoch)[(int) (global % examples.size())];
            TrainingExample e = examples.get(index, epoch);
            all.add(e);
            consistencyPositions += e.consistencyPositions();
            arPositions += e.arPositions();
        }
        List<TrainingExample> share = all.subList(all.size() * rank / ranks, all.size() * (rank + 1) / ranks);
        return new MicroBatch(List.copyOf(share), all.size(), consistencyPositions, arPositions);
    }

    private int[] order(int epoch) {
        if (epoch != cachedEpoch) {
            cachedOrder = examples.order(epoch);
            cachedEpoch = epoch;
        }
        return cachedOrder;
    }
}
