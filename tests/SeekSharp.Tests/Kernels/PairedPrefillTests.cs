using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The paired-token prefill kernel (two tokens per 512-bit register) must give exactly the single-token results for
/// every token count (full groups of eight, a leftover pair, an odd last token), threaded or not, and switching it off
/// (or running below 512 bits) must fall back to the four-token kernel with the same results.
/// </summary>
[Collection("Kernels")]
public unsafe class PairedPrefillTests
{
    [Theory]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    public void PairedPrefillEqualsSingleTokenDots(GgmlType type)
    {
        var rng = new Random(17 + (int)type);
        int rows = 45, cols = 32 * 9;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        const int maxN = 19;
        float[] x = ReferenceQuant.RandomActivations(maxN * cols, rng);
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        var single = new float[maxN * rows];
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            for (int t = 0; t < maxN; t++)
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, single.AsSpan(t * rows, rows), pool1);
            foreach (int n in new[] { 2, 3, 7, 8, 9, 10, 16, 19 })
            {
                foreach (bool paired in new[] { true, false })
                foreach (int width in new[] { 512, 256 })
                foreach (var pool in new[] { pool1, pool2 })
                {
                    var y = new float[n * rows];
                    bool old = KernelSettings.WidePrefill;
                    KernelSettings.WidePrefill = paired;
                    try
                    {
                        using (new ForcedWidth(width))
                            MatMul.Multiply(m, x.AsSpan(0, n * cols), n, y, pool);
                    }
                    finally
                    {
                        KernelSettings.WidePrefill = old;
                    }
                    for (int i = 0; i < y.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(single[i]) == BitConverter.SingleToInt32Bits(y[i]),
                            $"{type} n={n} paired={paired} width={width} threads={pool.ThreadCount} token {i / rows} row {i % rows}: {y[i]} != {single[i]}");
                }
            }
        }
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.F32)]
    public void EightTokenSgemmKernelEqualsFourTokenKernel(GgmlType type)
    {
        var rng = new Random(23 + (int)type);
        int rows = 24, cols = 160; // rows % 4 == 0 and cols % 16 == 0: llama.cpp's tinyBLAS order applies
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        using var pool2 = new WorkerPool(2);
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            foreach (int n in new[] { 8, 9, 16, 21 })
            {
                float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
                foreach (int width in new[] { 512, 256 })
                {
                    var wide = new float[n * rows];
                    var narrow = new float[n * rows];
                    bool old = KernelSettings.WidePrefill;
                    try
                    {
                        using (new ForcedWidth(width))
                        {
                            KernelSettings.WidePrefill = true;
                            MatMul.Multiply(m, x, n, wide, pool2);
                            KernelSettings.WidePrefill = false;
                            MatMul.Multiply(m, x, n, narrow, pool2);
                        }
                    }
                    finally
                    {
                        KernelSettings.WidePrefill = old;
                    }
                    Assert.Equal(narrow.Select(BitConverter.SingleToInt32Bits), wide.Select(BitConverter.SingleToInt32Bits));
                }
            }
        }
    }
}
