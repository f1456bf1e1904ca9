package dev.cllm.train.gguf;

/**
 * The q/k row order llama.cpp's LLaMA graph expects, from a Hugging Face checkpoint's.
 *
 * <p>Hugging Face LLaMA rotates dimension i of a head with dimension i + headDim/2 ("rotate half"); llama.cpp's
 * {@code llama} architecture rotates adjacent pairs (2i, 2i+1). So within each head, output row {@code 2i + j} is
 * input row {@code j * headDim/2 + i} (j in {0, 1}) — the permutation llama.cpp's converter applies to q and k (weights
 * and biases; with the key-value head count for k). Qwen2 rotates halves in llama.cpp too and is not permuted.
 */
final class QkPermutation {
    private QkPermutation() {
    }

    /** The input row that output row {@code row} takes; heads are {@code headDim} rows each. */
    static int sourceRow(int row, int headDim) {
        int head = row / headDim;
        int r = row % headDim;
        int half = headDim / 2;
        return head * headDim + (r % 2) * half + r / 2;
    }

    /** The output row that input row {@code row} lands in: the inverse of {@link #sourceRow}. */
    static int targetRow(int row, int headDim) {
        int head = row / headDim;
        int r = row % headDim;
        int half = headDim / 2;
        return head * headDim + (r % half) * 2 + r / half;
    }

    /** Reorders the rows of {@code rows x cols} values in place; {@code rows} is a multiple of {@code headDim}. */
    static void apply(float[] x, int rows, int cols, int headDim) {
        if (headDim % 2 != 0 || rows % headDim != 0) {
            throw new IllegalArgumentException("cannot permute " + rows + " rows in heads of " + headDim);
        }
        float[] head = new float[headDim * cols];
        for (int h = 0; h < rows; h += headDim) {
            System.arraycopy(x, h * cols, head, 0, headDim * cols);
            for (int r = 0; r < headDim; r++) {
                System.arraycopy(head, (sourceRow(r, headDim)) * cols, x, (h + r) * cols, cols);
            }
        }
    }
}
