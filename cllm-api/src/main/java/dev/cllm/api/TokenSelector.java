package dev.cllm.api;

import java.util.Arrays;
import java.util.Set;

/**
 * How a session turns the logits after a position into the next token: a fixed chain of processors, then a greedy or
 * sampled pick. Every step is a function of the logits, of the tokens before the position (the prefix), of the
 * request's seed and of the position itself, and of nothing else: so the token at each absolute position is the same
 * whether it is computed one token per pass (autoregressive decoding), inside a Jacobi block, or on a branch of a
 * {@link DraftTree}. That is what keeps Jacobi decoding and candidate verification lossless under sampling: a guess
 * is accepted exactly when it equals the token autoregressive decoding would have selected there, with the same seed.
 *
 * <p>The chain, in Hugging Face's order:
 * <ol>
 *   <li><b>penalties</b>: repetition penalty {@code r} on every token that occurs in the prefix (prompt and output;
 *   a positive logit is divided by r, a negative one multiplied, as Hugging Face does); presence penalty {@code a}
 *   and frequency penalty {@code f} on tokens generated so far (OpenAI's: {@code logit -= a + f * count});</li>
 *   <li><b>minimum length</b>: the {@code minNewTokensStopIds} cannot be selected while fewer than
 *   {@code minNewTokens} tokens have been generated;</li>
 *   <li>greedy (when not sampling): the first id of maximal processed logit;</li>
 *   <li>else <b>temperature</b> {@code T} (probabilities {@code softmax(logit / T)} in double precision),
 *   <b>top-k</b> (tokens whose logit is below the k-th largest are dropped; ties at the k-th value stay),
 *   <b>top-p</b> (tokens sorted by probability, descending, ties by lower id; the shortest prefix whose mass reaches
 *   p stays), <b>min-p</b> (tokens below {@code minP} times the largest probability are dropped);</li>
 *   <li><b>pick</b> by the Gumbel-max trick: the kept token of largest {@code logit / T + g}, where
 *   {@code g = -log(-log(u))} and {@code u = }{@link #uniform(long, int, int) uniform(seed, position, token)} comes from
 *   a counter-based hash of the seed, the position and the token id (no generator state: the same on every device
 *   and machine). The maximum follows {@code softmax(logit / T)} over the kept tokens exactly.</li>
 * </ol>
 * Why Gumbel-max rather than inverse transform sampling with one number per position (which would need a single
 * random number instead of one per vocabulary entry): a pass over one token and a pass over a block compute logits
 * that differ in the last bits (different matrix shapes sum in different orders). A sampled token changes under such
 * a difference only when the two best perturbed scores are that close, about as rarely as a greedy argmax flips;
 * under inverse transform sampling it changes whenever the uniform number falls that close to any boundary of the
 * cumulative distribution, which over a few dozen kept tokens was measured (stories260K, top-k 40) to flip about
 * one token in 300 between autoregressive and Jacobi decoding.
 *
 * <p>{@link #select} is the reference implementation on heap logits: sessions that compute on a device must select
 * the same tokens (up to floating-point rounding). Immutable.
 *
 * @param sample              whether to sample; false selects greedily after the penalties and the minimum length
 * @param temperature         {@code T > 0}
 * @param topK                keep the k best tokens; 0 keeps all
 * @param topP                keep the smallest set of mass {@code >= topP}; 1 keeps all
 * @param minP                drop tokens below {@code minP} times the best probability; 0 keeps all
 * @param repetitionPenalty   {@code r >= 1} in practice ({@code > 0}); 1 is off
 * @param presencePenalty     subtracted once from the logit of every generated token; 0 is off
 * @param frequencyPenalty    subtracted per occurrence among the generated tokens; 0 is off
 * @param seed                the request's seed
 * @param minNewTokens        the {@code minNewTokensStopIds} are not selectable before this many new tokens
 * @param minNewTokensStopIds the ids the minimum length suppresses (the stop tokens)
 */
public record TokenSelector(boolean sample, double temperature, int topK, double topP, double minP,
                            double repetitionPenalty, double presencePenalty, double frequencyPenalty, long seed,
                            int minNewTokens, Set<Integer> minNewTokensStopIds) {

    /** Plain greedy decoding: the first id of maximal logit. */
    public static final TokenSelector GREEDY = new TokenSelector(false, 1.0, 0, 1.0, 0.0, 1.0, 0.0, 0.0, 0, 0,
            Set.of());

    public TokenSelector {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be > 0 and finite, got " + temperature
                    + " (for greedy decoding, do not sample)");
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0 (0 = off), got " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be > 0 and finite, got " + repetitionPenalty);
        }
        if (!Double.isFinite(presencePenalty) || !Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("presence and frequency penalties must be finite, got "
                    + presencePenalty + " and " + frequencyPenalty);
        }
        if (minNewTokens < 0) {
            throw new IllegalArgumentException("min_new_tokens must be >= 0, got " + minNewTokens);
        }
        minNewTokensStopIds = Set.copyOf(minNewTokensStopIds);
    }

    /** Whether this is plain greedy decoding (argmax of the raw logits), the fast path. */
    public boolean isGreedyArgmax() {
        return !sample && !hasPenalties() && (minNewTokens == 0 || minNewTokensStopIds.isEmpty());
    }

    /** Whether any penalty reads the prefix. */
    public boolean hasPenalties() {
        return repetitionPenalty != 1.0 || presencePenalty != 0.0 || frequencyPenalty != 0.0;
    }

    /**
     * The 32-bit key of one position's noise: the top half of the SplitMix64 finaliser of
     * {@code seed + (position + 1) * 0x9E3779B97F4A7C15}.
     */
    public static int positionKey(long seed, int position) {
        long z = seed + (position + 1L) * 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        z = z ^ (z >>> 31);
        return (int) (z >>> 32);
    }

    /**
     * The hash of a token id that the noise starts from: {@link #mix32} of {@code token + 0x9E3779B9} (mod 2^32).
     * A bijection on 32 bits, so distinct ids never share noise.
     */
    public static int tokenHash(int token) {
        return mix32(token + 0x9E3779B9);
    }

    /**
     * The uniform number in (0, 1) behind the noise of {@code token} at absolute {@code position}:
     * {@code (mix32(tokenHash(token) ^ positionKey(seed, position)) + 0.5) / 2^32}. Counter-based: no state, the same
     * on every machine and device.
     */
    public static double uniform(long seed, int position, int token) {
        return uniform(tokenHash(token) ^ positionKey(seed, position));
    }

    /** {@code (mix32(x) + 0.5) / 2^32}, with x = a token hash xor a position key. */
    static double uniform(int x) {
        return ((mix32(x) & 0xFFFFFFFFL) + 0.5) * 0x1.0p-32;
    }

    /**
     * A 32-bit integer hash with low bias (Chris Wellons' "lowbias32"): {@code x ^= x >>> 16; x *= 0x7feb352d;
     * x ^= x >>> 15; x *= 0x846ca68b; x ^= x >>> 16}, all mod 2^32.
     */
    public static int mix32(int x) {
        x ^= x >>> 16;
        x *= 0x7feb352d;
        x ^= x >>> 15;
        x *= 0x846ca68b;
        x ^= x >>> 16;
        return x;
    }

    /** The Gumbel noise of {@code token} at {@code position}: {@code -log(-log(u))}. */
    public static double gumbel(long seed, int position, int token) {
        return -Math.log(-Math.log(uniform(seed, position, token)));
    }

    /**
     * The reference selection: the token at position {@code length} after {@code sequence[0, length)}.
     *
     * @param logits      the logits after position {@code length - 1}: {@code logits[offset, offset + vocab)}
     * @param sequence    the prefix (prompt then generated tokens)
     * @param length      its length: the position of the token being selected
     * @param outputStart where the generated tokens start in the prefix (the prompt's length)
     */
    public int select(float[] logits, int offset, int vocab, int[] sequence, int length, int outputStart) {
        double[] x = new double[vocab];
        for (int v = 0; v < vocab; v++) {
            x[v] = logits[offset + v];
        }
        applyPenalties(x, sequence, length, outputStart);
        if (length - outputStart < minNewTokens) {
            for (int id : minNewTokensStopIds) {
                if (id < vocab) {
                    x[id] = Double.NEGATIVE_INFINITY;
                }
            }
        }
        if (!sample) {
            return argmax(x);
        }
        double[] p = keptProbabilities(x);
        int key = positionKey(seed, length);
        int best = -1;
        double bestScore = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) {
            if (p[v] > 0) {
                double score = x[v] / temperature - Math.log(-Math.log(uniform(tokenHash(v) ^ key)));
                if (best < 0 || score > bestScore) {
                    best = v;
                    bestScore = score;
                }
            }
        }
        return best;
    }

    /**
     * The probabilities sampling draws from, before normalisation, for logits already through the penalties and the
     * minimum length: {@code softmax(x / T)} with the tokens top-k, top-p and min-p drop set to 0.
     */
    public double[] keptProbabilities(double[] processed) {
        int vocab = processed.length;
        double max = Double.NEGATIVE_INFINITY;
        for (double v : processed) {
            max = Math.max(max, v);
        }
        double[] p = new double[vocab];
        double sum = 0;
        for (int v = 0; v < vocab; v++) {
            p[v] = processed[v] == Double.NEGATIVE_INFINITY ? 0 : Math.exp((processed[v] - max) / temperature);
            sum += p[v];
        }
        for (int v = 0; v < vocab; v++) {
            p[v] /= sum;
        }
        if (topK > 0 && topK < vocab) {
            double[] sorted = processed.clone();
            Arrays.sort(sorted);
            double kth = sorted[vocab - topK];
            for (int v = 0; v < vocab; v++) {
                if (processed[v] < kth) {
                    p[v] = 0;
                }
            }
        }
        if (topP < 1) {
            Integer[] order = new Integer[vocab];
            for (int v = 0; v < vocab; v++) {
                order[v] = v;
            }
            double[] q = p;
            Arrays.sort(order, (a, b) -> q[a] != q[b] ? Double.compare(q[b], q[a]) : Integer.compare(a, b));
            double kept = 0;
            double mass = 0;
            for (double v : p) {
                mass += v;
            }
            int i = 0;
            for (; i < vocab && kept < topP * mass; i++) {
                kept += p[order[i]];
            }
            for (; i < vocab; i++) {
                p[order[i]] = 0;
            }
        }
        if (minP > 0) {
            double best = 0;
            for (double v : p) {
                best = Math.max(best, v);
            }
            for (int v = 0; v < vocab; v++) {
                if (p[v] < minP * best) {
                    p[v] = 0;
                }
            }
        }
        return p;
    }

    /** Applies the penalties in place to {@code x}, the logits after {@code sequence[0, length)}. */
    public void applyPenalties(double[] x, int[] sequence, int length, int outputStart) {
        if (!hasPenalties()) {
            return;
        }
        int vocab = x.length;
        if (repetitionPenalty != 1.0) {
            boolean[] seen = new boolean[vocab];
            for (int i = 0; i < length; i++) {
                int t = sequence[i];
                if (t >= 0 && t < vocab && !seen[t]) {
                    seen[t] = true;
                    x[t] = x[t] > 0 ? x[t] / repetitionPenalty : x[t] * repetitionPenalty;
                }
            }
        }
        if (presencePenalty != 0.0 || frequencyPenalty != 0.0) {
            int[] counts = new int[vocab];
            for (int i = Math.max(0, outputStart); i < length; i++) {
                int t = sequence[i];
                if (t >= 0 && t < vocab) {
                    counts[t]++;
                }
            }
            for (int v = 0; v < vocab; v++) {
                if (counts[v] > 0) {
                    x[v] -= presencePenalty + frequencyPenalty * counts[v];
                }
            }
        }
    }

    private static int argmax(double[] x) {
        int best = 0;
        for (int v = 1; v < x.length; v++) {
            if (x[v] > x[best]) {
                best = v;
            }
        }
        return best;
    }
}
