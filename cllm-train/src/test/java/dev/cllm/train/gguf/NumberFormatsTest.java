package dev.cllm.train.gguf;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.FloatRange;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** fp16 conversion, Q8_0 quantization and the q/k row permutation. */
class NumberFormatsTest {

    @Test
    void everyHalfRoundTrips() {
        for (int h = 0; h < 0x10000; h++) {
            float f = Float16.toFloat((short) h);
            if (!Float.isNaN(f)) {
                assertThat(Float16.fromFloat(f) & 0xffff).as("half %04x", h).isEqualTo(h);
            }
        }
    }

    @Test
    void knownHalves() {
        assertThat(Float16.fromFloat(1f)).isEqualTo((short) 0x3c00);
        assertThat(Float16.fromFloat(65504f)).isEqualTo((short) 0x7bff);
        assertThat(Float16.fromFloat(65520f)).isEqualTo((short) 0x7c00);       // halfway to 2^16: ties to even = inf
        assertThat(Float16.fromFloat(0x1p-24f)).isEqualTo((short) 0x0001);     // smallest subnormal
        assertThat(Float16.fromFloat(0x1p-25f)).isEqualTo((short) 0x0000);     // halfway to zero: even
        assertThat(Float16.fromFloat(0x1.8p-24f)).isEqualTo((short) 0x0002);   // 1.5 units: to even (2)
        assertThat(Float16.fromFloat(-2f)).isEqualTo((short) 0xc000);
        assertThat(Float16.bf16ToFloat((short) 0x3f80)).isEqualTo(1f);
    }

    @Property
    void halfIsTheNearestRepresentable(@ForAll @FloatRange(min = -70000f, max = 70000f) float f) {
        short h = Float16.fromFloat(f);
        float back = Float16.toFloat(h);
        if (Float.isInfinite(back)) {
            assertThat(Math.abs(f)).isGreaterThanOrEqualTo(65520f);
            return;
        }
        double err = Math.abs((double) f - back);
        for (int step : new int[]{-1, 1}) {
            float neighbor = Float16.toFloat((short) (h + step));
            if (!Float.isNaN(neighbor) && !Float.isInfinite(neighbor) && Math.signum(neighbor) * Math.signum(back) >= 0) {
                double other = Math.abs((double) f - neighbor);
                assertThat(err).isLessThanOrEqualTo(other);
                if (err == other) {
                    assertThat(h & 1).as("tie goes to the even half").isZero();
                }
            }
        }
    }

    @Property
    void q8_0ErrorIsWithinHalfAStepPlusScaleRounding(@ForAll @Size(32) List<@FloatRange(min = -8f, max = 8f) Float> x,
                                                     @ForAll @IntRange(min = -20, max = 16) int exponent) {
        // up to 8 * 2^16: a block's scale amax/127 must fit fp16 (65504), or Q8_0 (ggml's too) stores infinity
        float[] block = new float[32];
        float amax = 0;
        for (int i = 0; i < 32; i++) {
            block[i] = Math.scalb(x.get(i), exponent);
            amax = Math.max(amax, Math.abs(block[i]));
        }
        ByteBuffer b = ByteBuffer.allocate(34).order(ByteOrder.LITTLE_ENDIAN);
        Q8_0.quantize(block, 0, 32, b);
        b.flip();
        float d = Float16.toFloat(b.getShort());
        for (int i = 0; i < 32; i++) {
            byte q = b.get();
            assertThat(Math.abs((int) q)).isLessThanOrEqualTo(127);
            // |x - fp16(d) q| <= d/2 (rounding to q) + 127 |d - fp16(d)| (2^-11 relative, 2^-25 when subnormal)
            assertThat((double) Math.abs(block[i] - d * q)).isLessThanOrEqualTo(GgufExporterTest.q8_0Bound(amax));
        }
    }

    @Test
    void q8_0OfZerosIsZeroAndRoundsHalvesAwayFromZero() {
        ByteBuffer b = ByteBuffer.allocate(34).order(ByteOrder.LITTLE_ENDIAN);
        Q8_0.quantize(new float[32], 0, 32, b);
        b.flip();
        assertThat(b.getShort()).isZero();
        while (b.hasRemaining()) {
            assertThat(b.get()).isZero();
        }
        assertThat(Q8_0.roundf(2.5f)).isEqualTo(3f);
        assertThat(Q8_0.roundf(-2.5f)).isEqualTo(-3f);
        assertThat(Q8_0.roundf(-0.49f)).isEqualTo(-0f);
    }

    @Property
    void permutationIsABijectionWithItsInverse(@ForAll @IntRange(min = 1, max = 32) int halfHeadDim,
                                               @ForAll @IntRange(min = 1, max = 4) int heads) {
        int headDim = 2 * halfHeadDim;
        boolean[] hit = new boolean[heads * headDim];
        for (int row = 0; row < hit.length; row++) {
            int src = QkPermutation.sourceRow(row, headDim);
            assertThat(src / headDim).as("stays in its head").isEqualTo(row / headDim);
            assertThat(QkPermutation.targetRow(src, headDim)).isEqualTo(row);
            assertThat(QkPermutation.sourceRow(QkPermutation.targetRow(row, headDim), headDim)).isEqualTo(row);
            hit[src] = true;
        }
        assertThat(hit).containsOnly(true);
    }

    @Test
    void permutationMakesRotateHalfPairsAdjacent() {
        // HF rotates dimension i with i + headDim/2; llama.cpp rotates 2i with 2i + 1
        int headDim = 8;
        for (int i = 0; i < headDim / 2; i++) {
            assertThat(QkPermutation.sourceRow(2 * i, headDim)).isEqualTo(i);
            assertThat(QkPermutation.sourceRow(2 * i + 1, headDim)).isEqualTo(i + headDim / 2);
        }
        float[] x = new float[2 * headDim * 3]; // two heads, three columns: value = source row
        for (int r = 0; r < 2 * headDim; r++) {
            for (int c = 0; c < 3; c++) {
                x[r * 3 + c] = r;
            }
        }
        QkPermutation.apply(x, 2 * headDim, 3, headDim);
        for (int r = 0; r < 2 * headDim; r++) {
            assertThat(x[r * 3 + 2]).isEqualTo(QkPermutation.sourceRow(r, headDim));
        }
    }
}
