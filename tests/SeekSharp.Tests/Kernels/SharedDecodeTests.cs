using SeekSharp.Gguf;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary><see cref="MatMul.MultiplyShared(ReadOnlySpan{float}, int, SeekSharp.Numerics.Threading.WorkerPool, in WeightMatrix, Span{float}, in WeightMatrix, Span{float}, in WeightMatrix, Span{float})"/>
/// equals separate <see cref="MatMul.Multiply"/> calls bit for bit, fused (one token, one activation format) or not.</summary>
[Collection("Kernels")]
public unsafe class SharedDecodeTests
{
    [Theory]
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_K, 1, 512)]
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_K, 1, 256)]
    [InlineData(GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q8_0, 1, 512)]
    [InlineData(GgmlType.Q8_0, GgmlType.Q4_K, GgmlType.Q8_0, 1, 512)] // different activation formats: separate calls
    [InlineData(GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q4_K, 3, 512)] // prefill: separate calls
    [InlineData(GgmlType.F16, GgmlType.F16, GgmlType.F16, 1, 512)]    // float weights: separate calls
    public void SharedEqualsSeparate(GgmlType t0, GgmlType t1, GgmlType t2, int n, int width)
    {
        var rng = new Random(55 + (int)t0 + 7 * (int)t1);
        int cols = 512;
        int[] rows = [70, 33, 17];
        GgmlType[] types = [t0, t1, t2];
        var w = new byte[3][];
        for (int i = 0; i < 3; i++) w[i] = ReferenceQuant.RandomWeights(types[i], rows[i], cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        using var pool = new SeekSharp.Numerics.Threading.WorkerPool(2);
        using var force = new ForcedWidth(width);
        fixed (byte* a = w[0])
        fixed (byte* b = w[1])
        fixed (byte* c = w[2])
        {
            var m = new[] { new WeightMatrix(t0, rows[0], cols, a), new WeightMatrix(t1, rows[1], cols, b), new WeightMatrix(t2, rows[2], cols, c) };
            var expected = new float[3][];
            for (int i = 0; i < 3; i++)
            {
                expected[i] = new float[n * rows[i]];
                MatMul.Multiply(m[i], x, n, expected[i], pool);
            }
            var y = new float[3][];
            for (int i = 0; i < 3; i++) y[i] = new float[n * rows[i]];
            MatMul.MultiplyShared(x, n, pool, m[0], y[0], m[1], y[1], m[2], y[2]);
            for (int i = 0; i < 3; i++)
                Assert.Equal(expected[i], y[i]);

            var y2 = new[] { new float[n * rows[0]], new float[n * rows[1]] };
            MatMul.MultiplyShared(x, n, pool, m[0], y2[0], m[1], y2[1]);
            Assert.Equal(expected[0], y2[0]);
            Assert.Equal(expected[1], y2[1]);
        }
    }
}
