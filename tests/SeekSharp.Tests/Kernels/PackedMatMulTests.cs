using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// Packed (repacked-order) Q4_0 / Q4_K products through <see cref="MatMul"/> against llama.cpp's own CPU_REPACK
/// mul_mat and mul_mat_id (the native library, <see cref="GgmlCpu.MulMatRepacked"/>), bit for bit, on every vector path
/// and thread count: the gemm / gemv split of a batch, MoE experts always through gemv, and products that share an input.
/// </summary>
[Collection("Kernels")]
public sealed unsafe class PackedMatMulTests
{
    public static IEnumerable<object[]> Cases()
    {
        foreach (var t in new[] { GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q2_K })
            foreach (int w in new[] { 512, 256, 128, 0 })
                yield return [t, w];
    }

    /// <summary>A matrix with its packed copy (rows % 16 == 8 exercises the padded last group), freed on dispose.</summary>
    private sealed class Packed : IDisposable
    {
        private readonly GCHandle _pin;
        private readonly PackedWeightStore _store = new();

        public Packed(GgmlType type, byte[] bytes, int rows, int cols)
        {
            _pin = GCHandle.Alloc(bytes, GCHandleType.Pinned);
            Plain = new WeightMatrix(type, rows, cols, (byte*)_pin.AddrOfPinnedObject());
            Matrix = _store.Add(Plain);
            _store.PackAll(2);
        }

        public WeightMatrix Plain { get; }
        public WeightMatrix Matrix { get; }

        public void Dispose()
        {
            _store.Dispose();
            _pin.Free();
        }
    }

    private static void WithWidth(int width, Action body)
    {
        int old = KernelSettings.MaxVectorWidth;
        bool oldHelpers = KernelSettings.UseX86Helpers128;
        try
        {
            KernelSettings.MaxVectorWidth = width;
            body();
            if (width == 128)
            {
                KernelSettings.UseX86Helpers128 = false;
                body();
            }
        }
        finally
        {
            KernelSettings.MaxVectorWidth = old;
            KernelSettings.UseX86Helpers128 = oldHelpers;
        }
    }

    private static void AssertBits(float[] expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
                Assert.Fail($"{what}: output {i} is {actual[i]:R}, llama.cpp (repacked) gives {expected[i]:R}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MultiplyEqualsLlamaCppRepackedMulMat(GgmlType type, int width)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(11);
        foreach (var (rows, cols) in new[] { (40, 512), (64, 1024) })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            using var packed = new Packed(type, w, rows, cols);
            Assert.True(packed.Matrix.IsPacked);
            foreach (int n in new[] { 1, 3, 4, 5, 9, 17 })
            {
                float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
                float[]? expected = GgmlCpu.MulMatRepacked(type, w, rows, cols, x, n, out string? buffer);
                if (expected is null) return;
                Assert.Equal("CPU_REPACK", buffer);
                WithWidth(width, () =>
                {
                    foreach (int threads in new[] { 1, 2 })
                    {
                        using var pool = new WorkerPool(threads);
                        var y = new float[n * rows];
                        MatMul.Multiply(packed.Matrix, x, n, y, pool);
                        AssertBits(expected, y, $"{type} {rows}x{cols} n={n} width={width} threads={threads}");
                    }
                });
            }
        }
    }

    /// <summary>mul_mat_id (MoE experts) runs every token through gemv, whatever the batch: so does MultiplyExpert.</summary>
    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q2_K)]
    public void MultiplyExpertEqualsLlamaCppRepackedMulMatId(GgmlType type)
    {
        if (!GgmlCpu.Available) return;
        var rng = new Random(12);
        int rows = 48, cols = 512, experts = 3, used = 2, n = 9;
        long expertBytes = GgmlTypeInfo.RowSize(type, cols) * rows;
        byte[] w = ReferenceQuant.RandomWeights(type, rows * experts, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var ids = new int[n * used];
        for (int t = 0; t < n; t++)
        {
            ids[t * used] = t % experts;
            ids[t * used + 1] = (t + 1) % experts;
        }
        float[]? expected = GgmlCpu.MulMatIdRepacked(type, w, rows, cols, experts, x, ids, used, n);
        if (expected is null) return;
        using var pool = new WorkerPool(2);
        for (int e = 0; e < experts; e++)
        {
            using var packed = new Packed(type, w.AsSpan((int)(e * expertBytes), (int)expertBytes).ToArray(), rows, cols);
            // All tokens routed to expert e, in one call, as the MoE layer runs them.
            var mine = Enumerable.Range(0, n * used).Where(i => ids[i] == e).ToArray();
            var xe = new float[mine.Length * cols];
            for (int i = 0; i < mine.Length; i++)
                x.AsSpan(mine[i] / used * cols, cols).CopyTo(xe.AsSpan(i * cols));
            var y = new float[mine.Length * rows];
            MatMul.MultiplyExpert(packed.Matrix, xe, mine.Length, y, pool);
            for (int i = 0; i < mine.Length; i++)
                AssertBits(expected.AsSpan(mine[i] * rows, rows).ToArray(), y.AsSpan(i * rows, rows), $"{type} expert {e} slot {mine[i]}");
        }
    }

    /// <summary>Products that read one input (Q/K/V, gate/up) with packed and plain matrices mixed equal separate calls.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    public void SharedInputProductsEqualSeparateCalls(int n)
    {
        var rng = new Random(13);
        int cols = 512;
        using var q = new Packed(GgmlType.Q4_K, ReferenceQuant.RandomWeights(GgmlType.Q4_K, 64, cols, rng), 64, cols);
        using var k = new Packed(GgmlType.Q4_0, ReferenceQuant.RandomWeights(GgmlType.Q4_0, 24, cols, rng), 24, cols);
        var v = new Packed(GgmlType.Q6_K, ReferenceQuant.RandomWeights(GgmlType.Q6_K, 32, cols, rng), 32, cols);
        using (v)
        {
            Assert.False(v.Matrix.IsPacked); // Q6_K is not repacked on x86
            float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
            using var pool = new WorkerPool(2);
            float[] Separate(in WeightMatrix m)
            {
                var y = new float[n * m.Rows];
                MatMul.Multiply(m, x, n, y, pool);
                return y;
            }
            float[] eq = Separate(q.Matrix), ek = Separate(k.Matrix), ev = Separate(v.Matrix);
            float[] yq = new float[eq.Length], yk = new float[ek.Length], yv = new float[ev.Length];
            MatMul.MultiplyShared(x, n, pool, q.Matrix, yq, k.Matrix, yk, v.Matrix, yv);
            Assert.Equal(eq, yq);
            Assert.Equal(ek, yk);
            Assert.Equal(ev, yv);
            Array.Clear(yq);
            Array.Clear(yk);
            MatMul.MultiplyShared(x, n, pool, q.Matrix, yq, k.Matrix, yk);
            Assert.Equal(eq, yq);
            Assert.Equal(ek, yk);
        }
    }

    /// <summary>
    /// One batched call with a packed matrix as a plain product (gemm / gemv split) and as an expert (all gemv) on the
    /// same input: each job keeps its own order, equal to its separate call.
    /// </summary>
    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q2_K)]
    public void BatchedJobsKeepTheirOwnGrouping(GgmlType type)
    {
        var rng = new Random(15);
        int rows = 32, cols = 512, n = 6;
        using var m = new Packed(type, ReferenceQuant.RandomWeights(type, rows, cols, rng), rows, cols);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        using var pool = new WorkerPool(2);
        var plain = new float[n * rows];
        var expert = new float[n * rows];
        MatMul.Multiply(m.Matrix, x, n, plain, pool);
        MatMul.MultiplyExpert(m.Matrix, x, n, expert, pool);
        Assert.NotEqual(plain, expert); // the first four tokens are grouped differently
        var y = new float[2 * n * rows];
        MatMulJob[] jobs =
        [
            new(m.Matrix, n, 0, cols, 0, 2 * rows),
            new(m.Matrix, n, 0, cols, rows, 2 * rows, ExpertOrder: true),
        ];
        MatMul.MultiplyBatched(jobs, x, y, pool);
        for (int t = 0; t < n; t++)
        {
            Assert.Equal(plain.AsSpan(t * rows, rows).ToArray(), y.AsSpan(2 * t * rows, rows).ToArray());
            Assert.Equal(expert.AsSpan(t * rows, rows).ToArray(), y.AsSpan((2 * t + 1) * rows, rows).ToArray());
        }
    }

    /// <summary>llama.cpp repacks Q4_0, Q4_K and Q2_K of a height that is a multiple of 8, nothing else.</summary>
    [Fact]
    public void OnlyWhatLlamaCppRepacksIsPacked()
    {
        Assert.True(WeightPacking.Applies(GgmlType.Q4_0, 8, 32));
        Assert.True(WeightPacking.Applies(GgmlType.Q4_K, 24, 256));
        Assert.False(WeightPacking.Applies(GgmlType.Q4_0, 12, 32));
        Assert.False(WeightPacking.Applies(GgmlType.Q4_K, 17, 256));
        Assert.True(WeightPacking.Applies(GgmlType.Q2_K, 16, 512));
        foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_K, GgmlType.Q6_K })
            Assert.False(WeightPacking.Applies(t, 64, 256));
        var rng = new Random(14);
        using var odd = new Packed(GgmlType.Q4_0, ReferenceQuant.RandomWeights(GgmlType.Q4_0, 12, 64, rng), 12, 64);
        Assert.False(odd.Matrix.IsPacked);
    }
}
