using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Tests.Kernels;

[Collection("Kernels")]
public unsafe class MatMulTests : IDisposable
{
    private readonly WorkerPool _pool2 = new(2);

    public void Dispose() => _pool2.Dispose();

    public static IEnumerable<object[]> TypesByWidth() => Cases.TypesByWidth();
    public static IEnumerable<object[]> Types() => Cases.Types();

    private static byte[] QuantizeOurs(GgmlType dotType, float[] x, int offset, int cols, int width)
    {
        var dst = new byte[GgmlTypeInfo.RowSize(dotType, cols)];
        fixed (float* px = x)
        fixed (byte* pd = dst)
            ActivationQuantizer.Quantize(dotType, px + offset, pd, cols, width);
        return dst;
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void MultiplyMatchesScalarReference(GgmlType type, int width)
    {
        var rng = new Random(1234 + (int)type);
        int rows = 7, cols = Cases.ColsFor(type), n = 3;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var y = new float[n * rows];
        GgmlType dotType = MatMul.DotType(type);

        using (new ForcedWidth(width))
        fixed (byte* pw = w)
            MatMul.Multiply(new WeightMatrix(type, rows, cols, pw), x, n, y, _pool2);

        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        for (int t = 0; t < n; t++)
        {
            byte[] act = dotType == GgmlType.F32 ? QuantizeOurs(GgmlType.F32, x, t * cols, cols, 0) : QuantizeOurs(dotType, x, t * cols, cols, 0);
            for (int r = 0; r < rows; r++)
            {
                var (expected, magnitude) = ReferenceQuant.Dot(type, w, (int)(r * rowBytes), dotType, act, cols);
                double err = Math.Abs(y[t * rows + r] - expected);
                Assert.True(err <= 1e-5 * magnitude + 1e-30,
                    $"{type} width {width} t={t} r={r}: got {y[t * rows + r]}, reference {expected}, |terms| {magnitude}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void AllPathsAreBitIdenticalToScalar(GgmlType type, int width)
    {
        var rng = new Random(99 + (int)type);
        int rows = 5, cols = Cases.ColsFor(type) * 2;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(cols, rng);
        GgmlType dotType = MatMul.DotType(type);
        byte[] actScalar = QuantizeOurs(dotType, x, 0, cols, 0);
        byte[] actVector;
        using (new ForcedWidth(width))
            actVector = QuantizeOurs(dotType, x, 0, cols, Math.Abs(width));
        Assert.Equal(actScalar, actVector);

        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        fixed (byte* pw = w)
        fixed (byte* pa = actScalar)
        {
            for (int r = 0; r < rows; r++)
            {
                float scalar = MatMul.DotRow(type, pw + r * rowBytes, pa, cols, 0);
                float vector;
                using (new ForcedWidth(width))
                    vector = MatMul.DotRow(type, pw + r * rowBytes, pa, cols, Math.Min(Math.Abs(width), KernelSettings.HardwareWidth));
                Assert.Equal(BitConverter.SingleToInt32Bits(scalar), BitConverter.SingleToInt32Bits(vector));
            }
        }
    }

    [Theory]
    [MemberData(nameof(TypesByWidth))]
    public void FourTokenKernelEqualsFourSingleDots(GgmlType type, int width)
    {
        var rng = new Random(31 + (int)type);
        int rows = 3, cols = Cases.ColsFor(type) * 2;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        GgmlType dotType = MatMul.DotType(type);
        long actRow = GgmlTypeInfo.RowSize(dotType, cols);
        var act = new byte[4 * actRow];
        float[] x = ReferenceQuant.RandomActivations(4 * cols, rng);
        for (int t = 0; t < 4; t++)
            QuantizeOurs(dotType, x, t * cols, cols, 0).CopyTo(act, t * actRow);
        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        int hw = Math.Min(Math.Abs(width), KernelSettings.HardwareWidth);
        float* four = stackalloc float[4];
        using (new ForcedWidth(width))
        fixed (byte* pw = w)
        fixed (byte* pa = act)
        {
            for (int r = 0; r < rows; r++)
            {
                MatMul.DotRow4(type, pw + r * rowBytes, pa, actRow, cols, hw, four);
                for (int t = 0; t < 4; t++)
                {
                    float single = MatMul.DotRow(type, pw + r * rowBytes, pa + t * actRow, cols, hw);
                    Assert.Equal(BitConverter.SingleToInt32Bits(single), BitConverter.SingleToInt32Bits(four[t]));
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void BatchedAndThreadedResultsEqualSingleTokenResults(GgmlType type)
    {
        var rng = new Random(7 + (int)type);
        int rows = 37, cols = Cases.ColsFor(type), n = 11;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var single = new float[n * rows];
        var batch1 = new float[n * rows];
        var batch2 = new float[n * rows];
        using var pool1 = new WorkerPool(1);
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            for (int t = 0; t < n; t++)
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, single.AsSpan(t * rows, rows), pool1);
            MatMul.Multiply(m, x, n, batch1, pool1);
            MatMul.Multiply(m, x, n, batch2, _pool2);
        }
        Assert.Equal(single, batch1);
        Assert.Equal(single, batch2);
    }

    [Theory]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.Q4_K)]
    public void ExpertProductsUseTheSingleTokenOrder(GgmlType type)
    {
        var rng = new Random(11);
        int rows = 24, cols = 256, n = 6; // a shape for which Multiply takes the sgemm order with float weights
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var expert = new float[n * rows];
        var single = new float[n * rows];
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            MatMul.MultiplyExpert(m, x, n, expert, _pool2);
            for (int t = 0; t < n; t++)
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, single.AsSpan(t * rows, rows), _pool2);
        }
        Assert.Equal(single, expert);
    }

    [Fact]
    public void LargePrefillCrossesRowAndTokenTiles()
    {
        var rng = new Random(5);
        const GgmlType type = GgmlType.Q4_K;
        int rows = 1001, cols = 512, n = 19;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
        var batch = new float[n * rows];
        var single = new float[rows];
        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            MatMul.Multiply(m, x, n, batch, _pool2);
            foreach (int t in new[] { 0, 7, 8, 18 })
            {
                MatMul.Multiply(m, x.AsSpan(t * cols, cols), 1, single, _pool2);
                Assert.Equal(single, batch.AsSpan(t * rows, rows).ToArray());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void SteadyStateCallsDoNotAllocate(GgmlType type)
    {
        var rng = new Random(3);
        int rows = 64, cols = Cases.ColsFor(type) * 2;
        byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
        float[] x = ReferenceQuant.RandomActivations(9 * cols, rng);
        var y = new float[9 * rows];
        // Counted on the calling thread with a one-thread pool, so JIT tiering work on background threads does not count.
        using var pool1 = new WorkerPool(1);
        fixed (byte* pw = w)
        {
            var m = new WeightMatrix(type, rows, cols, pw);
            foreach (int n in new[] { 1, 9 })
            {
                MatMul.Multiply(m, x, n, y, pool1); // warm up: scratch buffer
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 10; i++)
                    MatMul.Multiply(m, x, n, y, pool1);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                Assert.True(allocated < 1024, $"{type} n={n}: {allocated} bytes allocated in 10 calls");
            }
        }
    }

    [Fact]
    public void RejectsBadArguments()
    {
        var y = new float[4];
        fixed (byte* pw = new byte[GgmlTypeInfo.RowSize(GgmlType.Q8_0, 32) * 4])
        {
            var m = new WeightMatrix(GgmlType.Q8_0, 4, 32, pw);
            Assert.Throws<ArgumentException>(() => MatMul.Multiply(m, new float[31], 1, y, _pool2));
            Assert.Throws<ArgumentException>(() => MatMul.Multiply(m, new float[32], 1, new float[3], _pool2));
            var bad = new WeightMatrix(GgmlType.IQ2_XS, 1, 256, pw);
            Assert.Throws<NotSupportedException>(() => MatMul.Multiply(bad, new float[256], 1, y, _pool2));
        }
        Assert.Throws<ArgumentException>(() => new WeightMatrix(GgmlType.Q4_K, 1, 100, null));
        Assert.False(MatMul.Supports(GgmlType.IQ4_NL));
        Assert.True(MatMul.Supports(GgmlType.Q6_K));
    }

    [Fact]
    public void WeightMatrixExposesRows()
    {
        var data = new byte[3 * 34];
        data[34] = 7;
        fixed (byte* p = data)
        {
            var m = new WeightMatrix(GgmlType.Q8_0, 3, 32, p);
            Assert.Equal(34, m.RowBytes);
            Assert.Equal(7, m.Row(1)[0]);
            Assert.Equal(34, m.Row(2).Length);
            Assert.Throws<ArgumentOutOfRangeException>(() => m.Row(3));
        }
    }
}
