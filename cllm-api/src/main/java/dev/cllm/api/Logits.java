package dev.cllm.api;

/**
 * Next-token logits for a block of positions: row {@code t} scores every vocabulary id as the token that follows
 * block position {@code t}.
 *
 * <p>Immutable; the values are copied to the JVM heap (fp32) when the forward pass returns.
 */
public final class Logits {
    private final float[] values; // [rows * vocabSize], row-major
    private final int rows;
    private final int vocabSize;

    /** Wraps {@code values} (not copied: the caller hands them over). */
    public Logits(float[] values, int rows, int vocabSize) {
        if (rows < 0 || vocabSize <= 0 || (long) rows * vocabSize != values.length) {
            throw new IllegalArgumentException("logits of length " + values.length + " do not hold " + rows + " x "
                    + vocabSize + " values");
        }
        this.values = values;
        this.rows = rows;
        this.vocabSize = vocabSize;
    }

    public int rows() {
        return rows;
    }

    public int vocabSize() {
        return vocabSize;
    }

    public float get(int row, int tokenId) {
        return values[checkedRow(row) * vocabSize + tokenId];
    }

    /** A copy of one row. */
    public float[] row(int row) {
        float[] out = new float[vocabSize];
        System.arraycopy(values, checkedRow(row) * vocabSize, out, 0, vocabSize);
        return out;
    }

    /** The greedy token after block position {@code row}: the first id of maximal logit. */
    public int argmax(int row) {
        int base = checkedRow(row) * vocabSize;
        int best = 0;
        float bestValue = values[base];
        for (int v = 1; v < vocabSize; v++) {
            if (values[base + v] > bestValue) {
                bestValue = values[base + v];
                best = v;
            }
        }
        return best;
    }

    private int checkedRow(int row) {
        if (row < 0 || row >= rows) {
            throw new IndexOutOfBoundsException("row " + row + " outside [0, " + rows + ")");
        }
        return row;
    }
}
