package dev.cllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * Keeps the ranks of a job in step before training starts: they agree on what to train and from which step, and a
 * failure on one rank (its model did not load, rank 0 cannot resume) stops all of them at once, naming the rank,
 * instead of leaving the others waiting in their next collective until the timeout. For one process each check is
 * a local one.
 */
final class RankAgreement {
    private static final ObjectMapper JSON = new ObjectMapper();

    private RankAgreement() {
    }

    /**
     * Every rank publishes its plan ({@link TrainingPlan#toJson}); rank 0's also holds {@code start_step}, or
     * {@code error} when it cannot resume. All ranks fail alike, with rank 0's error or naming the first rank whose
     * plan differs from rank 0's and each difference.
     *
     * @return the step to start from
     */
    static long onPlan(Collectives group, ObjectNode plan) {
        try {
            List<String> plans = group.exchange("plan", JSON.writeValueAsString(plan));
            JsonNode leader = JSON.readTree(plans.get(0));
            if (leader.has("error")) {
                throw new IllegalArgumentException(leader.get("error").asText());
            }
            for (int r = 1; r < plans.size(); r++) {
                List<String> differences = TrainingPlan.differences(JSON.readTree(plans.get(r)), leader);
                if (!differences.isEmpty()) {
                    throw new IllegalArgumentException("rank " + r + " would train with other settings than rank 0 ("
                            + "rank " + r + " vs rank 0): " + String.join(", ", differences) + "; give every rank the "
                            + "same model, data and options");
                }
            }
            return leader.get("start_step").asLong();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Tells every rank whether this one succeeded at {@code what}; throws this rank's own failure, else the first
     * other rank's (naming it).
     */
    static void onOutcome(Collectives group, String what, RuntimeException local) {
        String message = local == null ? "" : String.valueOf(local.getMessage());
        List<String> outcomes = group.exchange(what, message);
        if (local != null) {
            throw local;
        }
        for (int r = 0; r < outcomes.size(); r++) {
            if (!outcomes.get(r).isEmpty()) {
                throw new IllegalStateException("rank " + r + " failed (" + what + "): " + outcomes.get(r));
            }
        }
    }
}
