using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// Compares our activation quantizers and dot kernels with llama.cpp's CPU backend (P/Invoked from the AVX-512 build of
/// libggml-cpu.so). Both are expected to agree bit for bit on every path.
/// </summary>
[Collection("Kernels")]
public unsafe class GgmlParityTests
{
    public static IEnumerable<object[]> TypesByWidth() => Cases.TypesByWidth();
    public static IEnumerable<object[]> Types() => Cases.Types();

    [Theory]
    [MemberData(nameof(Types))]
    public void VecDotTypeMatchesGgml(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        Assert.Equal(GgmlCpu.VecDotType(type), MatMul.DotType(type));
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void ActivationsAndDotsMatchGgmlBitForBit(GgmlType type, int width)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(4321 + (int)type);
        int rows = 6, cols = Cases.ColsFor(type) * 2;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        GgmlType dotType = MatMul.DotType(type);
        long rowBytes = GgmlTypeInfo.RowSize(type, cols);

        for (int trial = 0; trial < 3; trial++)
        {
            float[] x = ReferenceQuant.RandomActivations(cols, rng);
            if (trial == 2)
                Array.Clear(x, 0, Math.Min(cols, 256)); // an all-zero block
            byte[] theirs = GgmlCpu.FromFloat(dotType, x);
            var ours = new byte[theirs.Length];
            using (new ForcedWidth(width))
            fixed (float* px = x)
            fixed (byte* po = ours)
                ActivationQuantizer.Quantize(dotType, px, po, cols, Math.Min(Math.Abs(width), KernelSettings.HardwareWidth));
            Assert.Equal(theirs, ours);

            fixed (byte* pw = w)
            fixed (byte* pa = theirs)
            {
                for (int r = 0; r < rows; r++)
                {
                    float expected = GgmlCpu.VecDot(type, pw + r * rowBytes, pa, cols);
                    float actual;
                    using (new ForcedWidth(width))
                        actual = MatMul.DotRow(type, pw + r * rowBytes, pa, cols, Math.Min(Math.Abs(width), KernelSettings.HardwareWidth));
                    Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
                        $"{type} width {width} row {r} trial {trial}: ggml {expected:R}, ours {actual:R} (diff {actual - expected:R})");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void MultiplyMatchesGgmlMulMat(GgmlType type, int width)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(77 + (int)type);
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(2);
        using var force = new ForcedWidth(width);
        var report = new List<string>();
        // 24 x 656 takes llamafile sgemm for multi-token float products; 26 rows or 648 columns do not.
        bool isFloat = GgmlTypeInfo.BlockSize(type) == 1;
        foreach (var (rows, cols) in isFloat ? new[] { (24, 656), (26, 656), (24, 648) } : new[] { (24, Cases.ColsFor(type) * 2), (26, Cases.ColsFor(type)) })
        foreach (int n in new[] { 1, 2, 7 })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[] expected = GgmlCpu.MulMat(type, w, rows, cols, x, n, 1);
            var actual = new float[n * rows];
            fixed (byte* pw = w)
                MatMul.Multiply(new WeightMatrix(type, rows, cols, pw), x, n, actual, pool);
            int diff = 0;
            for (int i = 0; i < actual.Length; i++)
                if (BitConverter.SingleToInt32Bits(actual[i]) != BitConverter.SingleToInt32Bits(expected[i]))
                    diff++;
            if (diff > 0)
                report.Add($"{rows}x{cols} n={n}: {diff}/{actual.Length} differ (e.g. ours {actual[0]:R} ggml {expected[0]:R})");
        }
        Assert.True(report.Count == 0, $"{type} width {width}: " + string.Join("; ", report));
    }

    /// <summary>
    /// llama.cpp's default CPU setup (use_extra_bufts) repacks Q4_0/Q4_K/Q2_K weights and multiplies them with
    /// different kernels whose float rounding differs from vec_dot's; MatMul follows vec_dot. This pins down that the
    /// two agree to rounding (documenting the known, expected difference).
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q2_K)]
    public void RepackedGgmlKernelsAgreeToRounding(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(19);
        int rows = 32, cols = 512;
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(1);
        foreach (int n in new[] { 1, 8 })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            float[]? repacked = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out _);
            if (repacked is null) return;
            var ours = new float[n * rows];
            fixed (byte* pw = w)
                MatMul.Multiply(new WeightMatrix(type, rows, cols, pw), x, n, ours, pool);
            long rowBytes = GgmlTypeInfo.RowSize(type, cols);
            for (int t = 0; t < n; t++)
            {
                byte[] act = GgmlCpu.FromFloat(MatMul.DotType(type), x.AsSpan(t * cols, cols).ToArray());
                for (int r = 0; r < rows; r++)
                {
                    double magnitude = ReferenceQuant.Dot(type, w, (int)(r * rowBytes), MatMul.DotType(type), act, cols).Magnitude;
                    Assert.True(Math.Abs(ours[t * rows + r] - repacked[t * rows + r]) <= 1e-5 * magnitude,
                        $"{type} n={n} t={t} r={r}: ours {ours[t * rows + r]}, repacked ggml {repacked[t * rows + r]}");
                }
            }
        }
    }
}
