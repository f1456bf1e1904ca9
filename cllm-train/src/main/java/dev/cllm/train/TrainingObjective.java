package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.torch.LlamaModel;
import dev.cllm.train.GlobalBatches.MicroBatch;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Tensor;

/**
 * The loss of a rank's share of one global micro-batch: the CLLM objective ({@link ConsistencyObjective}) or Jacobi
 * Forcing's ({@link JacobiForcingObjective}). Each term is divided by the positions it scores in the whole global
 * micro-batch, so that the ranks' gradients sum to the single-process gradient.
 */
interface TrainingObjective {

    /**
     * The terms of a micro-batch's loss: scalar tensors with their graphs, in the caller's {@code PointerScope}.
     *
     * @param total       what is back-propagated
     * @param consistency the consistency term, or null for language-model training
     * @param ar          the AR term, or null when ω is 0
     */
    record Loss(Tensor total, Tensor consistency, Tensor ar) {
    }

    /** The loss of this rank's share of {@code batch}; creates its tensors on {@code device}, in the caller's scope. */
    Loss loss(LlamaModel model, MicroBatch batch, Device device);

    /** The objective {@code config} trains. */
    static TrainingObjective of(TrainingConfig config) {
        return config.objective() == TrainingConfig.Objective.JACOBI_FORCING ? new JacobiForcingObjective(config)
                : new ConsistencyObjective(config);
    }
}
