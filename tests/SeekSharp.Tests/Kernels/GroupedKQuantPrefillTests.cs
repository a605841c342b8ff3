using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The grouped Q4_K / Q5_K / Q6_K prefill kernels (eight tokens per weight row, activations rearranged once per call) must give exactly
/// the single-token results for every token count (full groups, tails of 1-7 tokens), threaded or not, with a partial last
/// group padded (<see cref="KernelSettings.PaddedKQuantGroups"/>) or left to the four-token and single-token kernels;
/// switching it off (or running below 512 bits) falls back to the four-token kernel with the same results.
/// </summary>
[Collection("Kernels")]
public unsafe class GroupedKQuantPrefillTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K, 45, 256 * 3, false)]
    [InlineData(GgmlType.Q4_K, 16, 256 * 7, false)]
    [InlineData(GgmlType.Q4_K, 9, 256 * 2, true)]
    [InlineData(GgmlType.Q5_K, 45, 256 * 3, false)]
    [InlineData(GgmlType.Q5_K, 16, 256 * 7, false)]
    [InlineData(GgmlType.Q5_K, 9, 256 * 2, true)]
    [InlineData(GgmlType.Q6_K, 45, 256 * 3, false)]
    [InlineData(GgmlType.Q6_K, 16, 256 * 7, false)]
    [InlineData(GgmlType.Q6_K, 9, 256 * 2, true)]
    public void GroupedPrefillEqualsSingleTokenDots(GgmlType type, int rows, int cols, bool extreme)
    {
        var rng = new Random(31 + rows + cols);
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        const int maxN = 33;
        float[] x = ReferenceQuant.RandomActivations(maxN * cols, rng);
        if (extreme)
        {
            // Saturate the integer path: every weight value and 6-bit scale / min at its largest (Q6_K: scales -128 and
            // 127 alternating), activations at +-max.
            int bs = type == GgmlType.Q4_K ? 144 : type == GgmlType.Q5_K ? 176 : 210;
            for (int r = 0; r < rows; r++)
                for (int b = 0; b < cols / 256; b++)
                {
                    int o = r * (cols / 256) * bs + b * bs;
                    if (type != GgmlType.Q6_K)
                        for (int k = 4; k < bs; k++) w[o + k] = 0xFF;
                    else
                    {
                        for (int k = 0; k < 192; k++) w[o + k] = 0xFF;
                        for (int k = 192; k < 208; k++) w[o + k] = (byte)(k % 2 == 0 ? 0x80 : 0x7F);
                    }
                }
            for (int i = 0; i < x.Length; i++)
                x[i] = (i / 32 % 2 == 0 ? 1 : -1) * (i % 7 == 0 ? 1f : 0.999f);
        }
        using var pool1 = new WorkerPool(1);
        using var pool2 = new WorkerPool(2);
        var single = new float[maxN * rows];
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            for (int t = 0; t < maxN; t++)
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, single.AsSpan(t * rows, rows), pool1);
            foreach (int n in new[] { 2, 3, 5, 7, 8, 9, 10, 12, 13, 15, 16, 17, 24, 33 })
            {
                foreach (var (grouped, padded) in new[] { (true, true), (true, false), (false, true) })
                foreach (int width in new[] { 512, 256 })
                foreach (var pool in new[] { pool1, pool2 })
                {
                    var y = new float[n * rows];
                    bool old = KernelSettings.GroupedKQuantPrefill, oldPadded = KernelSettings.PaddedKQuantGroups;
                    KernelSettings.GroupedKQuantPrefill = grouped;
                    KernelSettings.PaddedKQuantGroups = padded;
                    try
                    {
                        using (new ForcedWidth(width))
                            MatMul.Multiply(m, x.AsSpan(0, n * cols), n, y, pool);
                    }
                    finally
                    {
                        KernelSettings.GroupedKQuantPrefill = old;
                        KernelSettings.PaddedKQuantGroups = oldPadded;
                    }
                    for (int i = 0; i < y.Length; i++)
                        Assert.True(BitConverter.SingleToInt32Bits(single[i]) == BitConverter.SingleToInt32Bits(y[i]),
                            $"n={n} grouped={grouped} padded={padded} width={width} threads={pool.ThreadCount} token {i / rows} row {i % rows}: {y[i]} != {single[i]}");
                }
            }
        }
    }
}
