package dev.cllm.train;

import dev.cllm.api.TokenIds;

import java.util.Arrays;
import java.util.List;

/**
 * One answer packed for Jacobi Forcing (arXiv 2512.14681, section 3.1; the layout of the authors' code): the context
 * followed by a noisy and a clean copy of each of its T blocks of n tokens,
 * {@code context (P) | noisy_0 | clean_0 | noisy_1 | clean_1 | ... | noisy_{T-1} | clean_{T-1}}, length P + 2Tn, with
 * what one forward pass over it needs and what its two loss terms read. Logit index t predicts the token after t.
 *
 * <ul>
 *   <li><b>Positions</b>: the context sits at 0..P-1; both copies of block j at {@code P + j·n + r} (offset r), where
 *   the block sits in the answer.</li>
 *   <li><b>Mask</b> (the paper's noise-conditioned "NC" mask, figure 2b): a context token sees the context up to
 *   itself; token r of noisy_j sees the context, the noisy blocks before j and noisy_j up to r; token r of clean_j
 *   sees the context, the clean blocks before j and clean_j up to r. So clean_j reads exactly what greedy decoding
 *   read (the teacher), and noisy_j reads the noisy versions of everything it generated (the student); no clean
 *   token ever sees a noisy one.</li>
 *   <li><b>Consistency term</b> (progressive distillation): for block j, the student's logits at noisy_j offset r
 *   against the teacher's at clean_j offset r (detached), for r from d_j, the first offset where the copies differ,
 *   to n - 1 (r = n - 1 predicts the next block's first token); in a last block that holds a stop token at s, to
 *   s - 1 only (nothing after EOS is learnt). Each position weighs 1/T, as the authors divide the term by T.</li>
 *   <li><b>AR term</b>: next-token pairs of the prompt (the first {@code promptLength} context tokens), the last
 *   context token to clean_0's first token, the last token of clean_{j-1} to clean_j's first, and inside clean_j up to
 *   and including a stop token. Together: the next-token pairs of prompt + answer, read from the clean copies.</li>
 * </ul>
 *
 * <p><b>Ground truth</b> ({@code --ar-target labels}): an answer that starts at its prompt may carry the task's
 * ground-truth answer g (A tokens, ending with a stop token). Then g's first A - 1 tokens follow the clean copies as a
 * third segment, {@code ... | clean_{T-1} | g_0 .. g_{A-2}}, at positions P..P+A-2, each seeing the context and the
 * segment up to itself (exactly what a causal pass over prompt + g reads), and the AR term scores the next-token pairs
 * of prompt + g instead of those of the clean copies: the prompt's, the last context token to g_0, and g_i to g_{i+1}.
 * The consistency term is unchanged (the fixed points stay the teacher).
 * Immutable; arrays are not exposed.
 */
final class PackedSequence implements TrainingExample {
    private final int[] ids;
    private final int contextLength;
    private final int blockSize;
    private final int blocks;
    private final int goldStart;     // index of the ground-truth segment, == ids.length when there is none
    private final int[] arLogits;    // logit index of each AR pair
    private final int[] arTargets;   // its target token
    private final int[] students;    // logit index in noisy_j of each consistency pair
    private final int[] teachers;    // the same offset in clean_j

    private PackedSequence(int[] ids, int contextLength, int blockSize, int blocks, int goldStart, int[] arLogits,
                           int[] arTargets, int[] students, int[] teachers) {
        this.ids = ids;
        this.contextLength = contextLength;
        this.blockSize = blockSize;
        this.blocks = blocks;
        this.goldStart = goldStart;
        this.arLogits = arLogits;
        this.arTargets = arTargets;
        this.students = students;
        this.teachers = teachers;
    }

    /**
     * Packs an answer.
     *
     * @param context      what the first block followed: the prompt, then any earlier fixed points
     * @param promptLength the leading context tokens whose next-token pairs the AR term scores: the original prompt,
     *                     or 0 for a part of an answer whose context was scored with an earlier part
     * @param noisy        the noisy state of each block, n tokens each
     * @param clean        the fixed point of each block; only the last may hold a stop token
     * @param stop         offset of the first stop token in the last fixed point, or n when it has none
     */
    static PackedSequence of(TokenIds context, int promptLength, List<TokenIds> noisy, List<TokenIds> clean,
                             int stop) {
        return of(context, promptLength, noisy, clean, stop, TokenIds.empty(), true);
    }

    /**
     * Packs an answer whose AR term scores the ground-truth answer {@code gold} after the context (see the class
     * comment), the clean copies, or (neither) only the prompt.
     *
     * @param gold    the ground-truth answer that follows {@code context} (then the prompt), ending with its stop
     *                token; empty for none
     * @param cleanAr whether the AR term scores the clean copies: false when {@code gold} is given, or when the
     *                answer's ground truth is scored with another part of it
     */
    static PackedSequence of(TokenIds context, int promptLength, List<TokenIds> noisy, List<TokenIds> clean,
                             int stop, TokenIds gold, boolean cleanAr) {
        if (!gold.isEmpty() && cleanAr) {
            throw new IllegalArgumentException("the AR term scores either the ground truth (" + gold.size()
                    + " tokens) or the clean copies, not both");
        }
        int p = context.size();
        int t = clean.size();
        if (t == 0 || noisy.size() != t) {
            throw new IllegalArgumentException(noisy.size() + " noisy blocks for " + t + " clean ones (need >= 1)");
        }
        int n = clean.get(0).size();
        for (int j = 0; j < t; j++) {
            if (noisy.get(j).size() != n || clean.get(j).size() != n) {
                throw new IllegalArgumentException("block " + j + " has " + noisy.get(j).size() + " noisy and "
                        + clean.get(j).size() + " clean tokens; block 0 has " + n);
            }
        }
        if (p < 1 || promptLength < 0 || promptLength > p) {
            throw new IllegalArgumentException("prompt length " + promptLength + " outside [0, " + p + "] (context "
                    + "length, >= 1)");
        }
        if (stop < 0 || stop > n) {
            throw new IllegalArgumentException("stop offset " + stop + " outside [0, " + n + "]");
        }
        int goldStart = p + 2 * t * n;
        int goldInputs = Math.max(0, gold.size() - 1);   // the last ground-truth token is only a target
        int[] ids = new int[goldStart + goldInputs];
        context.copyTo(ids, 0);
        for (int j = 0; j < t; j++) {
            noisy.get(j).copyTo(ids, p + 2 * j * n);
            clean.get(j).copyTo(ids, p + (2 * j + 1) * n);
        }
        for (int i = 0; i < goldInputs; i++) {
            ids[goldStart + i] = gold.get(i);
        }

        IntPairs ar = new IntPairs(p + t * n + gold.size());
        for (int i = 0; i + 1 < promptLength; i++) {
            ar.add(i, ids[i + 1]);
        }
        if (!gold.isEmpty()) {
            ar.add(p - 1, gold.get(0));
            for (int i = 0; i < goldInputs; i++) {
                ar.add(goldStart + i, gold.get(i + 1));
            }
        }
        IntPairs pc = new IntPairs(t * n);
        for (int j = 0; j < t; j++) {
            int noisyStart = p + 2 * j * n;
            int cleanStart = noisyStart + n;
            TokenIds y = clean.get(j);
            if (cleanAr) {
                ar.add(j == 0 ? p - 1 : cleanStart - n - 1, y.get(0));   // the context's or clean_{j-1}'s last token
                int end = j == t - 1 ? Math.min(n - 1, stop) : n - 1;   // the last in-block target
                for (int r = 0; r < end; r++) {
                    ar.add(cleanStart + r, y.get(r + 1));
                }
            }
            int d = 0;
            while (d < n && noisy.get(j).get(d) == y.get(d)) {
                d++;
            }
            int last = j == t - 1 && stop < n ? stop - 1 : n - 1;   // the last offset whose prediction is learnt
            for (int r = d; r <= last; r++) {
                pc.add(noisyStart + r, cleanStart + r);
            }
        }
        return new PackedSequence(ids, p, n, t, goldStart, ar.firsts(), ar.seconds(), pc.firsts(), pc.seconds());
    }

    /** Tokens of the packed sequence, P + 2Tn, plus A - 1 with a ground-truth answer of A tokens. */
    int length() {
        return ids.length;
    }

    int contextLength() {
        return contextLength;
    }

    int blockSize() {
        return blockSize;
    }

    /** T, the blocks of the answer. */
    int blocks() {
        return blocks;
    }

    /** Token {@code i} of the packed sequence. */
    int id(int i) {
        return ids[i];
    }

    /** Index of the ground-truth segment's first token; {@link #length()} when there is none. */
    int goldStart() {
        return goldStart;
    }

    /** The position (rotary angle index) of token {@code i}. */
    int position(int i) {
        if (i < contextLength) {
            return i;
        }
        if (i >= goldStart) {
            return contextLength + i - goldStart;
        }
        int b = (i - contextLength) / blockSize;   // 2j for noisy_j, 2j + 1 for clean_j
        int r = (i - contextLength) % blockSize;
        return contextLength + (b / 2) * blockSize + r;
    }

    /** Whether token {@code q} attends to token {@code k} (the NC mask, see the class comment). */
    boolean attends(int q, int k) {
        if (k > q) {
            return false;
        }
        if (k < contextLength) {
            return true;
        }
        if (q >= goldStart) {
            return k >= goldStart;   // the ground truth sees the context and itself
        }
        int bq = (q - contextLength) / blockSize;
        int bk = (k - contextLength) / blockSize;
        return bq == bk || bq % 2 == bk % 2;   // its own block up to itself, or an earlier block of its kind
    }

    /**
     * Writes this sequence's mask into the square region at {@code (offset, offset)} of a row-major
     * {@code width x width} mask (1 = attends), leaving the rest untouched: sequences packed side by side in one row
     * see nothing of each other.
     */
    void writeMask(byte[] mask, int width, int offset) {
        int p = contextLength;
        int n = blockSize;
        for (int q = 0; q < ids.length; q++) {
            int row = (offset + q) * width + offset;
            if (q < p) {
                Arrays.fill(mask, row, row + q + 1, (byte) 1);
                continue;
            }
            Arrays.fill(mask, row, row + p, (byte) 1);
            if (q >= goldStart) {
                Arrays.fill(mask, row + goldStart, row + q + 1, (byte) 1);
                continue;
            }
            int bq = (q - p) / n;
            for (int bk = bq % 2; bk < bq; bk += 2) {   // earlier blocks of the same kind
                Arrays.fill(mask, row + p + bk * n, row + p + (bk + 1) * n, (byte) 1);
            }
            Arrays.fill(mask, row + p + bq * n, row + q + 1, (byte) 1);
        }
    }

    /** Logit indices of the AR pairs. */
    int[] arLogits() {
        return arLogits.clone();
    }

    /** The tokens the AR pairs predict. */
    int[] arTargets() {
        return arTargets.clone();
    }

    /** Logit indices of the consistency pairs in the noisy copies (the student). */
    int[] students() {
        return students.clone();
    }

    /** Logit indices of the consistency pairs in the clean copies (the teacher), pair by pair. */
    int[] teachers() {
        return teachers.clone();
    }

    /** The weight of each consistency position: 1/T. */
    double consistencyWeight() {
        return 1.0 / blocks;
    }

    @Override
    public long consistencyPositions() {
        return students.length;
    }

    @Override
    public long arPositions() {
        return arLogits.length;
    }

    /** One pass over the whole packed sequence. */
    @Override
    public long inputTokens() {
        return ids.length;
    }

    /** A growable list of int pairs. */
    private static final class IntPairs {
        private int[] a;
        private int[] b;
        private int size;

        IntPairs(int capacity) {
            a = new int[Math.max(1, capacity)];
            b = new int[a.length];
        }

        void add(int x, int y) {
            if (size == a.length) {
                a = Arrays.copyOf(a, 2 * size);
                b = Arrays.copyOf(b, 2 * size);
            }
            a[size] = x;
            b[size++] = y;
        }

        int[] firsts() {
            return Arrays.copyOf(a, size);
        }

        int[] seconds() {
            return Arrays.copyOf(b, size);
        }
    }
}
