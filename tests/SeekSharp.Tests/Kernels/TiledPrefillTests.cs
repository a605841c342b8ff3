using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The row-tiled Q8_0/Q4_0/Q5_0 prefill kernels (<see cref="PrefillTileKernels"/>: two rows x 8/4/1 token pairs,
/// precomputed -a or offset lane sums) must give exactly the single-token results and ggml's mul_mat for every token
/// count (odd tails, leftover pairs), row count (odd last row) and column count, threaded or not; switching them off
/// (old paired kernel) or lowering the vector width (four-token and single-token kernels) must not change a bit, and
/// neither must <see cref="KernelSettings.WholeGroupTiles"/> (any pair count per call, an odd last token padded to a pair
/// with a copy of itself, versus power-of-two pieces and a single-token pass).
/// </summary>
[Collection("Kernels")]
public unsafe class TiledPrefillTests
{
    private static readonly int[] TokenCounts = [.. Enumerable.Range(1, 17), 27, 35]; // 27: 8+4+1 pairs + odd; 35: 8+8+1 pairs + odd

    // (tiled, whole groups): the row-tiled kernel with either group walk, and the paired kernel
    private static readonly (bool Tiled, bool Whole)[] Modes = [(true, true), (true, false), (false, true)];

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    public void TiledPrefillEqualsSingleTokenDotsOnEveryPath(GgmlType type)
    {
        var rng = new Random(41 + (int)type);
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        foreach (var (rows, cols) in new[] { (1, 96), (2, 32), (37, 160), (19, 32 * 37) })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            int maxN = TokenCounts.Max();
            float[] x = ReferenceQuant.RandomActivations(maxN * cols, rng);
            float[] single = SingleTokenResults(type, w, rows, cols, x, maxN, pool1);
            foreach (int n in TokenCounts)
            foreach (var (tiled, whole) in Modes)
            foreach (int width in new[] { 512, 256, 128, 0 })
            foreach (var pool in new[] { pool1, pool2 })
            {
                if (width == 0 && pool == pool2)
                    continue; // the scalar path is slow and has no threading of its own to cover
                if (width < 512 && !whole)
                    continue; // the group walk only exists on the 512-bit path
                float[] y = Multiply(type, w, rows, cols, x, n, pool, tiled, width, whole);
                AssertSame(single, y, $"{type} {rows}x{cols} n={n} tiled={tiled} whole={whole} width={width} threads={pool.ThreadCount}");
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    public void TiledPrefillMatchesGgmlMulMat(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(43 + (int)type);
        using var pool = new WorkerPool(2);
        foreach (var (rows, cols) in new[] { (37, 160), (24, 32 * 37) })
        foreach (int n in new[] { 2, 9, 12, 13, 17, 35 })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[] expected = GgmlCpu.MulMat(type, w, rows, cols, x, n, 1);
            AssertSame(expected, Multiply(type, w, rows, cols, x, n, pool, tiled: true, 512), $"{type} {rows}x{cols} n={n} vs ggml");
            AssertSame(expected, Multiply(type, w, rows, cols, x, n, pool, tiled: true, 512, whole: false), $"{type} {rows}x{cols} n={n} split groups vs ggml");
        }
    }

    /// <summary>
    /// Largest magnitudes on both sides: Q8_0 weights of -128 and 127, Q4_0/Q5_0 values at both ends of their range,
    /// activations that quantize to +-127. The integer sums must stay exact (no int16 saturation in any formulation).
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    public void ExtremeValuesStayExact(GgmlType type)
    {
        int rows = 5, cols = 64, n = 19;
        int bs = GgmlTypeInfo.TypeSize(type);
        var w = new byte[rows * (cols / 32) * bs];
        for (int b = 0; b < w.Length / bs; b++)
        {
            int o = b * bs;
            BitConverter.TryWriteBytes(w.AsSpan(o), BitConverter.HalfToUInt16Bits((Half)0.5f));
            // Rows alternate between all-low and all-high stored values; the last row mixes them.
            bool high = (b / (cols / 32)) % 2 == 1;
            byte fill = type == GgmlType.Q8_0 ? (high ? (byte)0x7F : (byte)0x80) : high ? (byte)0xFF : (byte)0x00;
            for (int i = 2; i < bs; i++)
                w[o + i] = b / (cols / 32) == rows - 1 ? (byte)(i % 2 == 0 ? fill : ~fill) : fill;
        }
        var x = new float[n * cols];
        for (int t = 0; t < n; t++)
            for (int i = 0; i < cols; i++)
                x[t * cols + i] = (t + i) % 3 == 0 ? -3.5f : 3.5f; // every block's amax is 3.5: quants are +-127
        using var pool = new WorkerPool(1);
        float[] single = SingleTokenResults(type, w, rows, cols, x, n, pool);
        AssertSame(single, Multiply(type, w, rows, cols, x, n, pool, tiled: true, 512), $"{type} extremes tiled");
        AssertSame(single, Multiply(type, w, rows, cols, x, n, pool, tiled: true, 512, whole: false), $"{type} extremes tiled, split groups");
        AssertSame(single, Multiply(type, w, rows, cols, x, n, pool, tiled: false, 512), $"{type} extremes paired");
        if (GgmlCpu.Available)
            AssertSame(GgmlCpu.MulMat(type, w, rows, cols, x, n, 1), Multiply(type, w, rows, cols, x, n, pool, tiled: true, 512), $"{type} extremes vs ggml");
    }

    private static float[] SingleTokenResults(GgmlType type, byte[] w, int rows, int cols, float[] x, int n, WorkerPool pool)
    {
        var y = new float[n * rows];
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            for (int t = 0; t < n; t++)
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, y.AsSpan(t * rows, rows), pool);
        }
        return y;
    }

    private static float[] Multiply(GgmlType type, byte[] w, int rows, int cols, float[] x, int n, WorkerPool pool, bool tiled, int width, bool whole = true)
    {
        var y = new float[n * rows];
        bool old = KernelSettings.TiledPrefill, oldWhole = KernelSettings.WholeGroupTiles;
        KernelSettings.TiledPrefill = tiled;
        KernelSettings.WholeGroupTiles = whole;
        try
        {
            using (new ForcedWidth(width))
            fixed (byte* pw = w)
                MatMul.Multiply(new WeightMatrix(type, rows, cols, pw), x.AsSpan(0, n * cols), n, y, pool);
        }
        finally
        {
            KernelSettings.TiledPrefill = old;
            KernelSettings.WholeGroupTiles = oldWhole;
        }
        return y;
    }

    private static void AssertSame(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < actual.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i]),
                $"{what}: element {i}: {actual[i]:R} != {expected[i]:R}");
    }
}
