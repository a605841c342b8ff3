using System.Diagnostics;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Kernels;

[Collection("Kernels")]
public unsafe class TmpBench(ITestOutputHelper output)
{
    [Fact]
    public void Bench()
    {
        var rng = new Random(1);
        int rows = 4096, cols = 4096;
        foreach (var type in new[] { GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.F16 })
        {
            byte[] w = ReferenceQuant.RandomWeights(type, rows, cols, rng);
            using var pool = new WorkerPool(1);
            fixed (byte* pw = w)
            {
                var m = new WeightMatrix(type, rows, cols, pw);
                foreach (int n in new[] { 1, 32 })
                {
                float[] x = ReferenceQuant.RandomActivations(n * cols, rng);
                var y = new float[n * rows];
                double best = 1e9;
                int reps = n == 1 ? 50 : 4;
                for (int rep = 0; rep < 4; rep++)
                {
                    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                    for (int i = 0; i < reps; i++) MatMul.Multiply(m, x, n, y, pool);
                    best = Math.Min(best, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / reps);
                }
                output.WriteLine($"{type} n={n} 1thr: {best * 1e3:F2} ms, {2.0 * rows * cols * n / best / 1e9:F1} GFLOP/s");
                }
            }
        }
    }
}
