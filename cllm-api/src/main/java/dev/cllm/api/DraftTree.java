package dev.cllm.api;

import java.util.Arrays;

/**
 * Tokens to verify in one forward pass, as a tree rooted at the one certain token: node 0 is that token (the last
 * selected one, not yet in the cache), and every other node is a guess for the position after its parent. A Jacobi
 * block is a chain (node i's parent is i - 1); n-gram candidates are branches from the root or from any node; shared
 * prefixes appear once.
 *
 * <p>Node i sits at position {@code session.position() + depth(i)} and sees the committed tokens and its ancestors
 * (never its siblings or their subtrees), so the token a session selects after node i is exactly what autoregressive
 * decoding would select after the prefix {@code committed + path(root .. i)}. Verification is then a walk from the
 * root: a child is right when its token equals the token selected after its parent. Nodes are laid out in the order
 * given: node i's keys and values go to cache slot {@code position() + i}, so a chain first (the Jacobi block) needs
 * no copying when it wins.
 *
 * <p>Immutable. Node count and depth are bounded by the session's remaining capacity.
 */
public final class DraftTree {
    private final int[] tokens;
    private final int[] parents;
    private final int[] depths;
    private final int maxDepth;

    private DraftTree(int[] tokens, int[] parents) {
        if (tokens.length == 0) {
            throw new IllegalArgumentException("a draft tree has at least its root");
        }
        if (parents.length != tokens.length) {
            throw new IllegalArgumentException("a draft tree of " + tokens.length + " tokens needs " + tokens.length
                    + " parents, got " + parents.length);
        }
        if (parents[0] != -1) {
            throw new IllegalArgumentException("node 0 is the root: its parent must be -1, got " + parents[0]);
        }
        this.tokens = tokens;
        this.parents = parents;
        this.depths = new int[tokens.length];
        int deepest = 0;
        for (int i = 1; i < tokens.length; i++) {
            if (parents[i] < 0 || parents[i] >= i) {
                throw new IllegalArgumentException("node " + i + " has parent " + parents[i]
                        + "; a parent must come before its child (0 <= parent < " + i + ")");
            }
            depths[i] = depths[parents[i]] + 1;
            deepest = Math.max(deepest, depths[i]);
        }
        this.maxDepth = deepest;
    }

    /** A tree from copies of {@code tokens} and {@code parents} ({@code parents[0] = -1}, else {@code parents[i] < i}). */
    public static DraftTree of(int[] tokens, int[] parents) {
        return new DraftTree(tokens.clone(), parents.clone());
    }

    /** A chain: {@code block[0]} is the root, {@code block[i]}'s parent is {@code block[i - 1]}. */
    public static DraftTree chain(int... block) {
        int[] parents = new int[block.length];
        for (int i = 0; i < block.length; i++) {
            parents[i] = i - 1;
        }
        return new DraftTree(block.clone(), parents);
    }

    /** Number of nodes (the root included): the tokens one pass runs. */
    public int size() {
        return tokens.length;
    }

    public int token(int node) {
        return tokens[node];
    }

    /** The parent of {@code node}, -1 for the root. */
    public int parent(int node) {
        return parents[node];
    }

    /** Distance from the root: the node's position is {@code session.position() + depth(node)}. */
    public int depth(int node) {
        return depths[node];
    }

    /** The largest depth. */
    public int maxDepth() {
        return maxDepth;
    }

    /** Whether every node's parent is the node before it. */
    public boolean isChain() {
        return maxDepth == tokens.length - 1;
    }

    /** A copy of the tokens, in node order. */
    public int[] tokens() {
        return tokens.clone();
    }

    /** A copy of the parents, in node order. */
    public int[] parents() {
        return parents.clone();
    }

    /** The nodes from the root to {@code node}, root first. */
    public int[] path(int node) {
        int[] out = new int[depths[node] + 1];
        for (int n = node, d = depths[node]; n >= 0; n = parents[n], d--) {
            out[d] = n;
        }
        return out;
    }

    /**
     * The deepest node whose path is verified by {@code selected} (the tokens a session selected after each node):
     * the walk from the root that follows, at each node, the child whose token is the one selected after that node.
     * Among children with the same token (a tree that repeats a prefix) the first is taken.
     */
    public int deepestVerified(int[] selected) {
        if (selected.length != tokens.length) {
            throw new IllegalArgumentException("selected holds " + selected.length + " tokens for a tree of "
                    + tokens.length);
        }
        int node = 0;
        boolean moved = true;
        while (moved) {
            moved = false;
            for (int child = node + 1; child < tokens.length; child++) {
                if (parents[child] == node && tokens[child] == selected[node]) {
                    node = child;
                    moved = true;
                    break;
                }
            }
        }
        return node;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DraftTree t && Arrays.equals(tokens, t.tokens) && Arrays.equals(parents, t.parents);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(tokens) + Arrays.hashCode(parents);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder("DraftTree[");
        for (int i = 0; i < tokens.length; i++) {
            b.append(i == 0 ? "" : " ").append(tokens[i]).append('^').append(parents[i]);
        }
        return b.append(']').toString();
    }
}
