package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DecodingStats;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TokenSelector;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.WeakHashMap;

/**
 * Lossless decoding that verifies several guesses in one forward pass: the Jacobi window, n-grams from the model's
 * own trajectories and from a pool, continuations found in the prompt, and recycled rejected tails, merged into one
 * {@link DraftTree} and checked together. Every accepted token is exactly the token autoregressive decoding selects
 * (greedy, or sampled with the request's seed), so the output equals autoregressive decoding's; the guesses only
 * decide how many tokens a pass accepts.
 *
 * <p>Each pass:
 * <ol>
 *   <li>every enabled {@link CandidateSource} proposes continuations of the certain token (the root);</li>
 *   <li>they are merged into a trie, and every node gets the probability that it will be verified, from the
 *   acceptance observed so far per source and depth;</li>
 *   <li>a cost model picks how many nodes to run: with t(S) measured on this model and machine ({@link PassCost},
 *   calibrated on first use and cached), the S most probable nodes that maximise expected accepted tokens per second.
 *   Where nothing is being accepted that is S = 1, an autoregressive pass;</li>
 *   <li>one forward pass over the tree selects the token after every node; the deepest node whose path matches is
 *   accepted with the token selected after it, and its cache entries are moved into place;</li>
 *   <li>the sources learn from the pass: the Jacobi window takes the predictions after its first wrong guess
 *   (the Jacobi update), the pool the n-grams the window's predictions form across passes (lookahead decoding's
 *   pool), recycling the rejected tails, and the acceptance estimates their trials.</li>
 * </ol>
 * Stopping, token budgets, stop strings and streaming are those of {@link JacobiDecoder}.
 *
 * <p>Immutable and thread-safe. It keeps, per model it has decoded with, the measured pass costs and what it learned
 * about acceptance (a warm start for later requests); a shared {@link NgramPool} given to the builder carries n-grams
 * across requests too.
 */
public final class LookaheadDecoder implements Decoder {
    /** Default Jacobi window: the block size the shipped text-to-SQL CLLM was trained with. */
    public static final int DEFAULT_WINDOW = 8;
    /** Default most candidates per source and pass. */
    public static final int DEFAULT_CANDIDATES = 8;
    /** Default most tokens per candidate. */
    public static final int DEFAULT_CANDIDATE_LENGTH = 8;
    /** Default most tokens one pass runs; the cost model usually chooses fewer. */
    public static final int DEFAULT_MAX_TREE = 64;
    /** Default n-gram length of the pool the Jacobi window's trajectories fill (lookahead decoding's N). */
    public static final int DEFAULT_NGRAM = 5;
    /** Multi-block decoding adds a block when this share of the newest block's guesses agree with their predecessors'
     *  predictions (Jacobi Forcing's r = 0.85). */
    public static final double SPAWN_RATIO = 0.85;

    private final int window;
    private final int blocks;
    private final Set<CandidateSource> sources;
    private final NgramPool sharedPool;
    private final boolean learnIntoPool;
    private final int candidates;
    private final int candidateLength;
    private final int maxTree;
    private final int fixedTree;
    private final int ngram;
    private final PassCost passCost;
    private final Drafter drafter;
    private final BlockInitializer initializer;
    private final long seed;
    private final GenerationConfig defaults;
    private final Map<ConsistencyModel, Learned> learned = Collections.synchronizedMap(new WeakHashMap<>());

    /** What this decoder keeps per model: the pass costs, the acceptance estimates, the window lengths' rates. */
    private static final class Learned {
        volatile PassCost cost;
        final AcceptanceModel acceptance = new AcceptanceModel();
        final WindowChoice window;

        Learned(int windowSize) {
            this.window = new WindowChoice(windowSize);
        }
    }

    private LookaheadDecoder(Builder b) {
        this.window = b.window;
        this.blocks = b.blocks;
        this.sources = Collections.unmodifiableSet(EnumSet.copyOf(b.sources));
        this.sharedPool = b.pool;
        this.learnIntoPool = b.learnIntoPool;
        this.candidates = b.candidates;
        this.candidateLength = b.candidateLength;
        this.maxTree = b.maxTree;
        this.fixedTree = b.fixedTree;
        this.ngram = b.ngram;
        this.passCost = b.passCost;
        this.drafter = b.drafter;
        this.initializer = b.initializer;
        this.seed = b.seed;
        this.defaults = b.generation.build();
    }

    /** Defaults: every source, a window of {@value #DEFAULT_WINDOW}, one block, the cost model, greedy. */
    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = builder().window(window).blocks(blocks).sources(sources).pool(sharedPool)
                .learnIntoPool(learnIntoPool).candidates(candidates).candidateLength(candidateLength)
                .maxTreeSize(maxTree).fixedTreeSize(fixedTree).ngram(ngram).initializer(initializer).seed(seed)
                .generation(defaults);
        b.passCost = passCost;
        b.drafter = drafter;
        return b;
    }

    @Override
    public GenerationConfig defaults() {
        return defaults;
    }

    @Override
    public int scratchPositions() {
        return maxTree;
    }

    /** The enabled sources. */
    public Set<CandidateSource> sources() {
        return sources;
    }

    @Override
    public String name() {
        return "lookahead";
    }

    /** The cost curve this decoder uses for {@code model}: the configured one, or the one measured on it (null until
     *  the first generation with the model has measured it). */
    public PassCost passCost(ConsistencyModel model) {
        if (passCost != null) {
            return passCost;
        }
        Learned l = learned.get(model);
        return l == null ? null : l.cost;
    }

    @Override
    public Generation generate(DecodingSession session, TokenIds prompt, GenerationConfig config,
                               GenerationListener listener) {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(listener, "listener");
        Start start = Start.check(session, prompt);
        Set<Integer> stops = config.stopTokens(session.model().config());
        Long sampleSeed = Decoder.resolveSeed(config);
        TokenSelector selector = config.selector(sampleSeed == null ? 0 : sampleSeed, stops);
        Output output = new Output(prompt, config.maxNewTokens(), stops, config.stopStrings(),
                session.model().tokenizer().orElse(null), listener);
        session.select(selector);
        Learned l = learned.computeIfAbsent(session.model(), m -> new Learned(window));
        AcceptanceModel acceptance;
        synchronized (l) {
            acceptance = l.acceptance.copy();
        }
        Run run = new Run(session, prompt, output, acceptance, l.window);
        Generation g = run.decode(start.promptIds(), l, sampleSeed);
        synchronized (l) {
            l.acceptance.mergeFrom(run.acceptanceLearned, 1.0);
        }
        return g;
    }

    /** The state of one generation. */
    private final class Run {
        private final DecodingSession session;
        private final TokenIds prompt;
        private final Output output;
        private final AcceptanceModel acceptance;          // the estimates used (warm start + this request)
        final AcceptanceModel acceptanceLearned = new AcceptanceModel(); // this request's trials only
        private final WindowChoice windowChoice;             // the window lengths' rates, shared per model
        private final TreeBuilder trie = new TreeBuilder();
        private final NgramIndex context;
        private final NgramIndex own;
        private final NgramIndex recycled;
        private final SplittableRandom rng = new SplittableRandom(seed);
        private int[] draft = new int[0];                   // the Jacobi window after the root
        private CandidateSource[] origin = new CandidateSource[0]; // where each window token came from
        private int target;                                  // the window's current length
        private Map<Integer, int[]> gramAt = new HashMap<>(); // absolute position -> column n-gram ending there
        // statistics
        private int passes;
        private long fastForwarded;
        private long tokensVerified;
        private int newTokens;
        private final List<Integer> acceptedHistogram = new ArrayList<>();
        private final List<Integer> budgetHistogram = new ArrayList<>();
        private final long[] bySource = new long[CandidateSource.values().length];

        Run(DecodingSession session, TokenIds prompt, Output output, AcceptanceModel acceptance,
            WindowChoice windowChoice) {
            this.session = session;
            this.prompt = prompt;
            this.output = output;
            this.acceptance = acceptance;
            this.windowChoice = windowChoice;
            int contextLength = session.capacity() + 1;
            this.context = new NgramIndex(NgramPool.DEFAULT_MAX_KEY, NgramPool.DEFAULT_PER_KEY, contextLength + 1);
            this.own = new NgramIndex(2, NgramPool.DEFAULT_PER_KEY, 1 << 16);
            this.recycled = new NgramIndex(2, 4, 1 << 14);
            this.target = window;
        }

        Generation decode(int[] promptIds, Learned l, Long sampleSeed) {
            long start = System.nanoTime();
            int root = session.prefill(promptIds);
            long prefillNanos = System.nanoTime() - start;
            passes++;
            count(acceptedHistogram, 1);
            for (int id : promptIds) {
                context.append(id);
            }
            accept(new int[]{root});
            PassCost cost = passCost;
            if (cost == null && !output.stopped() && session.capacity() - 1 - session.position() > 1) {
                cost = l.cost;
                if (cost == null) {
                    cost = PassCost.calibrate(session, root, maxTree);
                    l.cost = cost;
                }
            }
            refill(new int[0], new CandidateSource[0], root);
            while (!output.stopped()) {
                // a pass over S tokens at position p fills cache slots up to p + S - 1 and selects the token at
                // p + S, which must still be inside the context
                int room = session.capacity() - 1 - session.position();
                if (output.remaining() <= 0) {
                    output.stop(StopReason.MAX_NEW_TOKENS);
                    break;
                }
                if (room < 1) {
                    output.stop(StopReason.CONTEXT_LIMIT);
                    break;
                }
                root = pass(root, Math.min(room, maxTree), Math.min(output.remaining() - 1, room - 1),
                        cost != null ? cost : PassCost.linear(1, 0));
            }
            output.finish(StopReason.MAX_NEW_TOKENS);
            long decodeNanos = System.nanoTime() - start - prefillNanos;
            Map<String, Long> accepted = new LinkedHashMap<>();
            for (CandidateSource s : CandidateSource.values()) {
                if (sources.contains(s) || s == CandidateSource.EXTERNAL && drafter != null) {
                    accepted.put(s.label(), bySource[s.ordinal()]);
                }
            }
            DecodingStats stats = new DecodingStats(window, newTokens, passes, 0, fastForwarded, 0,
                    acceptedHistogram, List.of(), prefillNanos, decodeNanos, accepted, tokensVerified,
                    budgetHistogram);
            return new Generation(prompt, output.ids(), output.text(), output.stopReason(), stats, sampleSeed,
                    output.stopToken(), output.stopString());
        }

        /** One forward pass; returns the new root. */
        private int pass(int root, int maxNodes, int maxDepth, PassCost cost) {
            int length = output.length();
            int[] seq = output.sequence();           // ends with the root
            trie.reset(root);
            boolean chose = false;
            int forced = 0;
            if (maxDepth > 0) {
                if (sources.contains(CandidateSource.JACOBI) && draft.length > 0) {
                    int room = Math.min(draft.length, Math.min(maxDepth, maxNodes - 1));
                    if (fixedTree > 0) {
                        trie.insertJacobi(draft, origin, room, acceptance);
                    } else {
                        forced = windowChoice.choose(room, rng);
                        chose = true;
                        trie.insertJacobi(draft, origin, forced, acceptance);
                    }
                }
                int len = Math.min(candidateLength, maxDepth);
                if (sources.contains(CandidateSource.PROMPT)) {
                    context.continuations(seq, length, candidates, len,
                            (c, k) -> trie.insert(0, c, c.length, CandidateSource.PROMPT, k, acceptance));
                }
                if (sources.contains(CandidateSource.POOL)) {
                    own.continuations(seq, length, candidates, len,
                            (c, k) -> trie.insert(0, c, c.length, CandidateSource.POOL, k, acceptance));
                    if (sharedPool != null) {
                        sharedPool.continuations(seq, length, candidates, len,
                                (c, k) -> trie.insert(0, c, c.length, CandidateSource.POOL, k, acceptance));
                    }
                }
                if (sources.contains(CandidateSource.RECYCLED)) {
                    recycled.continuations(seq, length, candidates, len,
                            (c, k) -> trie.insert(0, c, c.length, CandidateSource.RECYCLED, k, acceptance));
                }
                if (drafter != null) {
                    int[] proposals = {0};
                    drafter.propose(seq, length, len, c -> {
                        if (proposals[0]++ < candidates && c.length > 0) {
                            checkIds(c);
                            trie.insert(0, c, Math.min(c.length, len), CandidateSource.EXTERNAL, acceptance);
                        }
                    });
                }
            }
            DraftTree tree = trie.select(cost, maxNodes, fixedTree, forced);
            int position = session.position();
            int[] selected = session.forward(tree);
            int v = tree.deepestVerified(selected);
            session.commitPath(v);
            int[] path = tree.path(v);
            int[] accepted = new int[path.length];
            for (int d = 1; d < path.length; d++) {
                accepted[d - 1] = tree.token(path[d]);
            }
            int bonus = selected[v];
            accepted[path.length - 1] = bonus;

            if (chose) {
                windowChoice.record(accepted.length, cost.ratio(tree.size()));
            }
            passes++;
            tokensVerified += tree.size();
            count(budgetHistogram, tree.size());
            count(acceptedHistogram, accepted.length);
            fastForwarded += accepted.length - 1;
            if (path.length > 1) {
                bySource[creditedSource(trie.trieNode(v))] += path.length - 1;
            }
            accept(accepted);
            learn(tree, selected, path);
            harvest(tree, selected, position);
            updateDraft(tree, selected, v, bonus);
            if (sources.contains(CandidateSource.RECYCLED)) {
                recycled.add(concat(bonus, draft), 0, draft.length + 1);
            }
            return bonus;
        }

        /** Records each tested guess (its parent was verified) as a trial of every source that proposed it. */
        private void learn(DraftTree tree, int[] selected, int[] path) {
            boolean[] verified = new boolean[tree.size()];
            for (int n : path) {
                verified[n] = true;
            }
            for (int k = 1; k < tree.size(); k++) {
                if (!verified[tree.parent(k)]) {
                    continue;
                }
                long kinds = trie.kinds(trie.trieNode(k));
                for (int kind = 0; kind < AcceptanceModel.KINDS; kind++) {
                    if ((kinds & (1L << kind)) != 0) {
                        acceptance.record(kind, tree.depth(k), verified[k]);
                        acceptanceLearned.record(kind, tree.depth(k), verified[k]);
                    }
                }
            }
        }

        /**
         * Lookahead decoding's pool, from the Jacobi window: the token at each position followed by what was
         * predicted after it, extended pass after pass down the positions (a column of the lookahead window),
         * becomes an n-gram of the pool once it is {@code ngram} tokens long.
         */
        private void harvest(DraftTree tree, int[] selected, int position) {
            if (!sources.contains(CandidateSource.POOL)) {
                return;
            }
            Map<Integer, int[]> next = new HashMap<>();
            int chainRun = 0;
            while (chainRun + 1 < tree.size() && tree.parent(chainRun + 1) == chainRun
                    && trie.chainDepthOf(trie.trieNode(chainRun + 1)) == chainRun) {
                chainRun++;
            }
            for (int k = 0; k <= chainRun; k++) {       // root and the Jacobi chain: positions position + k
                int q = position + k;
                int x = tree.token(k);
                int[] prev = gramAt.get(q - 1);
                int[] gram;
                if (prev != null && prev[prev.length - 1] == x) {
                    int keep = Math.min(prev.length, ngram - 1);   // slide: the newest ngram - 1 tokens
                    gram = new int[keep + 1];
                    System.arraycopy(prev, prev.length - keep, gram, 0, keep);
                    gram[keep] = selected[k];
                } else {
                    gram = new int[]{x, selected[k]};
                }
                if (gram.length == ngram) {
                    own.add(gram, 0, gram.length);
                    if (sharedPool != null && learnIntoPool) {
                        sharedPool.add(gram, 0, gram.length);
                    }
                }
                next.put(q, gram);
            }
            gramAt = next;
        }

        /**
         * The Jacobi update of the window, aligned to the new root: the guess for each position beyond it is the
         * prediction the pass made there, taken from the winning branch below its deepest verified node when that
         * branch reaches the position (its prefix is the most right), else from the window's own chain (a
         * prediction under a partly wrong prefix, which is how Jacobi decoding refines), else the window's old guess
         * if the pass did not run that far. Then a refill to the window's length.
         */
        private void updateDraft(DraftTree tree, int[] selected, int v, int bonus) {
            int a = tree.depth(v);                       // tokens verified beyond the root
            int vTrie = trie.trieNode(v);
            boolean onChain = v == 0 || trie.chainDepthOf(vTrie) >= 0;
            List<Integer> tail = new ArrayList<>();      // tree nodes below v, one per depth, on the branch that goes on
            int node = v;
            while (true) {
                int child = -1;
                for (int k = node + 1; k < tree.size(); k++) {
                    if (tree.parent(k) == node && (child < 0 || trie.chainDepthOf(trie.trieNode(k)) >= 0)) {
                        child = k;                       // the window's own child first, else the first other
                    }
                }
                if (child < 0) {
                    break;
                }
                tail.add(child);
                node = child;
            }
            int[] chainAt = new int[draft.length + 1];  // tree node of the window at each depth, -1 if not run
            Arrays.fill(chainAt, -1);
            for (int k = 1; k < tree.size(); k++) {
                int d = trie.chainDepthOf(trie.trieNode(k));
                if (d >= 0 && d + 1 < chainAt.length) {
                    chainAt[d + 1] = k;
                }
            }
            int size = Math.max(tail.size(), draft.length - a - 1);
            int[] updated = new int[Math.max(0, size)];
            CandidateSource[] from = new CandidateSource[updated.length];
            int n = 0;
            for (int i = 0; i < updated.length; i++) {
                int depth = a + 1 + i;                   // the node whose prediction is the guess i of the new window
                if (i < tail.size()) {
                    from[n] = onChain ? CandidateSource.JACOBI : CandidateSource.RECYCLED;
                    updated[n++] = selected[tail.get(i)];
                } else if (depth < chainAt.length && chainAt[depth] >= 0) {
                    from[n] = CandidateSource.JACOBI;
                    updated[n++] = selected[chainAt[depth]];
                } else if (depth < draft.length) {
                    from[n] = origin[depth];
                    updated[n++] = draft[depth];
                } else {
                    break;
                }
            }
            spawnOrShrink(tree, selected);
            refill(Arrays.copyOf(updated, n), Arrays.copyOf(from, n), bonus);
        }

        /** Multi-block: grows the window by a block when its newest guesses already agree with each other. */
        private void spawnOrShrink(DraftTree tree, int[] selected) {
            if (blocks <= 1) {
                return;
            }
            int agree = 0;
            int run = 0;
            for (int k = 1; k < tree.size() && tree.parent(k) == k - 1
                    && trie.chainDepthOf(trie.trieNode(k)) == k - 1; k++) {
                run++;
                if (tree.token(k) == selected[k - 1]) {
                    agree++;
                }
            }
            if (run >= target - 1 && agree >= Math.ceil(SPAWN_RATIO * (target - 1))) {
                target = Math.min(blocks * window, target + window);
            } else if (agree < run / 2) {
                target = Math.max(window, target - window);
            }
        }

        /**
         * Sets the window to {@code start} extended to its target length with the initializer's guesses (by default
         * tokens drawn from the context, as the CLLM authors do and as a CLLM is trained to refine). Extending it
         * with n-gram continuations instead was measured to cost the text-to-SQL CLLM a third of its tokens per
         * pass: the model converges from the noise it was trained on, not from plausible text.
         */
        private void refill(int[] start, CandidateSource[] startOrigin, int root) {
            int want = Math.max(0, target - 1);
            if (!sources.contains(CandidateSource.JACOBI) || start.length >= want) {
                draft = Arrays.copyOf(start, Math.min(start.length, want));
                origin = Arrays.copyOf(startOrigin, draft.length);
                return;
            }
            int length = output.length();
            int[] seq = Arrays.copyOf(output.sequence(), length + want + 1);
            if (length == 0 || seq[length - 1] != root) {
                seq[length++] = root;
            }
            System.arraycopy(start, 0, seq, length, start.length);
            int[] out = Arrays.copyOf(start, want);
            CandidateSource[] from = Arrays.copyOf(startOrigin, want);
            initializer.fill(out, start.length, want - start.length, seq, length + start.length, rng);
            Arrays.fill(from, start.length, want, CandidateSource.JACOBI);
            draft = out;
            origin = from;
        }

        private void checkIds(int[] proposal) {
            session.model().config().checkTokenIds(proposal, proposal.length, "drafter proposal");
        }

        /** Hands the accepted tokens to the output, and the context index learns them. */
        private void accept(int[] tokens) {
            int appended = output.accept(tokens);
            newTokens += appended;
            for (int i = 0; i < appended; i++) {
                context.append(tokens[i]);
            }
        }

        /**
         * The source a verified run is credited to: for a node of the window, where its token came from (a Jacobi
         * prediction, or the pool or prompt continuation that refilled the window); else the first source that
         * proposed it.
         */
        private int creditedSource(int trieNode) {
            int d = trie.chainDepthOf(trieNode);
            if (d >= 0 && d < origin.length) {
                return origin[d].ordinal();
            }
            int bits = trie.sources(trieNode);
            for (CandidateSource s : CandidateSource.values()) {
                if ((bits & (1 << s.ordinal())) != 0) {
                    return s.ordinal();
                }
            }
            return CandidateSource.JACOBI.ordinal();
        }
    }

    private static int[] concat(int first, int[] rest) {
        int[] out = new int[rest.length + 1];
        out[0] = first;
        System.arraycopy(rest, 0, out, 1, rest.length);
        return out;
    }

    private static void count(List<Integer> histogram, int index) {
        while (histogram.size() <= index) {
            histogram.add(0);
        }
        histogram.set(index, histogram.get(index) + 1);
    }

    @Override
    public String toString() {
        return "LookaheadDecoder[window=" + window + ", blocks=" + blocks + ", sources=" + sources + ", candidates="
                + candidates + "x" + candidateLength + ", maxTree=" + maxTree
                + (fixedTree > 0 ? ", fixedTree=" + fixedTree : "") + ", pool=" + (sharedPool != null) + "]";
    }

    /** Configures a {@link LookaheadDecoder}; {@link #build()} validates. */
    public static final class Builder {
        private int window = DEFAULT_WINDOW;
        private int blocks = 1;
        private Set<CandidateSource> sources = EnumSet.of(CandidateSource.JACOBI, CandidateSource.POOL,
                CandidateSource.PROMPT, CandidateSource.RECYCLED);
        private NgramPool pool;
        private boolean learnIntoPool = true;
        private int candidates = DEFAULT_CANDIDATES;
        private int candidateLength = DEFAULT_CANDIDATE_LENGTH;
        private int maxTree = DEFAULT_MAX_TREE;
        private int fixedTree;
        private int ngram = DEFAULT_NGRAM;
        private PassCost passCost;
        private Drafter drafter;
        private BlockInitializer initializer = BlockInitializer.CONTEXT_SAMPLE;
        private long seed;
        private GenerationConfig.Builder generation = GenerationConfig.builder()
                .maxNewTokens(JacobiDecoder.DEFAULT_MAX_NEW_TOKENS);

        private Builder() {
        }

        /** The Jacobi window's length n (its block size), >= 2. */
        public Builder window(int n) {
            this.window = n;
            return this;
        }

        /** Multi-block decoding: the window may grow to this many blocks of n (Jacobi Forcing's K), >= 1. */
        public Builder blocks(int k) {
            this.blocks = k;
            return this;
        }

        /** The candidate sources to use (at least one; {@link CandidateSource#JACOBI} alone is Jacobi decoding with a
         *  running window and the cost model). */
        public Builder sources(Set<CandidateSource> s) {
            this.sources = s.isEmpty() ? EnumSet.noneOf(CandidateSource.class) : EnumSet.copyOf(s);
            return this;
        }

        /** A pool shared across requests (and pre-filled, e.g. with a task's answers); null: each request's own. */
        public Builder pool(NgramPool shared) {
            this.pool = shared;
            return this;
        }

        /** Whether requests add the n-grams they find to the shared pool (default true). */
        public Builder learnIntoPool(boolean learn) {
            this.learnIntoPool = learn;
            return this;
        }

        /** The most candidates each source proposes per pass, >= 1. */
        public Builder candidates(int g) {
            this.candidates = g;
            return this;
        }

        /** The most tokens per candidate, >= 1. */
        public Builder candidateLength(int l) {
            this.candidateLength = l;
            return this;
        }

        /** The most tokens one pass runs, >= 1 (the cost model picks fewer when they do not pay). */
        public Builder maxTreeSize(int s) {
            this.maxTree = s;
            return this;
        }

        /** Run exactly this many tokens per pass (the most probable ones) instead of letting the cost model choose;
         *  0 (the default) lets it choose. For experiments. */
        public Builder fixedTreeSize(int s) {
            this.fixedTree = s;
            return this;
        }

        /** The n-gram length of the pool the window fills, >= 2. */
        public Builder ngram(int n) {
            this.ngram = n;
            return this;
        }

        /** Use this cost curve instead of measuring one on first use. */
        public Builder passCost(PassCost cost) {
            this.passCost = Objects.requireNonNull(cost, "passCost");
            return this;
        }

        /** An application's own source of guesses ({@link CandidateSource#EXTERNAL}); null: none. */
        public Builder drafter(Drafter d) {
            this.drafter = d;
            return this;
        }

        /** How the window's guesses are filled when no n-gram continues it. */
        public Builder initializer(BlockInitializer init) {
            this.initializer = Objects.requireNonNull(init, "initializer");
            return this;
        }

        /** Seed of the initial guesses (affects speed only, never the output; not the sampling seed). */
        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /** The generation settings used when a call passes none. */
        public Builder generation(GenerationConfig config) {
            this.generation = config.toBuilder();
            return this;
        }

        /** The most tokens to generate, >= 1. */
        public Builder maxNewTokens(int n) {
            this.generation.maxNewTokens(n);
            return this;
        }

        /** Generate exactly {@code maxNewTokens} (context permitting): no EOS, no stop tokens, no stop strings. */
        public Builder noStop() {
            this.generation.noStop();
            return this;
        }

        /** @throws IllegalArgumentException naming the invalid setting */
        public LookaheadDecoder build() {
            check(window >= 2, "window must be >= 2, got " + window);
            check(blocks >= 1, "blocks must be >= 1, got " + blocks);
            check(candidates >= 1, "candidates must be >= 1, got " + candidates);
            check(candidateLength >= 1, "candidate length must be >= 1, got " + candidateLength);
            check(maxTree >= 1, "max tree size must be >= 1, got " + maxTree);
            check(fixedTree >= 0, "fixed tree size must be >= 0, got " + fixedTree);
            check(ngram >= 2, "n-gram length must be >= 2, got " + ngram);
            generation.build();
            return new LookaheadDecoder(this);
        }

        private static void check(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }
}
