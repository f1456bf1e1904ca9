package dev.cllm.jacobi;

import dev.cllm.api.ConsistencyModel;
import dev.cllm.api.Decoder;
import dev.cllm.api.DecodingSession;
import dev.cllm.api.DraftTree;
import dev.cllm.api.Generation;
import dev.cllm.api.GenerationConfig;
import dev.cllm.api.GenerationListener;
import dev.cllm.api.StopReason;
import dev.cllm.api.TokenIds;
import dev.cllm.api.TokenSelector;

import java.util.Collections;
import java.util.EnumSet;
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

        Learned(int windowSize, int blocks) {
            this.window = new WindowChoice(windowSize, blocks);
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
     *  the first generation with the model has measured it, and always with a fixed tree size, which needs none). */
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
        Learned l = learned.computeIfAbsent(session.model(), m -> new Learned(window, blocks));
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
        private final NgramIndex context;                    // prompt lookup: the prompt and the output
        private final NgramIndex own;                        // the pool of this generation's own n-grams
        private final NgramIndex recycled;                   // rejected tails
        private final JacobiWindow window;
        private final WindowNgrams ngrams;
        private final PassStatistics statistics = new PassStatistics();

        Run(DecodingSession session, TokenIds prompt, Output output, AcceptanceModel acceptance,
            WindowChoice windowChoice) {
            this.session = session;
            this.prompt = prompt;
            this.output = output;
            this.acceptance = acceptance;
            this.windowChoice = windowChoice;
            this.context = new NgramIndex(NgramPool.DEFAULT_MAX_KEY, NgramPool.DEFAULT_PER_KEY, session.capacity() + 2);
            this.own = new NgramIndex(2, NgramPool.DEFAULT_PER_KEY, 1 << 16);
            this.recycled = new NgramIndex(2, 4, 1 << 14);
            SplittableRandom rng = new SplittableRandom(seed);
            this.window = new JacobiWindow(sources.contains(CandidateSource.JACOBI)
                    ? LookaheadDecoder.this.window * blocks - 1 : 0, initializer, rng);
            this.ngrams = new WindowNgrams(ngram, own, learnIntoPool ? sharedPool : null);
            this.rng = rng;
        }

        private final SplittableRandom rng;

        Generation decode(int[] promptIds, Learned l, Long sampleSeed) {
            long start = System.nanoTime();
            int root = session.prefill(promptIds);
            long prefillNanos = System.nanoTime() - start;
            statistics.prefill();
            for (int id : promptIds) {
                context.append(id);
            }
            accept(new int[]{root});
            PassCost cost = passCost;
            // a fixed tree size leaves the cost model nothing to choose, so nothing is measured for it
            if (cost == null && fixedTree == 0 && !output.stopped()
                    && session.capacity() - 1 - session.position() > 1) {
                cost = l.cost;
                if (cost == null) {
                    cost = PassCost.calibrate(session, root, maxTree);
                    l.cost = cost;
                }
            }
            window.start(output.sequence(), output.length());
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
            Set<CandidateSource> reported = EnumSet.copyOf(sources.isEmpty()
                    ? EnumSet.noneOf(CandidateSource.class) : sources);
            if (drafter != null) {
                reported.add(CandidateSource.EXTERNAL);
            }
            return new Generation(prompt, output.ids(), output.text(), output.stopReason(),
                    statistics.stats(LookaheadDecoder.this.window, reported, prefillNanos, decodeNanos), sampleSeed,
                    output.stopToken(), output.stopString());
        }

        /** One forward pass; returns the new root. */
        private int pass(int root, int maxNodes, int maxDepth, PassCost cost) {
            int forced = propose(root, maxNodes, maxDepth);
            DraftTree tree = trie.select(cost, maxNodes, fixedTree, Math.max(0, forced));
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

            if (forced >= 0 && fixedTree == 0) {
                windowChoice.record(accepted.length, cost.ratio(tree.size()));
            }
            statistics.pass(tree.size(), accepted.length, creditedSource(trie.trieNode(v)));
            accept(accepted);
            learn(tree, path);
            if (sources.contains(CandidateSource.POOL)) {
                ngrams.harvest(tree, selected, position, trie);
            }
            window.update(tree, selected, v, trie, output.sequence(), output.length());
            if (sources.contains(CandidateSource.RECYCLED)) {   // the rejected tail, keyed by the new root
                int[] tail = new int[window.size() + 1];
                tail[0] = bonus;
                System.arraycopy(window.guesses(), 0, tail, 1, window.size());
                recycled.add(tail, 0, tail.length);
            }
            return bonus;
        }

        /**
         * Puts this pass's candidates into the trie: the Jacobi window (its length chosen by the window choice), then
         * every other source's continuations of the context.
         *
         * @return the window guesses the pass must run (-1 when the window is off)
         */
        private int propose(int root, int maxNodes, int maxDepth) {
            int length = output.length();
            int[] seq = output.sequence();           // ends with the root
            trie.reset(root);
            if (maxDepth <= 0) {
                return -1;
            }
            int forced = -1;
            if (window.size() > 0) {
                int room = output.throughFirstStop(window.guesses(), 0, Math.min(window.size(), Math.min(maxDepth,
                        maxNodes - 1)));
                forced = fixedTree > 0 ? room : windowChoice.choose(room, rng);
                trie.insertJacobi(window.guesses(), window.origins(), forced, acceptance);
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
                        session.model().config().checkTokenIds(c, c.length, "drafter proposal");
                        trie.insert(0, c, Math.min(c.length, len), CandidateSource.EXTERNAL, acceptance);
                    }
                });
            }
            return fixedTree > 0 ? 0 : forced;
        }

        /** Records each tested guess (its parent was verified) as a trial of every kind that proposed it. */
        private void learn(DraftTree tree, int[] path) {
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

        /** Hands the accepted tokens to the output, and the context index learns them. */
        private void accept(int[] tokens) {
            int appended = output.accept(tokens);
            statistics.delivered(appended);
            for (int i = 0; i < appended; i++) {
                context.append(tokens[i]);
            }
        }

        /**
         * The source a verified run is credited to: for a node of the window, where its token came from (a Jacobi
         * prediction, or a recycled tail that replaced the window); else the first source that proposed it.
         */
        private CandidateSource creditedSource(int trieNode) {
            int d = trie.chainDepthOf(trieNode);
            if (d >= 0 && d < window.size()) {
                // the window's tail below a winning candidate counts as recycled only where recycling is on
                CandidateSource origin = window.origins()[d];
                return sources.contains(origin) ? origin : CandidateSource.JACOBI;
            }
            int bits = trie.sources(trieNode);
            for (CandidateSource s : CandidateSource.values()) {
                if ((bits & (1 << s.ordinal())) != 0) {
                    return s;
                }
            }
            return CandidateSource.JACOBI;
        }
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

        /**
         * Multi-block decoding: the window may reach this many blocks of n ahead (Jacobi Forcing's K), >= 1; the
         * window choice decides, from their measured rates, how many blocks the passes refine.
         */
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
