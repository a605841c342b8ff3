using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// <see cref="RepackedQ4_K"/> against the scalar model of llama.cpp's repacked Q4_K order (the same model that
/// <see cref="RepackOrderTests"/> pins to ggml_gemv / ggml_gemm_q4_K_8x8_q8_K bit for bit), at every vector width,
/// for both sub-block groupings, padding groups, partial group ranges and odd token counts.
/// </summary>
[Collection("Kernels")]
public sealed unsafe class RepackedQ4_KTests
{
    private const int QK_K = 256, Q4_KBytes = 144, Q8_KBytes = 292;

    private static byte[] Quantize(float[] x, int n, int cols)
    {
        var act = new byte[n * (cols / QK_K) * Q8_KBytes];
        fixed (float* px = x)
        fixed (byte* pa = act)
            for (int t = 0; t < n; t++)
                ActivationQuantizer.Quantize(GgmlType.Q8_K, px + t * cols, pa + t * (cols / QK_K) * Q8_KBytes, cols, 0);
        return act;
    }

    private static byte[] Pack(byte[] w, int rows, int cols)
    {
        var packed = new byte[RepackedQ4_K.PackedBytes(rows, cols)];
        int groups = (rows + 15) / 16;
        fixed (byte* pw = w)
        fixed (byte* pp = packed)
        {
            // in two calls, as a split load would
            RepackedQ4_K.Pack(pw, rows, cols, pp, 0, groups / 2);
            RepackedQ4_K.Pack(pw, rows, cols, pp, groups / 2, groups);
        }
        return packed;
    }

    /// <summary>Runs Multiply over [groupStart, groupEnd) into a NaN-filled output, by default with two spare columns per token.</summary>
    private static float[] Run(byte[] packed, int rows, int cols, byte[] act, int n, int groupStart, int groupEnd, bool gemm, int width, int yStride = -1)
    {
        long actRow = (long)(cols / QK_K) * Q8_KBytes;
        if (yStride < 0) yStride = rows + 2;
        var y = new float[n * yStride];
        Array.Fill(y, float.NaN);
        var prep = new byte[Math.Max(1, RepackedQ4_K.PrepareBytes(cols, n))];
        fixed (byte* pp = packed)
        fixed (byte* pa = act)
        fixed (byte* pr = prep)
        fixed (float* py = y)
        {
            RepackedQ4_K.Prepare(pa, actRow, n, cols, pr, 0, n / 2);
            RepackedQ4_K.Prepare(pa, actRow, n, cols, pr, n / 2, n);
            RepackedQ4_K.Multiply(pp, rows, cols, pa, actRow, pr, n, py, yStride, groupStart, groupEnd, gemm, width);
        }
        return y;
    }

    private static void Check(byte[] w, byte[] packed, int rows, int cols, byte[] act, int n, int groupStart, int groupEnd, bool gemm, int width)
    {
        float[] y = Run(packed, rows, cols, act, n, groupStart, groupEnd, gemm, width);
        int yStride = rows + 2, actRow = cols / QK_K * Q8_KBytes;
        int r0 = groupStart * 16, r1 = Math.Min(rows, groupEnd * 16);
        for (int t = 0; t < n; t++)
            for (int r = 0; r < yStride; r++)
            {
                float got = y[t * yStride + r];
                if (r < r0 || r >= r1)
                {
                    Assert.True(float.IsNaN(got), $"width {width} gemm {gemm} n={n}: wrote row {r} of token {t} outside [{r0}, {r1})");
                    continue;
                }
                float want = RepackOrderTests.ModelQ4_K(w, r, act, cols, gemm, t * actRow);
                if (BitConverter.SingleToInt32Bits(want) != BitConverter.SingleToInt32Bits(got))
                    Assert.Fail($"width {width} gemm {gemm} rows {rows} cols {cols} n={n} t={t} r={r}: model {want:R}, kernel {got:R}");
            }
    }

    private static int Width(int w) => Math.Min(Math.Abs(w), KernelSettings.HardwareWidth);

    public static IEnumerable<object[]> WidthsAndGroupings()
    {
        foreach (int w in Cases.Widths)
            foreach (bool gemm in new[] { false, true })
                yield return [w, gemm];
    }

    [Theory]
    [MemberData(nameof(WidthsAndGroupings))]
    public void MatchesModel(int width, bool gemm)
    {
        using var _ = new ForcedWidth(width);
        var rng = new Random(11 + width + (gemm ? 1000 : 0));
        var shapes = new (int Rows, int Cols)[] { (40, 256), (32, 1280), (24, 4352) };
        int[] ns = [1, 2, 3, 4, 5, 7, 8, 9, 17];
        foreach (var (rows, cols) in shapes)
        {
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
            byte[] packed = Pack(w, rows, cols);
            int groups = (rows + 15) / 16;
            foreach (int n in ns)
            {
                if (cols > 2048 && n > 9 && width != 512) continue;  // keep the slow paths' time down
                byte[] act = Quantize(ReferenceQuant.RandomActivations(n * cols, rng), n, cols);
                Check(w, packed, rows, cols, act, n, 0, groups, gemm, Width(width));
            }
        }
    }

    /// <summary>Group ranges that start past 0, end before the last group, or hold only the padding group.</summary>
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    [InlineData(-128)]
    [InlineData(0)]
    public void PartialGroupRanges(int width)
    {
        using var _ = new ForcedWidth(width);
        var rng = new Random(21);
        int rows = 72, cols = 512;  // 5 groups, the last one half padding
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
        byte[] packed = Pack(w, rows, cols);
        foreach (int n in new[] { 1, 4, 9 })
        {
            byte[] act = Quantize(ReferenceQuant.RandomActivations(n * cols, rng), n, cols);
            foreach (var (g0, g1) in new[] { (0, 1), (1, 4), (2, 5), (4, 5), (1, 2), (3, 3) })
                foreach (bool gemm in new[] { false, true })
                    Check(w, packed, rows, cols, act, n, g0, g1, gemm, Width(width));
        }
    }

    /// <summary>Prefill split into row tiles of one stored pair of groups (and no prefetching) gives the same results.</summary>
    [Fact]
    public void SmallRowTilesAndNoPrefetch()
    {
        int oldTile = RepackedQ4_K.PrefillTileBytes;
        bool oldPf = RepackedQ4_K.Prefetch;
        try
        {
            RepackedQ4_K.PrefillTileBytes = 1;
            RepackedQ4_K.Prefetch = false;
            var rng = new Random(61);
            int rows = 88, cols = 768;  // 6 groups, the last half padding
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
            byte[] packed = Pack(w, rows, cols);
            foreach (int n in new[] { 1, 6, 13 })
            {
                byte[] act = Quantize(ReferenceQuant.RandomActivations(n * cols, rng), n, cols);
                foreach (var (g0, g1) in new[] { (0, 6), (1, 6), (1, 4), (3, 5) })
                    foreach (bool gemm in new[] { false, true })
                        Check(w, packed, rows, cols, act, n, g0, g1, gemm, KernelSettings.Width);
            }
        }
        finally
        {
            RepackedQ4_K.PrefillTileBytes = oldTile;
            RepackedQ4_K.Prefetch = oldPf;
        }
    }

    /// <summary>Decode with the prefetch knobs turned (into L2, three super-blocks ahead) gives the same results.</summary>
    [Fact]
    public void PrefetchIntoL2FurtherAhead()
    {
        bool oldL2 = RepackedQ4_K.PrefetchToL2;
        int oldAhead = RepackedQ4_K.PrefetchSuperBlocks;
        try
        {
            RepackedQ4_K.PrefetchToL2 = true;
            RepackedQ4_K.PrefetchSuperBlocks = 3;
            var rng = new Random(67);
            int rows = 88, cols = 1024;
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
            byte[] packed = Pack(w, rows, cols);
            byte[] act = Quantize(ReferenceQuant.RandomActivations(cols, rng), 1, cols);
            foreach (var (g0, g1) in new[] { (0, 6), (1, 6), (3, 5) })
                Check(w, packed, rows, cols, act, 1, g0, g1, gemm: false, KernelSettings.Width);
        }
        finally
        {
            RepackedQ4_K.PrefetchToL2 = oldL2;
            RepackedQ4_K.PrefetchSuperBlocks = oldAhead;
        }
    }

    /// <summary>
    /// Every nibble 15, every scale and min 63, activations all +-127: the int16 pair sums and int32 group sums are at
    /// their largest and must stay exact.
    /// </summary>
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    [InlineData(-128)]
    [InlineData(0)]
    public void ExtremeIntegersStayExact(int width)
    {
        using var _ = new ForcedWidth(width);
        var rng = new Random(31);
        int rows = 32, cols = 1024, n = 9;
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
        for (int b = 0; b < w.Length / Q4_KBytes; b++)
            w.AsSpan(b * Q4_KBytes + 4, Q4_KBytes - 4).Fill(0xFF);
        var x = new float[n * cols];
        for (int i = 0; i < x.Length; i++)
            x[i] = (i / cols) % 2 == 0 ? 1f : -1f;
        byte[] act = Quantize(x, n, cols);
        byte[] packed = Pack(w, rows, cols);
        foreach (bool gemm in new[] { false, true })
            Check(w, packed, rows, cols, act, n, 0, 2, gemm, Width(width));
    }

    /// <summary>Subnormal, signed-zero, negative and largest f16 d / dmin convert exactly at every width.</summary>
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    [InlineData(-128)]
    [InlineData(0)]
    public void SpecialScalesConvertExactly(int width)
    {
        using var _ = new ForcedWidth(width);
        var rng = new Random(81);
        int rows = 48, cols = 512, n = 5;
        ushort[] halves = [0x0001, 0x03FF, 0x8001, 0x0000, 0x8000, 0x7BFF, 0xFBFF, 0x0400, 0x3C00, 0xB555];
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
        for (int b = 0; b < w.Length / Q4_KBytes; b++)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan(b * Q4_KBytes), halves[rng.Next(halves.Length)]);
            BinaryPrimitives.WriteUInt16LittleEndian(w.AsSpan(b * Q4_KBytes + 2), halves[rng.Next(halves.Length)]);
        }
        byte[] act = Quantize(ReferenceQuant.RandomActivations(n * cols, rng), n, cols);
        byte[] packed = Pack(w, rows, cols);
        foreach (bool gemm in new[] { false, true })
            Check(w, packed, rows, cols, act, n, 0, 3, gemm, Width(width));
    }

    /// <summary>Activations from llama.cpp's own quantize_row_q8_K (when the native library loads) give the same agreement.</summary>
    [Fact]
    public void MatchesModelWithNativeActivations()
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(41);
        int rows = 48, cols = 768, n = 5;
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
        byte[] packed = Pack(w, rows, cols);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var act = new byte[n * (cols / QK_K) * Q8_KBytes];
        for (int t = 0; t < n; t++)
            GgmlCpu.FromFloat(GgmlType.Q8_K, x.AsSpan(t * cols, cols).ToArray()).CopyTo(act, t * (cols / QK_K) * Q8_KBytes);
        foreach (bool gemm in new[] { false, true })
            Check(w, packed, rows, cols, act, n, 0, 3, gemm, KernelSettings.Width);
    }

    /// <summary>
    /// End to end against llama.cpp itself: ggml_mul_mat with the weights in CPU_REPACK (gemm for the first n - n%4 tokens,
    /// gemv for the rest) equals our kernel called the same way, bit for bit.
    /// </summary>
    [Fact]
    public void MatchesRepackedGgmlMulMat()
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(71);
        int rows = 40, cols = 1024;
        byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
        byte[] packed = Pack(w, rows, cols);
        int actRow = cols / QK_K * Q8_KBytes;
        foreach (int n in new[] { 1, 5, 9 })
        {
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? native = GgmlCpu.MulMatRepacked(GgmlType.Q4_K, w, rows, cols, x, n, out _);
            if (native is null) return;
            var act = new byte[n * actRow];
            for (int t = 0; t < n; t++)
                GgmlCpu.FromFloat(GgmlType.Q8_K, x.AsSpan(t * cols, cols).ToArray()).CopyTo(act, t * actRow);
            int gemmTokens = n - n % 4;
            float[] ours = new float[n * rows];
            if (gemmTokens > 0)
                Run(packed, rows, cols, act[..(gemmTokens * actRow)], gemmTokens, 0, 3, true, KernelSettings.Width, rows).CopyTo(ours, 0);
            Run(packed, rows, cols, act[(gemmTokens * actRow)..], n - gemmTokens, 0, 3, false, KernelSettings.Width, rows).CopyTo(ours, gemmTokens * rows);
            for (int i = 0; i < ours.Length; i++)
                Assert.True(BitConverter.SingleToInt32Bits(native[i]) == BitConverter.SingleToInt32Bits(ours[i]),
                    $"n={n} t={i / rows} r={i % rows}: ggml {native[i]:R}, ours {ours[i]:R}");
        }
    }

    /// <summary>Pack writes exactly its own groups' tiles (a split load may pack groups in any order), zero padding rows included.</summary>
    [Fact]
    public void PackFillsOnlyItsGroups()
    {
        var rng = new Random(51);
        int cols = 512;
        foreach (int rows in new[] { 24, 40 })
        {
            byte[] w = ReferenceQuant.RandomWeights(GgmlType.Q4_K, rows, cols, rng);
            int groups = (rows + 15) / 16;
            long tileRow = RepackedQ4_K.PackedBytes(16, cols);
            Assert.Equal(groups * tileRow, RepackedQ4_K.PackedBytes(rows, cols));
            byte[] whole = Pack(w, rows, cols);
            var pieces = new byte[whole.Length];
            Array.Fill(pieces, (byte)0xAB);
            for (int g = groups - 1; g >= 0; g--)
            {
                var single = new byte[whole.Length];
                Array.Fill(single, (byte)0xAB);
                fixed (byte* pw = w)
                fixed (byte* ps = single)
                fixed (byte* pp = pieces)
                {
                    RepackedQ4_K.Pack(pw, rows, cols, ps, g, g + 1);
                    RepackedQ4_K.Pack(pw, rows, cols, pp, g, g + 1);
                }
                Assert.True(single.Count(b => b != 0xAB) <= tileRow, $"rows {rows}: group {g} wrote outside its tiles");
            }
            Assert.Equal(whole, pieces);
        }
    }
}
