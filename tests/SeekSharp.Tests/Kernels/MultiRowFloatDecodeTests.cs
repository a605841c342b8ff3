using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The four-row F16/F32 decode kernel (<see cref="FloatDot.Dot64Rows4{T}"/>) against the one-row kernel
/// (<see cref="FloatDot.Dot64{T}"/>), bit for bit: model widths and a column count that leaves a tail, weights with and
/// without Inf/NaN/subnormal/-0 values (in the 64-value steps and in the tail), every vector path, and through
/// <see cref="MatMul.Multiply"/> for 1..9 rows (four-row passes plus one-row leftovers) and a multi-chunk matrix (the
/// prefetching passes) with <see cref="KernelSettings.MultiRowFloatDecode"/> on and off (F32 decode is not routed through
/// the four-row kernel, but runs the same checks).
/// </summary>
[Collection("Kernels")]
public unsafe class MultiRowFloatDecodeTests
{
    private static readonly int[] s_cols = [64, 200, 896, 4864];

    public static IEnumerable<object[]> TypesByWidth()
    {
        foreach (GgmlType t in new[] { GgmlType.F16, GgmlType.F32 })
            foreach (int w in Cases.Widths)
                foreach (bool special in new[] { false, true })
                    yield return [t, w, special];
    }

    private static void AssertBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"{what}: expected {expected:R} ({BitConverter.SingleToInt32Bits(expected):X8}), got {actual:R} ({BitConverter.SingleToInt32Bits(actual):X8})");

    private static readonly ushort[] s_halfSpecials = [0x7C00, 0xFC00, 0x7E00, 0x7C01, 0xFE12, 0x0001, 0x83FF, 0x0200, 0x8000];
    private static readonly float[] s_floatSpecials =
        [float.PositiveInfinity, float.NegativeInfinity, float.NaN, BitConverter.Int32BitsToSingle(0x7F800001), 1e-40f, -1e-42f, -0f];

    /// <summary>Random weights (F16 bits or F32 values), <paramref name="rows"/> x <paramref name="cols"/>.</summary>
    private static byte[] Weights(GgmlType type, int rows, int cols, bool special, Random rng)
    {
        int size = type == GgmlType.F16 ? 2 : 4;
        byte[] w = new byte[rows * cols * size];
        fixed (byte* p = w)
        {
            for (int i = 0; i < rows * cols; i++)
            {
                float v = (float)(rng.NextDouble() * 2 - 1);
                if (size == 2) ((Half*)p)[i] = (Half)v;
                else ((float*)p)[i] = v;
            }
            if (special)
            {
                // Sparse specials: some rows get none (so a group mixes rows with and without), some several, and
                // the leftover values past the last 64-value step get some too.
                for (int r = 0; r < rows; r++)
                {
                    if (r % 3 == 1) continue;
                    int count = 1 + rng.Next(3);
                    for (int k = 0; k < count; k++)
                    {
                        int c = k == 0 && cols % 64 != 0 ? cols - 1 - rng.Next(cols % 64) : rng.Next(cols);
                        if (size == 2) ((ushort*)p)[r * cols + c] = s_halfSpecials[rng.Next(s_halfSpecials.Length)];
                        else ((float*)p)[r * cols + c] = s_floatSpecials[rng.Next(s_floatSpecials.Length)];
                    }
                    // A run of subnormals / zeros in an otherwise finite row.
                    int at = rng.Next(cols);
                    for (int c = at; c < Math.Min(cols, at + 20); c++)
                    {
                        if (size == 2) ((ushort*)p)[r * cols + c] = (ushort)(rng.Next(0x400) | (rng.Next(2) << 15));
                        else ((float*)p)[r * cols + c] = BitConverter.Int32BitsToSingle(rng.Next(0x800000) | (rng.Next(2) << 31));
                    }
                }
            }
        }
        return w;
    }

    private static float[] Activations(int cols, Random rng)
    {
        // f16-representable values, as ActivationQuantizer leaves them for F16 weights.
        var a = new float[cols];
        for (int i = 0; i < cols; i++)
            a[i] = (float)(Half)(float)(rng.NextDouble() * 4 - 2);
        return a;
    }

    private static float Dot64(GgmlType type, byte* w, float* a, int cols, int width) =>
        type == GgmlType.F16 ? FloatDot.Dot64<Half>(w, a, cols, width) : FloatDot.Dot64<float>(w, a, cols, width);

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void Rows4MatchesDot64(GgmlType type, int width, bool special)
    {
        var rng = new Random(2100 + (int)type * 10 + (special ? 1 : 0));
        using var force = new ForcedWidth(width);
        int eff = KernelSettings.Width;
        const int rows = 6;
        foreach (int cols in s_cols)
        {
            byte[] w = Weights(type, rows, cols, special, rng);
            float[] a = Activations(cols, rng);
            long rowBytes = (long)cols * (type == GgmlType.F16 ? 2 : 4);
            fixed (byte* pw = w)
            fixed (float* pa = a)
            {
                var single = new float[rows];
                for (int r = 0; r < rows; r++)
                    single[r] = Dot64(type, pw + r * rowBytes, pa, cols, eff);
                var y = new float[5];
                // Every start row (groups mixing rows with and without specials), with and without prefetch.
                foreach (bool prefetch in new[] { true, false })
                    for (int start = 0; start + 4 <= rows; start++)
                    {
                        Array.Fill(y, float.NaN);
                        fixed (float* py = y)
                        {
                            if (type == GgmlType.F16)
                                FloatDot.Dot64Rows4<Half>(pw + start * rowBytes, rowBytes, pa, cols, eff, py, prefetch && start == 0);
                            else
                                FloatDot.Dot64Rows4<float>(pw + start * rowBytes, rowBytes, pa, cols, eff, py, prefetch && start == 0);
                        }
                        for (int r = 0; r < 4; r++)
                            AssertBits(single[start + r], y[r], $"{type} width {width} cols {cols} start {start} row {r}");
                        Assert.True(float.IsNaN(y[4]), "wrote past four rows");
                    }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void MultiplyMatchesDot64WithSwitchOnAndOff(GgmlType type, int width, bool special)
    {
        var rng = new Random(2200 + (int)type * 10 + (special ? 1 : 0));
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(2);
        using var force = new ForcedWidth(width);
        int eff = KernelSettings.Width;
        bool old = KernelSettings.MultiRowFloatDecode;
        try
        {
            foreach (int cols in s_cols)
            {
                // 1..9 rows: one chunk of four-row passes and one-row leftovers; 75 rows: several chunks (prefetching
                // passes, each chunk's last pass without), ending in three leftovers.
                int[] rowCounts = cols >= 4864 ? [1, 4, 5, 9, 75] : [1, 2, 3, 4, 5, 6, 7, 8, 9, 75];
                foreach (int rows in rowCounts)
                {
                    byte[] w = Weights(type, rows, cols, special, rng);
                    float[] x = Activations(cols, rng);
                    long rowBytes = (long)cols * (type == GgmlType.F16 ? 2 : 4);
                    fixed (byte* pw = w)
                    fixed (float* px = x)
                    {
                        var m = new WeightMatrix(type, rows, cols, pw);
                        var y = new float[rows + 1];
                        foreach (bool on in new[] { true, false })
                        {
                            KernelSettings.MultiRowFloatDecode = on;
                            Array.Fill(y, float.NaN);
                            MatMul.Multiply(m, x, 1, y.AsSpan(0, rows), pool);
                            for (int r = 0; r < rows; r++)
                                AssertBits(Dot64(type, pw + r * rowBytes, px, cols, eff), y[r], $"{type} width {width} multi-row {on} {rows}x{cols} row {r}");
                            Assert.True(float.IsNaN(y[rows]), "wrote past the rows");
                        }
                    }
                }
            }
        }
        finally
        {
            KernelSettings.MultiRowFloatDecode = old;
        }
    }
}
