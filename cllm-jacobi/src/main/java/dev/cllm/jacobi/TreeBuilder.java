package dev.cllm.jacobi;

import dev.cllm.api.DraftTree;

import java.util.Arrays;

/**
 * Merges the candidates of one pass into a trie rooted at the certain token, estimates for every node the probability
 * that it will be verified, and picks the nodes one pass runs: the most probable ones, as many as maximise expected
 * accepted tokens per unit of pass time ({@link #select}).
 *
 * <p>In a trie, siblings hold different tokens, so the verified nodes form one path and the expected number of tokens
 * a pass accepts is 1 (the token selected after the deepest verified node) plus the sum of the nodes' probabilities.
 * With a measured cost curve t(S) the best size S maximises {@code (1 + sum of the S - 1 largest probabilities)
 * / t(S)}: a pass over nothing but the root is plain autoregressive decoding, which is what this picks whenever
 * guesses are not being accepted.
 *
 * <p>Reused across passes; not thread-safe.
 */
final class TreeBuilder {
    private int size;
    private int[] token = new int[64];
    private int[] parent = new int[64];
    private int[] depth = new int[64];
    private int[] sourceBits = new int[64];
    private long[] kindBits = new long[64];     // the candidate kinds that proposed each node (AcceptanceModel.kind)
    private double[] p = new double[64];        // probability of being right given the parent is
    private double[] pathP = new double[64];    // probability of being verified
    private int[] firstChild = new int[64];
    private int[] nextSibling = new int[64];
    private int[] chain = new int[64];           // trie nodes of the Jacobi chain, by depth - 1
    private int chainLength;

    /** The last selection: DraftTree node -> trie node. */
    private int[] selectedNodes = new int[0];

    void reset(int rootToken) {
        size = 0;
        chainLength = 0;
        newNode(rootToken, -1, 1.0, 0);
    }

    int size() {
        return size;
    }

    /**
     * Inserts {@code tokens[0, count)} as a path below node {@code from}: shared prefixes merge, each node remembers
     * every source that proposed it and the best probability any of them gives.
     *
     * @return the trie nodes of the path (one per token)
     */
    int[] insert(int from, int[] tokens, int count, CandidateSource source, AcceptanceModel model) {
        return insert(from, tokens, count, source, 0, model);
    }

    /** As {@link #insert(int, int[], int, CandidateSource, AcceptanceModel)}, for a candidate that matched the last
     *  {@code matchLength} tokens of the context. */
    int[] insert(int from, int[] tokens, int count, CandidateSource source, int matchLength, AcceptanceModel model) {
        int[] path = new int[count];
        int node = from;
        int kind = AcceptanceModel.kind(source, matchLength);
        for (int i = 0; i < count; i++) {
            int d = depth[node] + 1;
            int child = findChild(node, tokens[i]);
            // a guess beside the window's own guess after the same node is one of two exclusive guesses
            int k = source != CandidateSource.JACOBI && chainChild(node) >= 0 && chainChild(node) != child
                    ? AcceptanceModel.departing(kind) : kind;
            double q = model.p(k, d);
            if (child < 0) {
                child = newNode(tokens[i], node, q, source.ordinal());
            } else {
                sourceBits[child] |= 1 << source.ordinal();
                p[child] = Math.max(p[child], q);
            }
            kindBits[child] |= 1L << k;
            path[i] = child;
            node = child;
        }
        return path;
    }

    /**
     * Inserts the Jacobi window below the root and remembers it as the chain that is laid out first. Each token keeps
     * the source it came from (a Jacobi prediction, or a pool or prompt continuation that refilled the window).
     */
    void insertJacobi(int[] window, CandidateSource[] origins, int count, AcceptanceModel model) {
        int[] path = new int[count];
        int node = 0;
        for (int i = 0; i < count; i++) {
            node = insert(node, new int[]{window[i]}, 1, origins[i], model)[0];
            path[i] = node;
        }
        if (chain.length < path.length) {
            chain = Arrays.copyOf(chain, path.length);
        }
        System.arraycopy(path, 0, chain, 0, path.length);
        chainLength = path.length;
    }

    /**
     * Picks the nodes of one pass and lays them out as a {@link DraftTree}: the selected part of the Jacobi chain
     * first (so that when it wins no cache entries move), then the other nodes, parents before children.
     *
     * @param cost      t(S)
     * @param maxNodes  the most nodes a pass may run (room in the cache, configured cap), >= 1
     * @param fixedSize if > 0, run exactly the min(fixedSize, available) most probable nodes instead of optimising
     * @param forced    the first this many nodes of the Jacobi chain are run whatever their probability (the window
     *                  length chosen by {@link WindowChoice}); the other nodes are added by probability
     */
    DraftTree select(PassCost cost, int maxNodes, int fixedSize, int forced) {
        for (int i = 1; i < size; i++) {
            pathP[i] = pathP[parent[i]] * p[i];
        }
        boolean[] keep = new boolean[size];
        keep[0] = true;
        int must = Math.min(Math.min(forced, chainLength), Math.max(0, maxNodes - 1));
        double expected = 1.0;
        for (int i = 0; i < must; i++) {
            keep[chain[i]] = true;
            expected += pathP[chain[i]];
        }
        Integer[] order = new Integer[size - 1 - must];
        int o = 0;
        for (int i = 1; i < size; i++) {
            if (!keep[i]) {
                order[o++] = i;
            }
        }
        Arrays.sort(order, (a, b) -> pathP[a] != pathP[b] ? Double.compare(pathP[b], pathP[a])
                : depth[a] != depth[b] ? Integer.compare(depth[a], depth[b]) : Integer.compare(a, b));
        int limit = Math.min(maxNodes, size);
        int best = 1 + must;
        if (fixedSize > 0) {
            best = Math.max(best, Math.min(fixedSize, limit));
        } else {
            double bestRate = expected / cost.nanos(best);
            for (int s = best + 1; s <= limit; s++) {
                expected += pathP[order[s - 2 - must]];
                double rate = expected / cost.nanos(s);
                if (rate > bestRate) {
                    bestRate = rate;
                    best = s;
                }
            }
        }
        for (int i = 0; i < best - 1 - must; i++) {
            keep[order[i]] = true;
        }
        // layout: root, the kept prefix of the Jacobi chain, then the rest in trie order (parents first)
        int[] out = new int[best];
        int[] newIndex = new int[size];
        Arrays.fill(newIndex, -1);
        int n = 0;
        out[n] = 0;
        newIndex[0] = n++;
        for (int i = 0; i < chainLength && keep[chain[i]]; i++) {
            out[n] = chain[i];
            newIndex[chain[i]] = n++;
        }
        for (int i = 1; i < size; i++) {
            if (keep[i] && newIndex[i] < 0) {
                out[n] = i;
                newIndex[i] = n++;
            }
        }
        int[] tokens = new int[n];
        int[] parents = new int[n];
        for (int k = 0; k < n; k++) {
            tokens[k] = token[out[k]];
            parents[k] = k == 0 ? -1 : newIndex[parent[out[k]]];
        }
        selectedNodes = Arrays.copyOf(out, n);
        return DraftTree.of(tokens, parents);
    }

    /** The Jacobi chain's child of trie node {@code node} (the root or a chain node), or -1. */
    private int chainChild(int node) {
        int d = depth[node];
        if (d >= chainLength || (d > 0 && chain[d - 1] != node)) {
            return -1;
        }
        return chain[d];
    }

    /** The trie node behind node {@code k} of the last selected tree. */
    int trieNode(int k) {
        return selectedNodes[k];
    }

    /** The candidate kinds that proposed trie node {@code node}, as a bit set over {@link AcceptanceModel#kind}. */
    long kinds(int node) {
        return kindBits[node];
    }

    /** The sources that proposed trie node {@code node}, as a bit set over {@link CandidateSource#ordinal()}. */
    int sources(int node) {
        return sourceBits[node];
    }

    /** The index in the Jacobi chain of trie node {@code node}, or -1. */
    int chainDepthOf(int node) {
        int d = depth[node] - 1;
        return d >= 0 && d < chainLength && chain[d] == node ? d : -1;
    }

    int chainLength() {
        return chainLength;
    }

    int chainNode(int index) {
        return chain[index];
    }

    int depth(int node) {
        return depth[node];
    }

    private int findChild(int node, int t) {
        for (int c = firstChild[node]; c >= 0; c = nextSibling[c]) {
            if (token[c] == t) {
                return c;
            }
        }
        return -1;
    }

    private int newNode(int t, int par, double prob, int sourceOrdinal) {
        if (size == token.length) {
            int n = size * 2;
            token = Arrays.copyOf(token, n);
            parent = Arrays.copyOf(parent, n);
            depth = Arrays.copyOf(depth, n);
            sourceBits = Arrays.copyOf(sourceBits, n);
            kindBits = Arrays.copyOf(kindBits, n);
            p = Arrays.copyOf(p, n);
            pathP = Arrays.copyOf(pathP, n);
            firstChild = Arrays.copyOf(firstChild, n);
            nextSibling = Arrays.copyOf(nextSibling, n);
        }
        int i = size++;
        token[i] = t;
        parent[i] = par;
        depth[i] = par < 0 ? 0 : depth[par] + 1;
        sourceBits[i] = par < 0 ? 0 : 1 << sourceOrdinal;
        kindBits[i] = 0;
        p[i] = prob;
        pathP[i] = 1.0;
        firstChild[i] = -1;
        nextSibling[i] = -1;
        if (par >= 0) {
            nextSibling[i] = firstChild[par];
            firstChild[par] = i;
        }
        return i;
    }
}
