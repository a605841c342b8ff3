using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The 512-bit K-quant decode kernels (<see cref="KQuantDecode"/>, one-row, two-row and four-row) against ggml's vec_dot bit for
/// bit, with an odd row count (the last row of a pair runs alone), and the same products with the kernels switched off
/// and on a narrower path (the generic kernels).
/// </summary>
[Collection("Kernels")]
public unsafe class RowPairedDecodeTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K, 512, true, true, false)]
    [InlineData(GgmlType.Q4_K, 512, false, true, false)]
    [InlineData(GgmlType.Q4_K, 512, false, true, true)]
    [InlineData(GgmlType.Q4_K, 512, false, false, true)]
    [InlineData(GgmlType.Q4_K, 256, true, true, true)]
    [InlineData(GgmlType.Q6_K, 512, true, true, false)]
    [InlineData(GgmlType.Q6_K, 512, false, true, false)]
    [InlineData(GgmlType.Q6_K, 512, false, true, true)]
    [InlineData(GgmlType.Q6_K, 512, false, false, true)]
    [InlineData(GgmlType.Q6_K, 256, true, true, true)]
    public void DecodeMatchesGgmlVecDot(GgmlType type, int width, bool paired, bool fast, bool fourRows)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(910 + (int)type);
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(2);
        using var force = new ForcedWidth(width);
        bool old = KernelSettings.RowPairedDecode, oldFast = KernelSettings.FastKQuantDecode, oldFour = KernelSettings.MultiRowKQuantDecode;
        KernelSettings.RowPairedDecode = paired;
        KernelSettings.FastKQuantDecode = fast;
        KernelSettings.MultiRowKQuantDecode = fourRows;
        try
        {
            foreach (var (rows, cols) in new[] { (7, 512), (70, 1536), (13, 256), (96, 4608) })
            {
                byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
                float[] x = ReferenceQuant.RandomActivations(cols, rng);
                if (cols >= 512) Array.Clear(x, 256, 256); // an all-zero activation block
                byte[] act = GgmlCpu.FromFloat(MatMul.DotType(type), x);
                var actual = new float[rows];
                long rowBytes = GgmlTypeInfo.RowSize(type, cols);
                fixed (byte* pw = w)
                fixed (byte* pa = act)
                {
                    MatMul.Multiply(new WeightMatrix(type, rows, cols, pw), x, 1, actual, pool);
                    for (int r = 0; r < rows; r++)
                    {
                        float expected = GgmlCpu.VecDot(type, pw + r * rowBytes, pa, cols);
                        Assert.True(BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual[r]),
                            $"{type} width {width} paired {paired} fast {fast} four {fourRows} {rows}x{cols} row {r}: ggml {expected:R}, ours {actual[r]:R}");
                    }
                }
            }
        }
        finally
        {
            KernelSettings.RowPairedDecode = old;
            KernelSettings.FastKQuantDecode = oldFast;
            KernelSettings.MultiRowKQuantDecode = oldFour;
        }
    }
}
