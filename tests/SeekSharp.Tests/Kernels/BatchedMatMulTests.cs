using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;
using SeekSharp.Inference;
using SeekSharp.Models;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Kernels;

/// <summary><see cref="MatMul.MultiplyBatched"/> equals separate <see cref="MatMul.Multiply"/> /
/// <see cref="MatMul.MultiplyExpert"/> calls bit for bit, on every vector path, thread count and prefill kernel.</summary>
[Collection("Kernels")]
public unsafe class BatchedMatMulTests(TestModels models) : IClassFixture<TestModels>
{
    /// <summary>The DeepSeek2 forward pass with batched products (per-head MLA, per-expert MoE) gives the logits of the
    /// separate-call path bit for bit, for prefill batches and for decode.</summary>
    [Theory]
    [MemberData(nameof(DeepSeek2ConformanceTests.Cases), MemberType = typeof(DeepSeek2ConformanceTests))]
    public void DeepSeek2BatchedForwardEqualsSeparateCalls(string preset, GgmlType type)
    {
        using var model = LanguageModel.Load(DeepSeek2ConformanceTests.ModelPath(models, preset, type));
        Assert.IsType<DeepSeek2Transformer>(model.Model);
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        bool old = KernelSettings.BatchedMatMul;
        try
        {
            foreach (int batch in new[] { 16, 1 })
            {
                var results = new float[2][];
                foreach (bool batched in new[] { false, true })
                {
                    KernelSettings.BatchedMatMul = batched;
                    using var session = model.CreateSession(contextSize: 64, threads: 2, batchSize: batch);
                    results[batched ? 1 : 0] = session.EvaluateAll(tokens);
                }
                Assert.Equal(results[0], results[1]);
            }
        }
        finally
        {
            KernelSettings.BatchedMatMul = old;
        }
    }

    /// <summary>The transposed latent the DeepSeek2 workspace keeps between calls follows truncation, refill and growth:
    /// a session that ran ahead, was truncated and went on gives the logits of a fresh session, bit for bit.</summary>
    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.Q8_0)]
    public void DeepSeek2LatentColumnsFollowTruncation(GgmlType type)
    {
        using var model = LanguageModel.Load(DeepSeek2ConformanceTests.ModelPath(models, "tiny", type));
        var text = string.Concat(Enumerable.Repeat(ModelConformanceTests.Prompt + " jumps over the lazy dog. ", 40));
        int[] tokens = model.Tokenizer.Encode(text)[..300];
        using var a = model.CreateSession(contextSize: 512, threads: 2, batchSize: 64);
        a.EvaluateAll(tokens.AsSpan(0, 200));
        a.Truncate(50);
        a.EvaluateAll(tokens.AsSpan(50, 20)); // shorter than before: stale columns must read as zeros
        a.Truncate(60);
        float[] got = a.EvaluateAll(tokens.AsSpan(60, 240)); // grows the columns past the first stride
        float[] next = a.Evaluate(tokens.AsSpan(0, 1)).ToArray();

        using var b = model.CreateSession(contextSize: 512, threads: 2, batchSize: 64);
        b.EvaluateAll(tokens.AsSpan(0, 60));
        Assert.Equal(b.EvaluateAll(tokens.AsSpan(60, 240)), got);
        Assert.Equal(b.Evaluate(tokens.AsSpan(0, 1)).ToArray(), next);
    }

    public static IEnumerable<object[]> Cases()
    {
        foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K })
            foreach (int w in new[] { 512, 256, 0 })
                yield return [t, w];
    }

    private static (int Rows, int Cols)[] Shapes(GgmlType t) => t switch
    {
        // 160: sgemm order applies for n > 1 (cols % 16 == 0, rows % 4 == 0); 72 x 328 has float leftovers, no sgemm
        GgmlType.F32 or GgmlType.F16 => [(64, 160), (30, 328)],
        GgmlType.Q4_K => [(40, 256), (17, 512)],
        _ => [(64, 128), (33, 512)],
    };

    /// <summary>Same-shaped matrices with strided, interleaved inputs and outputs (MLA's per-head k_b / v_b).</summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public void PerHeadEqualsSeparate(GgmlType type, int width)
    {
        using var force = new ForcedWidth(width);
        const int heads = 3;
        foreach (var (rows, cols) in Shapes(type))
        {
            var rng = new Random(rows * 31 + cols + (int)type);
            var data = new byte[heads][];
            for (int h = 0; h < heads; h++) data[h] = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            fixed (byte* d0 = data[0])
            fixed (byte* d1 = data[1])
            fixed (byte* d2 = data[2])
            {
                var m = new[] { new WeightMatrix(type, rows, cols, d0), new WeightMatrix(type, rows, cols, d1), new WeightMatrix(type, rows, cols, d2) };
                foreach (int threads in new[] { 1, 2 })
                {
                    using var pool = new WorkerPool(threads);
                    foreach (int n in new[] { 1, 3, 8, 17 })
                        foreach (bool expert in new[] { false, true })
                            CheckPerHead(m, n, expert, pool, rng);
                }
            }
        }
    }

    private static void CheckPerHead(WeightMatrix[] m, int n, bool expert, WorkerPool pool, Random rng)
    {
        int heads = m.Length, rows = m[0].Rows, cols = m[0].Cols;
        // input row of (token t, head h) at t * xStride + h * (cols + 5); output at 7 + t * yStride + h * (rows + 3)
        int xStride = heads * (cols + 5) + 2, yStride = heads * (rows + 3) + 1;
        float[] x = ReferenceQuant.RandomActivations(n * xStride, rng);
        var y = new float[7 + n * yStride];
        Array.Fill(y, 123f);
        var jobs = new MatMulJob[heads];
        for (int h = 0; h < heads; h++)
            jobs[h] = new MatMulJob(m[h], n, h * (cols + 5), xStride, 7 + h * (rows + 3), yStride, expert);
        MatMul.MultiplyBatched(jobs, x, y, pool);

        var expected = (float[])y.Clone();
        for (int h = 0; h < heads; h++)
        {
            var xin = new float[n * cols];
            for (int t = 0; t < n; t++) x.AsSpan(t * xStride + h * (cols + 5), cols).CopyTo(xin.AsSpan(t * cols));
            var yout = new float[n * rows];
            if (expert) MatMul.MultiplyExpert(m[h], xin, n, yout, pool);
            else MatMul.Multiply(m[h], xin, n, yout, pool);
            for (int t = 0; t < n; t++)
            {
                var got = y.AsSpan(7 + t * yStride + h * (rows + 3), rows).ToArray();
                Assert.Equal(yout.AsSpan(t * rows, rows).ToArray(), got);
            }
        }
        // nothing outside the outputs was written
        for (int t = 0; t < n; t++)
            for (int h = 0; h < heads; h++)
                expected.AsSpan(7 + t * yStride + h * (rows + 3), rows).Fill(123f);
        Assert.True(expected.All(v => v == 123f), "a write outside the output rows");
    }

    /// <summary>Mixed jobs in one call: different types, shapes and token counts, a shared input (one conversion for
    /// jobs of one kernel), and x and y in the same buffer; with the wide (paired, grouped) and tiled prefill kernels on
    /// and off.</summary>
    [Theory]
    [InlineData(512, true, true)]
    [InlineData(512, true, false)]
    [InlineData(512, false, false)]
    [InlineData(256, true, true)]
    [InlineData(0, true, true)]
    public void MixedJobsEqualSeparate(int width, bool wide, bool tiled)
    {
        using var force = new ForcedWidth(width);
        bool oldWide = KernelSettings.WidePrefill, oldGrouped = KernelSettings.GroupedKQuantPrefill, oldTiled = KernelSettings.TiledPrefill;
        KernelSettings.WidePrefill = wide;
        KernelSettings.GroupedKQuantPrefill = wide;
        KernelSettings.TiledPrefill = tiled;
        try
        {
            var rng = new Random(77 + width);
            const int cols = 512;
            (GgmlType T, int Rows, int N, bool Expert)[] spec =
            [
                (GgmlType.Q4_K, 48, 17, false), (GgmlType.Q4_K, 20, 17, false), (GgmlType.Q6_K, 24, 17, false), // share x
                (GgmlType.Q8_0, 36, 9, true), (GgmlType.Q4_0, 36, 9, true), (GgmlType.Q4_0, 12, 1, true),
                (GgmlType.F32, 16, 8, false), (GgmlType.F16, 16, 8, true), (GgmlType.Q5_0, 8, 3, false),
                (GgmlType.Q8_0, 0, 4, false), (GgmlType.Q4_0, 5, 0, false),
            ];
            var data = spec.Select(s => ReferenceQuant.RandomWeights(s.T, Math.Max(1, s.Rows), cols, rng)).ToArray();
            var handles = data.Select(d => System.Runtime.InteropServices.GCHandle.Alloc(d, System.Runtime.InteropServices.GCHandleType.Pinned)).ToArray();
            try
            {
                // one buffer: inputs first, outputs after
                int xLen = 0;
                var xOff = new int[spec.Length];
                for (int i = 0; i < spec.Length; i++)
                {
                    if (i == 1 || i == 2) { xOff[i] = xOff[0]; continue; }
                    xOff[i] = xLen;
                    xLen += Math.Max(1, spec[i].N) * cols;
                }
                int yLen = 0;
                var yOff = new int[spec.Length];
                for (int i = 0; i < spec.Length; i++) { yOff[i] = xLen + yLen; yLen += spec[i].N * spec[i].Rows; }
                var buf = new float[xLen + yLen];
                ReferenceQuant.RandomActivations(xLen, rng).CopyTo(buf, 0);
                var m = new WeightMatrix[spec.Length];
                var jobs = new MatMulJob[spec.Length];
                for (int i = 0; i < spec.Length; i++)
                {
                    m[i] = new WeightMatrix(spec[i].T, spec[i].Rows, cols, (byte*)handles[i].AddrOfPinnedObject());
                    jobs[i] = new MatMulJob(m[i], spec[i].N, xOff[i], cols, yOff[i], spec[i].Rows, spec[i].Expert);
                }
                foreach (int threads in new[] { 1, 2 })
                {
                    using var pool = new WorkerPool(threads);
                    buf.AsSpan(xLen).Clear();
                    MatMul.MultiplyBatched(jobs, buf, buf, pool);
                    for (int i = 0; i < spec.Length; i++)
                    {
                        var (_, rows, n, expert) = spec[i];
                        var expected = new float[n * rows];
                        var xin = buf.AsSpan(xOff[i], n * cols).ToArray();
                        if (expert) MatMul.MultiplyExpert(m[i], xin, n, expected, pool);
                        else MatMul.Multiply(m[i], xin, n, expected, pool);
                        Assert.Equal(expected, buf.AsSpan(yOff[i], n * rows).ToArray());
                    }
                }
            }
            finally
            {
                foreach (var h in handles) h.Free();
            }
        }
        finally
        {
            KernelSettings.WidePrefill = oldWide;
            KernelSettings.GroupedKQuantPrefill = oldGrouped;
            KernelSettings.TiledPrefill = oldTiled;
        }
    }

    [Fact]
    public void RejectsShortBuffersAndOverlappingOutputs()
    {
        var data = new byte[GgmlTypeInfo.RowSize(GgmlType.Q8_0, 64) * 4];
        fixed (byte* d = data)
        {
            var m = new WeightMatrix(GgmlType.Q8_0, 4, 64, d);
            using var pool = new WorkerPool(1);
            var x = new float[128];
            var y = new float[8];
            Assert.Throws<ArgumentException>(() => MatMul.MultiplyBatched([new MatMulJob(m, 3, 0, 64, 0, 4)], x, y, pool));
            Assert.Throws<ArgumentException>(() => MatMul.MultiplyBatched([new MatMulJob(m, 2, 0, 64, 0, 4)], x, new float[7], pool));
            Assert.Throws<ArgumentException>(() => MatMul.MultiplyBatched([new MatMulJob(m, 2, 0, 64, 0, 3)], x, y, pool));
            MatMul.MultiplyBatched([new MatMulJob(m, 2, 0, 64, 0, 4)], x, y, pool);
        }
    }
}
