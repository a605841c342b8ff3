using System.Buffers.Binary;
using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// <see cref="RepackedQ4_0"/> against the scalar model of llama.cpp's repacked Q4_0 order (the same model as
/// RepackOrderTests.ModelQ4_0, which is pinned against ggml_gemv/gemm there), bit for bit, at every width.
/// </summary>
[Collection("Kernels")]
public sealed unsafe class RepackedQ4_0Tests
{
    private const int Q4_0Bytes = 18, Q8_0Bytes = 34;

    public static IEnumerable<object[]> AllWidths() => Cases.Widths.Select(w => new object[] { w });

    private static byte[] Pack(byte[] w, int rows, int cols)
    {
        var packed = new byte[RepackedQ4_0.PackedBytes(rows, cols)];
        fixed (byte* pw = w, pp = packed)
            RepackedQ4_0.Pack(pw, rows, cols, pp, 0, (rows + 15) / 16);
        return packed;
    }

    /// <summary>n activation rows of Q8_0 from random floats, through our quantizer.</summary>
    private static byte[] Activations(int n, int cols, Random rng)
    {
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        long rowBytes = cols / 32 * Q8_0Bytes;
        var act = new byte[n * rowBytes];
        fixed (float* px = x)
        fixed (byte* pa = act)
            for (int t = 0; t < n; t++)
                ActivationQuantizer.Quantize(GgmlType.Q8_0, px + t * cols, pa + t * rowBytes, cols, 512);
        return act;
    }

    /// <summary>
    /// Runs Prepare (split over two token ranges) and Multiply for groups [g0, g1) into a fresh output of n rows of
    /// <paramref name="yStride"/> floats pre-filled with NaN, so untouched entries stay NaN.
    /// </summary>
    private static float[] Run(byte[] packed, int rows, int cols, byte[] act, int n, long yStride, int g0, int g1)
    {
        long actRow = cols / 32 * Q8_0Bytes;
        var prep = new byte[Math.Max(1, RepackedQ4_0.PrepareBytes(cols, n))];
        var y = new float[n * yStride];
        Array.Fill(y, float.NaN);
        fixed (byte* pp = packed, pa = act, pr = prep)
        fixed (float* py = y)
        {
            RepackedQ4_0.Prepare(pa, actRow, n, cols, pr, 0, n / 2);
            RepackedQ4_0.Prepare(pa, actRow, n, cols, pr, n / 2, n);
            RepackedQ4_0.Multiply(pp, rows, cols, pa, actRow, pr, n, py, yStride, g0, g1, KernelSettings.Width);
        }
        return y;
    }

    private static void AssertSame(float expected, float actual, string what)
    {
        if (BitConverter.SingleToInt32Bits(expected) != BitConverter.SingleToInt32Bits(actual))
            Assert.Fail($"{what}: model {expected:R} ({BitConverter.SingleToInt32Bits(expected):X8}), kernel {actual:R} ({BitConverter.SingleToInt32Bits(actual):X8})");
    }

    private static void Check(byte[] w, byte[] packed, int rows, int cols, byte[] act, int n, int width, string what)
    {
        float[] y = Run(packed, rows, cols, act, n, rows, 0, (rows + 15) / 16);
        int actRow = cols / 32 * Q8_0Bytes;
        for (int t = 0; t < n; t++)
            for (int r = 0; r < rows; r++)
                AssertSame(RepackOrderTests.ModelQ4_0(w, r, act, cols, t * actRow), y[t * rows + r], $"{what} width={width} n={n} t={t} r={r}");
    }

    /// <summary>Every token count the prefill splits differently (16/8/4/2/1 groups), with and without a padding group.</summary>
    [Theory]
    [MemberData(nameof(AllWidths))]
    public void MatchesModel(int width)
    {
        using var forced = new ForcedWidth(width);
        var rng = new Random(11);
        // 168 rows: 11 groups, five pairs (decode runs pairs 0+3 and 1+4 side by side, pair 2 alone, then group 10).
        foreach ((int rows, int cols) in new[] { (40, 256), (32, 1024), (24, 4352), (168, 256) })
        {
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
            byte[] packed = Pack(w, rows, cols);
            foreach (int n in new[] { 1, 2, 3, 4, 5, 7, 8, 9, 17, 31 })
                Check(w, packed, rows, cols, Activations(n, cols, rng), n, width, $"{rows}x{cols}");
        }
    }

    /// <summary>Row tiles of one group pair each (several tiles per call) and decode prefetch give the same bits.</summary>
    [Theory]
    [MemberData(nameof(AllWidths))]
    public void SmallRowTilesAndPrefetch(int width)
    {
        using var forced = new ForcedWidth(width);
        int old = RepackedQ4_0.PrefillTileBytes, oldAhead = RepackedQ4_0.DecodePrefetchBytes;
        RepackedQ4_0.PrefillTileBytes = 1;
        RepackedQ4_0.DecodePrefetchBytes = 1152;
        try
        {
            var rng = new Random(12);
            int rows = 104, cols = 512;
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
            byte[] packed = Pack(w, rows, cols);
            foreach (int n in new[] { 1, 7, 13 })
                Check(w, packed, rows, cols, Activations(n, cols, rng), n, width, "tiles");
        }
        finally
        {
            RepackedQ4_0.PrefillTileBytes = old;
            RepackedQ4_0.DecodePrefetchBytes = oldAhead;
        }
    }

    /// <summary>
    /// Extreme integers: nibbles all 0 or all 15, and raw activation bytes anywhere in [-128, 127] (more than the
    /// quantizer ever makes), so no 16-bit intermediate may saturate or wrap.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllWidths))]
    public void ExtremeIntegersStayExact(int width)
    {
        using var forced = new ForcedWidth(width);
        var rng = new Random(13);
        int rows = 24, cols = 512, n = 5, nb = cols / 32;
        foreach (int fill in new[] { 0x00, 0xFF, -1 })
        {
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
            if (fill >= 0)
                for (int b = 0; b < rows * nb; b++)
                    w.AsSpan(b * Q4_0Bytes + 2, 16).Fill((byte)fill);
            var act = new byte[n * nb * Q8_0Bytes];
            rng.NextBytes(act);
            for (int b = 0; b < n * nb; b++)
            {
                if (b % 3 == 0)
                    act.AsSpan(b * Q8_0Bytes + 2, 32).Fill(b % 2 == 0 ? (byte)0x80 : (byte)0x7F);
                BinaryPrimitives.WriteHalfLittleEndian(act.AsSpan(b * Q8_0Bytes), (Half)(rng.NextDouble() * 0.1));
            }
            Check(w, Pack(w, rows, cols), rows, cols, act, n, width, $"fill {fill}");
        }
    }

    /// <summary>
    /// Inf and NaN weight scales (and a zero activation scale, so Inf * 0 makes a NaN product) propagate exactly as in
    /// the model: the scale conversion keeps Inf/NaN, and the float operations are the same ones in the same order.
    /// </summary>
    [Theory]
    [MemberData(nameof(AllWidths))]
    public void NonFiniteScalesMatchModel(int width)
    {
        using var forced = new ForcedWidth(width);
        var rng = new Random(17);
        int rows = 40, cols = 256, n = 3, nb = cols / 32;
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
        BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan((1 * nb + 2) * Q4_0Bytes), 0x7C00);   // +Inf
        BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan((5 * nb + 0) * Q4_0Bytes), 0xFC00);   // -Inf
        BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan((17 * nb + 3) * Q4_0Bytes), 0x7E01);  // NaN with a payload
        BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan((33 * nb + 7) * Q4_0Bytes), 0x7C00);
        byte[] act = Activations(n, cols, rng);
        BinaryPrimitives.WriteUInt16LittleEndian(act.AsSpan((nb + 2) * Q8_0Bytes), 0);  // token 1, block 2: d_a = 0
        Check(w, Pack(w, rows, cols), rows, cols, act, n, width, "non-finite");
    }

    /// <summary>
    /// Partial group ranges write exactly their rows: nothing outside [g0 * 16, min(rows, g1 * 16)), nothing at or past
    /// <c>rows</c> (the stride leaves a gap after each token's rows).
    /// </summary>
    [Theory]
    [MemberData(nameof(AllWidths))]
    public void PartialGroupRanges(int width)
    {
        using var forced = new ForcedWidth(width);
        var rng = new Random(14);
        int rows = 200, cols = 256, stride = 211;  // 13 groups, the last one half padding
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
        byte[] packed = Pack(w, rows, cols);
        int actRow = cols / 32 * Q8_0Bytes;
        foreach (int n in new[] { 1, 2, 9 })
        {
            byte[] act = Activations(n, cols, rng);
            foreach ((int g0, int g1) in new[] { (0, 1), (1, 3), (2, 5), (4, 5), (3, 9), (2, 2), (1, 12), (12, 20), (0, 13) })
            {
                float[] y = Run(packed, rows, cols, act, n, stride, g0, g1);
                for (int t = 0; t < n; t++)
                    for (int r = 0; r < stride; r++)
                    {
                        float v = y[t * stride + r];
                        if (r >= g0 * 16 && r < Math.Min(rows, g1 * 16))
                            AssertSame(RepackOrderTests.ModelQ4_0(w, r, act, cols, t * actRow), v, $"groups [{g0},{g1}) n={n} t={t} r={r}");
                        else
                            Assert.True(float.IsNaN(v), $"groups [{g0},{g1}) n={n} t={t}: row {r} written");
                    }
            }
        }
    }

    /// <summary>Packing split over group ranges equals one call; padding rows are zero; the size is 18 bytes per block.</summary>
    [Fact]
    public void PackSplitEqualsOneCall()
    {
        var rng = new Random(15);
        int rows = 88, cols = 768, groups = 6;
        Assert.Equal(groups * (cols / 32) * 288L, RepackedQ4_0.PackedBytes(rows, cols));
        Assert.Equal(96L * cols / 32 * 18, RepackedQ4_0.PackedBytes(rows, cols));
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
        byte[] whole = Pack(w, rows, cols);
        var split = new byte[whole.Length];
        rng.NextBytes(split);  // garbage: every byte must be written
        fixed (byte* pw = w, ps = split)
        {
            RepackedQ4_0.Pack(pw, rows, cols, ps, 4, groups);
            RepackedQ4_0.Pack(pw, rows, cols, ps, 0, 1);
            RepackedQ4_0.Pack(pw, rows, cols, ps, 1, 4);
        }
        Assert.Equal(whole, split);

        // Zero-padded rows in the last group equal packing a matrix with explicit zero rows.
        var padded = new byte[96 * cols / 32 * Q4_0Bytes];
        w.CopyTo(padded, 0);
        Assert.Equal(Pack(padded, 96, cols), whole);
    }

    /// <summary>
    /// Against llama.cpp itself: ggml_mul_mat with Q4_0 weights in CPU_REPACK (gemm for groups of 4 tokens, gemv for
    /// the rest) and ggml's own from_float activations.
    /// </summary>
    [Theory]
    [InlineData(512)]
    [InlineData(0)]
    public void MatchesRepackedGgml(int width)
    {
        if (!GgmlCpu.Available) return;
        using var forced = new ForcedWidth(width);
        var rng = new Random(16);
        int rows = 40, cols = 1024;
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_0, rows, cols, rng);
        byte[] packed = Pack(w, rows, cols);
        foreach (int n in new[] { 1, 5 })
        {
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? expected = GgmlCpu.MulMatRepacked(GgmlType.Q4_0, w, rows, cols, x, n, out _);
            if (expected is null) return;
            byte[] act = GgmlCpu.FromFloat(GgmlType.Q8_0, x);
            float[] y = Run(packed, rows, cols, act, n, rows, 0, 3);
            for (int i = 0; i < n * rows; i++)
                AssertSame(expected[i], y[i], $"ggml n={n} t={i / rows} r={i % rows}");
        }
    }
}
