package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The Jacobi window of {@link LookaheadDecoder}: guesses for the positions after the root, refined by every pass that
 * runs them (the Jacobi update: each guess becomes the prediction made after the guess before it) and refilled with
 * fresh guesses at its end. It is a running window: where block-wise Jacobi decoding starts a new block once the
 * old one has converged, this one slides on as tokens are accepted. Each guess remembers where it came from, for the
 * statistics. One per generation; not thread-safe.
 */
final class JacobiWindow {
    private final int length;                    // guesses after the root
    private final BlockInitializer initializer;
    private final SplittableRandom rng;
    private int[] guesses = new int[0];
    private CandidateSource[] origins = new CandidateSource[0];

    /**
     * @param length the guesses it holds after the root (its blocks, root excluded)
     */
    JacobiWindow(int length, BlockInitializer initializer, SplittableRandom rng) {
        this.length = Math.max(0, length);
        this.initializer = initializer;
        this.rng = rng;
    }

    /** The guesses, by depth - 1 (read only). */
    int[] guesses() {
        return guesses;
    }

    /** Where each guess came from (read only). */
    CandidateSource[] origins() {
        return origins;
    }

    int size() {
        return guesses.length;
    }

    /** Fills the window with fresh guesses after {@code context[0, contextLength)} (whose last token is the root). */
    void start(int[] context, int contextLength) {
        refill(new int[0], new CandidateSource[0], context, contextLength);
    }

    /**
     * The Jacobi update after a pass, aligned to the new root (the token selected after node {@code v}): the guess
     * for each position beyond it is the prediction the pass made there, taken from the winning branch below
     * {@code v} when that branch reaches the position (its prefix is the most right), else from the window's own
     * chain (a prediction under a partly wrong prefix, which is how Jacobi decoding refines), else the window's old
     * guess if the pass did not run that far; then fresh guesses to the window's length.
     *
     * @param context the prompt and the output, ending with the new root
     */
    void update(DraftTree tree, int[] selected, int v, TreeBuilder trie, int[] context, int contextLength) {
        int a = tree.depth(v);                           // tokens verified beyond the root
        boolean onChain = v == 0 || trie.chainDepthOf(trie.trieNode(v)) >= 0;
        int[] tail = new int[tree.size()];               // tree nodes below v, one per depth, on the branch that goes on
        int tailLength = 0;
        for (int node = v; ; ) {
            int child = -1;
            for (int k = node + 1; k < tree.size(); k++) {
                if (tree.parent(k) == node && (child < 0 || trie.chainDepthOf(trie.trieNode(k)) >= 0)) {
                    child = k;                           // the window's own child first, else the first other
                }
            }
            if (child < 0) {
                break;
            }
            tail[tailLength++] = child;
            node = child;
        }
        int[] chainAt = new int[guesses.length + 1];    // tree node of the window at each depth, -1 if not run
        Arrays.fill(chainAt, -1);
        for (int k = 1; k < tree.size(); k++) {
            int d = trie.chainDepthOf(trie.trieNode(k));
            if (d >= 0 && d + 1 < chainAt.length) {
                chainAt[d + 1] = k;
            }
        }
        int size = Math.max(0, Math.max(tailLength, guesses.length - a - 1));
        int[] updated = new int[size];
        CandidateSource[] from = new CandidateSource[size];
        int n = 0;
        for (int i = 0; i < size; i++) {
            int depth = a + 1 + i;                       // the node whose prediction is guess i of the new window
            if (i < tailLength) {
                from[n] = onChain ? CandidateSource.JACOBI : CandidateSource.RECYCLED;
                updated[n++] = selected[tail[i]];
            } else if (depth < chainAt.length && chainAt[depth] >= 0) {
                from[n] = CandidateSource.JACOBI;
                updated[n++] = selected[chainAt[depth]];
            } else if (depth < guesses.length) {
                from[n] = origins[depth];
                updated[n++] = guesses[depth];
            } else {
                break;
            }
        }
        refill(Arrays.copyOf(updated, n), Arrays.copyOf(from, n), context, contextLength);
    }

    /**
     * Sets the window to {@code start} extended to its length with the initializer's guesses (by default tokens drawn
     * from the context, as the CLLM authors do and as a CLLM is trained to refine). Extending it with n-gram
     * continuations instead was measured to cost the text-to-SQL CLLM a third of its tokens per pass: the model
     * converges from the noise it was trained on, not from plausible text.
     */
    private void refill(int[] start, CandidateSource[] startOrigins, int[] context, int contextLength) {
        if (start.length >= length) {
            guesses = Arrays.copyOf(start, length);
            origins = Arrays.copyOf(startOrigins, length);
            return;
        }
        int[] seq = Arrays.copyOf(context, contextLength + length);
        System.arraycopy(start, 0, seq, contextLength, start.length);
        int[] out = Arrays.copyOf(start, length);
        CandidateSource[] from = Arrays.copyOf(startOrigins, length);
        initializer.fill(out, start.length, length - start.length, seq, contextLength + start.length, rng);
        Arrays.fill(from, start.length, length, CandidateSource.JACOBI);
        guesses = out;
        origins = from;
    }
}
