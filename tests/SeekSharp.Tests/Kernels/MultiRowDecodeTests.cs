using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The multi-row decode kernels for the 32-value block types (<see cref="LegacyDecode"/>) against the one-row kernels and
/// ggml's vec_dot, bit for bit: every row count 1..9 (four-row passes, the two-row and one-row tails), several column
/// counts (one block, an odd block count, model-like widths), every vector path, and through
/// <see cref="MatMul.Multiply"/> / <see cref="MatMul.MultiplyShared(ReadOnlySpan{float}, int, SeekSharp.Numerics.Threading.WorkerPool, in WeightMatrix, Span{float}, in WeightMatrix, Span{float})"/>
/// with <see cref="KernelSettings.MultiRowDecode"/> on and off.
/// </summary>
[Collection("Kernels")]
public unsafe class MultiRowDecodeTests
{
    private static readonly GgmlType[] s_types = [GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0, GgmlType.Q4_1, GgmlType.Q5_1];

    public static IEnumerable<object[]> TypesByWidth()
    {
        foreach (GgmlType t in s_types)
            foreach (int w in Cases.Widths)
                yield return [t, w];
    }

    private static void Rows(GgmlType type, byte* w, long rowBytes, byte* a, int cols, int width, float* y, int rows)
    {
        switch (type)
        {
            case GgmlType.Q4_0: LegacyDecode.Rows<Q4_0Kernel>(w, rowBytes, a, cols, width, y, rows); break;
            case GgmlType.Q5_0: LegacyDecode.Rows<Q5_0Kernel>(w, rowBytes, a, cols, width, y, rows); break;
            case GgmlType.Q8_0: LegacyDecode.Rows<Q8_0Kernel>(w, rowBytes, a, cols, width, y, rows); break;
            case GgmlType.Q4_1: LegacyDecode.Rows<Q4_1Kernel>(w, rowBytes, a, cols, width, y, rows); break;
            case GgmlType.Q5_1: LegacyDecode.Rows<Q5_1Kernel>(w, rowBytes, a, cols, width, y, rows); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    /// <summary>Random weight rows and one random activation row converted for the kernels at <paramref name="width"/>;
    /// <paramref name="zeroBlock"/> zeroes the activation's third block.</summary>
    private static (byte[] W, byte[] Act, long RowBytes) RandomCase(GgmlType type, int rows, int cols, int width, Random rng, bool zeroBlock)
    {
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(cols, rng);
        if (zeroBlock)
            Array.Clear(x, 64, 32); // an all-zero activation block
        GgmlType dotType = MatMul.DotType(type);
        byte[] act = new byte[ActivationQuantizer.KernelRowBytes(dotType, cols)];
        fixed (float* px = x)
        fixed (byte* pa = act)
            ActivationQuantizer.QuantizeForKernel(dotType, px, pa, cols, width);
        return (w, act, GgmlTypeInfo.RowSize(type, cols));
    }

    private static void AssertBits(float expected, float actual, string what) =>
        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"{what}: expected {expected:R}, got {actual:R}");

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void RowsMatchOneRowKernelAndGgml(GgmlType type, int width)
    {
        var rng = new Random(1200 + (int)type);
        using var force = new ForcedWidth(width);
        int eff = Math.Min(Math.Abs(width), KernelSettings.HardwareWidth);
        const int maxRows = 9;
        foreach (int cols in new[] { 32, 160, 512, 896 })
        {
            // Two extra rows so every row count also starts at an offset (rows that are not the first of a group).
            var (w, act, rowBytes) = RandomCase(type, maxRows + 2, cols, eff, rng, zeroBlock: cols >= 160);
            fixed (byte* pa = act)
            fixed (byte* pw = w)
            {
                var single = new float[maxRows + 2];
                for (int r = 0; r < single.Length; r++)
                {
                    single[r] = MatMul.DotRow(type, pw + r * rowBytes, pa, cols, eff);
                    if (GgmlCpu.Available)
                        AssertBits(GgmlCpu.VecDot(type, pw + r * rowBytes, pa, cols), single[r], $"{type} width {width} cols {cols} row {r} one-row vs ggml");
                }
                var y = new float[maxRows + 1];
                foreach (int start in new[] { 0, 2 })
                    for (int rows = 1; rows <= maxRows; rows++)
                    {
                        Array.Fill(y, float.NaN);
                        fixed (float* py = y)
                            Rows(type, pw + start * rowBytes, rowBytes, pa, cols, eff, py, rows);
                        for (int r = 0; r < rows; r++)
                            AssertBits(single[start + r], y[r], $"{type} width {width} cols {cols} rows {rows} start {start} row {r}");
                        Assert.True(float.IsNaN(y[rows]), $"{type} width {width}: wrote past {rows} rows");
                    }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void MultiplyMatchesGgmlWithSwitchOnAndOff(GgmlType type, int width)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(1300 + (int)type);
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(2);
        using var force = new ForcedWidth(width);
        bool old = KernelSettings.MultiRowDecode;
        try
        {
            foreach (var (rows, cols) in new[] { (7, 96), (75, 512) })
            {
                byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
                byte[] w1 = ReferenceQuant.RandomWeights(type, 37, cols, rng);
                float[] x = ReferenceQuant.RandomActivations(cols, rng);
                byte[] act = GgmlCpu.FromFloat(MatMul.DotType(type), x);
                long rowBytes = GgmlTypeInfo.RowSize(type, cols);
                fixed (byte* pw = w)
                fixed (byte* pw1 = w1)
                fixed (byte* pa = act)
                {
                    var m = new WeightMatrix(type, rows, cols, pw);
                    var m1 = new WeightMatrix(type, 37, cols, pw1);
                    foreach (bool on in new[] { true, false })
                    {
                        KernelSettings.MultiRowDecode = on;
                        var y = new float[rows];
                        MatMul.Multiply(m, x, 1, y, pool);
                        var s0 = new float[rows];
                        var s1 = new float[37];
                        MatMul.MultiplyShared(x, 1, pool, m, s0, m1, s1);
                        for (int r = 0; r < rows; r++)
                        {
                            float expected = GgmlCpu.VecDot(type, pw + r * rowBytes, pa, cols);
                            AssertBits(expected, y[r], $"{type} width {width} multi-row {on} {rows}x{cols} Multiply row {r}");
                            AssertBits(expected, s0[r], $"{type} width {width} multi-row {on} {rows}x{cols} MultiplyShared row {r}");
                        }
                        for (int r = 0; r < 37; r++)
                            AssertBits(GgmlCpu.VecDot(type, pw1 + r * rowBytes, pa, cols), s1[r], $"{type} width {width} multi-row {on} shared second matrix row {r}");
                    }
                }
            }
        }
        finally
        {
            KernelSettings.MultiRowDecode = old;
        }
    }

    /// <summary>
    /// Both prefetch forms of the four-row kernel (a sweep over the next group into L1 for small groups, per row into L2
    /// for larger ones, split at <see cref="LegacyDecode.LinearPrefetchBytes"/>) leave every bit as the one-row kernel's,
    /// at widths where either form is the default (896 values: a 3.7 KiB Q8_0 group; 2048: 8.5 KiB; 4864: 20 KiB).
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q4_1)]
    public void EitherPrefetchFormGivesTheSameBits(GgmlType type)
    {
        var rng = new Random(1400 + (int)type);
        long old = LegacyDecode.LinearPrefetchBytes;
        int width = Math.Min(512, KernelSettings.HardwareWidth);
        try
        {
            foreach (int cols in new[] { 896, 2048, 4864 })
            {
                const int rows = 11;
                var (w, act, rowBytes) = RandomCase(type, rows, cols, width, rng, zeroBlock: false);
                fixed (byte* pa = act)
                fixed (byte* pw = w)
                {
                    foreach (long linear in new[] { 0L, long.MaxValue, old })
                    {
                        LegacyDecode.LinearPrefetchBytes = linear;
                        var y = new float[rows];
                        fixed (float* py = y)
                            Rows(type, pw, rowBytes, pa, cols, width, py, rows);
                        for (int r = 0; r < rows; r++)
                            AssertBits(MatMul.DotRow(type, pw + r * rowBytes, pa, cols, width), y[r],
                                $"{type} cols {cols} sweep limit {linear} row {r}");
                    }
                }
            }
        }
        finally
        {
            LegacyDecode.LinearPrefetchBytes = old;
        }
    }
}
