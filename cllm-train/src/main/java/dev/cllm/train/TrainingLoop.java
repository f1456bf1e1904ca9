package dev.cllm.train;

import dev.cllm.api.TrainingConfig;
import dev.cllm.api.TrainingSummary;
import dev.cllm.torch.LlamaModel;
import dev.cllm.torch.TorchConsistencyModel;
import dev.cllm.train.GlobalBatches.MicroBatch;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Device;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorVector;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.bytedeco.pytorch.global.torch.clip_grad_norm_;

/**
 * The optimizer steps of one run, from a start step to the last: each step accumulates the gradients of
 * {@code gradientAccumulation} micro-batches ({@link GlobalBatches}, {@link TrainingObjective}), agrees with the
 * other ranks on the losses, sums the gradients ({@link GradientSync}), clips them to a global norm and steps
 * {@link AdamW}; the loop then reports the step ({@link TrainingMetrics}), saves and evaluates when due, and stops
 * after a step in which any rank was asked to stop (saving it first).
 *
 * <p>A non-finite loss or gradient norm stops training with {@link IllegalStateException} before the weights are
 * touched. Native memory: one {@code PointerScope} per optimizer step, with one nested per micro-batch so that a
 * micro-batch's activations are freed before the next one runs; the model and the optimizer own everything that
 * outlives a step. Borrows everything it is given.
 */
final class TrainingLoop {
    // the trainer's log: one logger for everything a run reports
    private static final Logger LOG = LoggerFactory.getLogger(TorchConsistencyTrainer.class);

    private final LlamaModel model;
    private final AdamW optimizer;
    private final ExampleSource examples;
    private final TrainingConfig config;
    private final Collectives group;
    private final TrainingCheckpoints checkpoints;
    private final TrainingEvaluator evaluator;
    private final BooleanSupplier stopRequested;
    private final List<Tensor> params;
    private final GlobalBatches batches;
    private final TrainingObjective objective;
    private final GradientSync sync;

    /**
     * @param evaluator     run at the start, every {@code evalEvery} steps and at the end on rank 0, or null
     * @param stopRequested polled once per step (besides the thread's interrupt flag)
     * @param anchor        the frozen model of the anchor term when the config weighs one, else null; not closed here
     */
    TrainingLoop(LlamaModel model, AdamW optimizer, ExampleSource examples, TrainingConfig config, Collectives group,
                 TrainingCheckpoints checkpoints, TrainingEvaluator evaluator, BooleanSupplier stopRequested,
                 LlamaModel anchor) {
        this.model = model;
        this.optimizer = optimizer;
        this.examples = examples;
        this.config = config;
        this.group = group;
        this.checkpoints = checkpoints;
        this.evaluator = evaluator;
        this.stopRequested = stopRequested;
        this.params = List.copyOf(model.weights().values());
        this.batches = new GlobalBatches(examples, config.batchSize(), config.gradientAccumulation(), group.rank(),
                group.worldSize());
        this.objective = TrainingObjective.of(config, anchor);
        this.sync = GradientSync.over(group);
    }

    /**
     * Trains from {@code startStep} to the schedule's last step, or until a stop request.
     *
     * @param started {@link System#nanoTime()} when the run began, for the summary's elapsed time
     */
    TrainingSummary run(long startStep, LearningRateSchedule schedule, TrainingMetrics metrics, long started)
            throws IOException {
        long totalSteps = schedule.totalSteps();
        long examplesSeen = 0;
        StepResult last = null;
        evaluate(startStep, metrics);
        long step = startStep;
        boolean interrupted = false;
        boolean interruptedHere = false;
        while (step < totalSteps) {
            double lr = schedule.at(step);
            last = step(step, lr);
            step++;
            examplesSeen += last.examples;
            metrics.step(step, lr, last);
            boolean save = config.saveEvery() > 0 && step % config.saveEvery() == 0;
            if (last.interrupted) {   // on any rank: all of them save (rank 0 writes) and stop together
                interrupted = true;
                save = true;
                // cleared while the checkpoint is written (an interrupted thread's NIO channels close at once),
                // set again before returning
                interruptedHere = Thread.interrupted();
            }
            if (save && (step < totalSteps || interrupted)) {
                checkpoint(step, last);
            }
            if (config.evalEvery() > 0 && step % config.evalEvery() == 0 && step < totalSteps) {
                evaluate(step, metrics);
            }
            if (interrupted) {
                LOG.warn("{}: stopped on request; {} at step {} of {} (run again to resume)", checkpoints.path(),
                        group.isLeader() ? "saved" : "rank 0 saved", step, totalSteps);
                break;
            }
        }
        if (!interrupted) {
            checkpoint(step, last);
            evaluate(step, metrics);
        }
        group.barrier("the final checkpoint");   // no rank reports success before rank 0 has saved
        if (interruptedHere) {
            Thread.currentThread().interrupt();
        }
        long elapsed = (System.nanoTime() - started) / 1_000_000;
        return new TrainingSummary(step, last == null ? Double.NaN : last.loss,
                last == null ? Double.NaN : last.consistency, last == null ? Double.NaN : last.ar, examplesSeen,
                examples.skipped(), startStep, elapsed, checkpoints.path().toString());
    }

    /** Optimizer step {@code step + 1}, with errors that name it and say that the last checkpoint is intact. */
    private StepResult step(long step, double lr) {
        try (PointerScope scope = new PointerScope()) {
            return optimizerStep(step, lr);
        } catch (CollectiveException e) {
            throw new CollectiveException("training step " + (step + 1) + " on " + e.getMessage()
                    + (group.isLeader() ? "; the last checkpoint in " + checkpoints.path() + " is intact" : ""), e);
        } catch (IllegalStateException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new IllegalStateException("training step " + (step + 1) + " failed: " + e.getMessage()
                    + "; the last checkpoint in " + checkpoints.path() + " is intact", e);
        }
    }

    private StepResult optimizerStep(long step, double lr) {
        StepResult result = new StepResult();
        int accumulation = config.gradientAccumulation();
        Device device = new Device(model.deviceName());
        for (int micro = 0; micro < accumulation && result.nonFinite == null; micro++) {
            MicroBatch batch = batches.get(step, micro);
            try (PointerScope scope = new PointerScope()) {
                accumulate(batch, device, accumulation, step, result);
            }
            result.examples += batch.size();
            result.tokens += batch.tokens();
        }
        long waitStart = System.nanoTime();
        double[] totals = group.allReduceSum(new double[]{result.loss, result.consistency, result.ar,
                result.anchor, result.tokens, result.nonFinite == null ? 0 : 1,
                Thread.currentThread().isInterrupted() || stopRequested.getAsBoolean() ? 1 : 0},
                "the losses of step " + (step + 1));
        result.loss = totals[0];
        result.consistency = totals[1];
        result.ar = totals[2];
        result.anchor = totals[3];
        result.anchored = config.anchorWeight() > 0;
        result.tokens = (long) totals[4];
        result.interrupted = totals[6] > 0;
        long syncStart = System.nanoTime();
        result.waitNanos = syncStart - waitStart;   // the first collective of the step: waits for the slowest rank
        if (totals[5] > 0) {
            throw new IllegalStateException((result.nonFinite != null ? result.nonFinite
                    : "non-finite loss on another rank at step " + (step + 1)) + "; stopped before updating the "
                    + "weights. The last checkpoint in " + checkpoints.path() + " is intact; lower the learning rate "
                    + "or check the data");
        }
        sync.sum(params, step + 1);
        result.syncNanos = System.nanoTime() - syncStart;
        update(step, lr, result);
        return result;
    }

    /** Adds a micro-batch's gradients, divided by the accumulation, and its losses to {@code result}. */
    private void accumulate(MicroBatch batch, Device device, int accumulation, long step, StepResult result) {
        TrainingObjective.Loss loss = objective.loss(model, batch, device);
        double total = loss.total().item_double();
        double c = loss.consistency() == null ? 0 : loss.consistency().item_double();
        double a = loss.ar() == null ? 0 : loss.ar().item_double();
        double anchor = loss.anchor() == null ? 0 : loss.anchor().item_double();
        if (!Double.isFinite(total)) {   // reported after the ranks compare notes
            result.nonFinite = "non-finite loss " + total + " (consistency " + c + ", ar " + a
                    + (loss.anchor() == null ? "" : ", anchor " + anchor) + ") at step "
                    + (step + 1) + (group.worldSize() > 1 ? " on rank " + group.rank() : "");
            return;
        }
        loss.total().div(new Scalar(accumulation)).backward();
        result.loss += total / accumulation;
        result.consistency += c / accumulation;
        result.ar += a / accumulation;
        result.anchor += anchor / accumulation;
    }

    /** Clips the summed gradients, steps the optimizer and clears the gradients. */
    private void update(long step, double lr, StepResult result) {
        // no clipping: a bound the norm never reaches (and that still converts to fp32)
        double max = config.maxGradNorm() > 0 ? config.maxGradNorm() : Float.MAX_VALUE;
        result.gradNorm = clip_grad_norm_(new TensorVector(params.toArray(new Tensor[0])), max);
        if (!Double.isFinite(result.gradNorm)) {
            throw new IllegalStateException("non-finite gradient norm " + result.gradNorm + " at step " + (step + 1)
                    + " (loss " + result.loss + "); stopped before updating the weights. The last checkpoint in "
                    + checkpoints.path() + " is intact; lower the learning rate or check the data");
        }
        optimizer.step(lr);
        for (Tensor p : params) {
            Tensor g = p.grad();
            if (g.defined()) {
                g.zero_();
            }
        }
    }

    private void checkpoint(long step, StepResult last) throws IOException {
        if (group.isLeader()) {
            checkpoints.save(model, optimizer, step, last);
        }
    }

    private void evaluate(long step, TrainingMetrics metrics) throws IOException {
        if (evaluator == null || !group.isLeader()) {
            return;
        }
        Map<String, Double> values;
        try (TorchConsistencyModel view = TorchConsistencyModel.borrowing(model)) {
            values = evaluator.evaluate(view, step);
        }
        metrics.eval(step, values);
    }
}
