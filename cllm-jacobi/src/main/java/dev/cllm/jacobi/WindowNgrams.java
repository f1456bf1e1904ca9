package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;

import java.util.HashMap;
import java.util.Map;

/**
 * Lookahead decoding's n-gram pool, filled from the Jacobi window's own passes: the token at each position followed
 * by what was predicted after it, extended pass after pass down the positions (a column of lookahead decoding's 2D
 * window: the guess at position q + 1 in the next pass is the prediction made after position q, so following the
 * predictions across passes gives a chain of tokens, each predicted after the one before), becomes an n-gram of the
 * pool once it is {@code n} tokens long. One per generation; not thread-safe.
 */
final class WindowNgrams {
    private final int n;
    private final NgramIndex own;
    private final NgramPool shared;               // null: none
    private Map<Integer, int[]> gramAt = new HashMap<>(); // absolute position -> the column ending there

    /**
     * @param n      n-gram length (lookahead decoding's N), >= 2
     * @param own    this generation's pool
     * @param shared a pool shared across requests that learns them too, or null
     */
    WindowNgrams(int n, NgramIndex own, NgramPool shared) {
        this.n = n;
        this.own = own;
        this.shared = shared;
    }

    /** Extends the columns with one pass over {@code tree} at {@code position}: its root and its Jacobi chain. */
    void harvest(DraftTree tree, int[] selected, int position, TreeBuilder trie) {
        Map<Integer, int[]> next = new HashMap<>();
        int chain = 0;                                  // the chain is laid out first: nodes 1.. while they follow
        while (chain + 1 < tree.size() && tree.parent(chain + 1) == chain
                && trie.chainDepthOf(trie.trieNode(chain + 1)) == chain) {
            chain++;
        }
        for (int k = 0; k <= chain; k++) {
            int q = position + k;
            int x = tree.token(k);
            int[] prev = gramAt.get(q - 1);
            int[] gram;
            if (prev != null && prev[prev.length - 1] == x) {
                int keep = Math.min(prev.length, n - 1);   // slide: the newest n - 1 tokens
                gram = new int[keep + 1];
                System.arraycopy(prev, prev.length - keep, gram, 0, keep);
                gram[keep] = selected[k];
            } else {
                gram = new int[]{x, selected[k]};
            }
            if (gram.length == n) {
                own.add(gram, 0, gram.length);
                if (shared != null) {
                    shared.add(gram, 0, gram.length);
                }
            }
            next.put(q, gram);
        }
        gramAt = next;
    }
}
