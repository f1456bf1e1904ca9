package dev.cllm.train;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.Generation;
import dev.cllm.api.Logits;
import dev.cllm.api.TokenIds;
import dev.cllm.jacobi.JacobiDecoder;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Evaluates speed and fidelity on held-out prompts: Jacobi tokens per pass, and how close the trained model stays to
 * the base model's greedy output (recorded on the first call, normally the base model at step 0).
 *
 * <p>Metrics: {@code tokens_per_pass} (Jacobi, block size n, EOS ignored), {@code ar_agreement} (share of positions
 * where the model's free-running greedy output equals the reference: one early difference makes every later position
 * differ), {@code exact_match} (share of prompts whose whole output equals the reference), {@code forced_agreement}
 * (share of reference positions where the model's argmax, given the reference prefix, is the reference token) and
 * {@code reference_ppl} (perplexity of the model on the reference outputs). Not thread-safe.
 */
public final class JacobiEvaluator implements TrainingEvaluator {
    private final List<TokenIds> prompts;
    private final int blockSize;
    private final int maxNewTokens;
    private List<TokenIds> reference;

    /**
     * @param prompts      held-out prompts (not in the training data)
     * @param blockSize    Jacobi block size n
     * @param maxNewTokens tokens generated per prompt
     */
    public JacobiEvaluator(List<TokenIds> prompts, int blockSize, int maxNewTokens) {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("the evaluator needs at least one prompt");
        }
        this.prompts = List.copyOf(prompts);
        this.blockSize = blockSize;
        this.maxNewTokens = maxNewTokens;
    }

    /** Uses these outputs as the reference instead of the first evaluated model's. */
    public JacobiEvaluator withReference(List<TokenIds> outputs) {
        if (outputs.size() != prompts.size()) {
            throw new IllegalArgumentException(outputs.size() + " reference outputs for " + prompts.size()
                    + " prompts");
        }
        reference = List.copyOf(outputs);
        return this;
    }

    /**
     * Uses {@code model}'s greedy outputs on the prompts (EOS ignored, as many new tokens as the evaluation makes) as
     * the reference instead of the first evaluated model's: for training in stages, where the run starts from an
     * earlier stage but fidelity is measured against the original base model. Computed now; the caller keeps
     * ownership of {@code model} and may close it afterwards.
     */
    public JacobiEvaluator withReferenceFrom(ConsistencyModel model) {
        return withReference(greedyOutputs(model));
    }

    private List<TokenIds> greedyOutputs(ConsistencyModel model) {
        JacobiDecoder ar = JacobiDecoder.autoregressive(maxNewTokens).toBuilder().noStop().build();
        return prompts.stream().map(p -> ar.generate(model, p).ids()).toList();
    }

    /** The reference outputs (after the first evaluation). */
    public List<TokenIds> reference() {
        return reference;
    }

    @Override
    public Map<String, Double> evaluate(ConsistencyModel model, long step) {
        JacobiDecoder jacobi = JacobiDecoder.builder().blockSize(blockSize).maxNewTokens(maxNewTokens).noStop()
                .build();
        if (reference == null) {
            reference = greedyOutputs(model);
        }
        int vocab = model.config().vocabSize();
        for (int i = 0; i < reference.size(); i++) {
            for (int t = 0; t < reference.get(i).size(); t++) {
                if (reference.get(i).get(t) >= vocab) {
                    throw new IllegalArgumentException("the reference output for held-out prompt " + i + " holds id "
                            + reference.get(i).get(t) + ", outside the evaluated model's vocabulary of " + vocab
                            + ": the reference came from a model with another vocabulary");
                }
            }
        }
        long tokens = 0;
        long passes = 0;
        long agree = 0;
        long compared = 0;
        long exact = 0;
        double nll = 0;
        long scored = 0;
        long forced = 0;
        for (int i = 0; i < prompts.size(); i++) {
            Generation g = jacobi.generate(model, prompts.get(i));
            tokens += g.stats().newTokens();
            passes += g.stats().forwardPasses();
            TokenIds ref = reference.get(i);
            int n = Math.min(ref.size(), g.ids().size());
            for (int t = 0; t < n; t++) {
                agree += ref.get(t) == g.ids().get(t) ? 1 : 0;
            }
            compared += Math.max(ref.size(), g.ids().size());
            exact += ref.equals(g.ids()) ? 1 : 0;
            if (!ref.isEmpty()) {
                double[] scores = score(model, prompts.get(i), ref);
                nll += scores[0];
                forced += (long) scores[1];
                scored += ref.size();
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("tokens_per_pass", passes == 0 ? 0 : (double) tokens / passes);
        out.put("ar_agreement", compared == 0 ? 1 : (double) agree / compared);
        out.put("exact_match", (double) exact / prompts.size());
        out.put("forced_agreement", scored == 0 ? 1 : (double) forced / scored);
        out.put("reference_ppl", scored == 0 ? Double.NaN : Math.exp(nll / scored));
        return out;
    }

    /**
     * From one forward pass over prompt + ref: {-Σ log p(ref[t] | prompt, ref[0..t)), number of t where the argmax is
     * ref[t]}.
     */
    static double[] score(ConsistencyModel model, TokenIds prompt, TokenIds ref) {
        int[] seq = prompt.concat(ref).toArray();
        try (DecodingSession session = model.newSession(seq.length)) {
            Logits logits = session.forwardLogits(seq);
            double total = 0;
            int argmaxHits = 0;
            for (int t = 0; t < ref.size(); t++) {
                argmaxHits += logits.argmax(prompt.size() - 1 + t) == ref.get(t) ? 1 : 0;
                float[] row = logits.row(prompt.size() - 1 + t);
                double max = Double.NEGATIVE_INFINITY;
                for (float v : row) {
                    max = Math.max(max, v);
                }
                double sum = 0;
                for (float v : row) {
                    sum += Math.exp(v - max);
                }
                total += max + Math.log(sum) - row[ref.get(t)];
            }
            return new double[]{total, argmaxHits};
        }
    }
}
