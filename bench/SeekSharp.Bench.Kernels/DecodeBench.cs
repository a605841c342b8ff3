using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// decode mode: y = W x for one token (MatMul.Multiply, n = 1) on one thread, with KernelSettings.MultiRowDecode off
/// (old: one-row kernels) and on (new: multi-row kernels), alternately. Weights are random blocks with valid f16 scales,
/// in Qwen-0.5B-like shapes (4864 x 896 and 896 x 4864) and two sizes: "cache" (about 512 KiB of rows, stays in L2/L3
/// between calls) and "dram" (copies of the full matrix adding up to at least 64 MiB, multiplied in turn, so every
/// call streams its weights from memory). Prints weight GB/s (median of the runs) and the new/old ratio.
/// </summary>
internal static unsafe class DecodeBench
{
    /// <summary>Turns the multi-row decode kernels of <paramref name="type"/> off (old) or on (new).</summary>
    private static void Set(GgmlType type, bool on)
    {
        if (type is GgmlType.Q4_K or GgmlType.Q6_K) KernelSettings.MultiRowKQuantDecode = on;
        else KernelSettings.MultiRowDecode = on;
    }

    public const string Usage =
        "decode [--types q4_0,q8_0,q5_0,q4_1,q5_1,q4_k,q6_k] [--runs 7] [--ms 60] [--width 512] [--dram-mib 64] [--sizes cache,dram] [--shapes qwen05|r1]\n" +
        "       (legacy types A/B KernelSettings.MultiRowDecode, q6_k A/B KernelSettings.MultiRowKQuantDecode; q4_k runs the same kernel twice)";

    public static int Run(string[] args)
    {
        var types = new List<GgmlType> { GgmlType.Q4_0, GgmlType.Q8_0, GgmlType.Q5_0 };
        var sizes = new List<string> { "cache", "dram" };
        int runs = 7, width = 512, dramMib = 64;
        double ms = 60;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--types": types = args[++i].Split(',').Select(ParseType).ToList(); break;
                case "--sizes": sizes = args[++i].Split(',').ToList(); break;
                case "--runs": runs = int.Parse(args[++i]); break;
                case "--ms": ms = double.Parse(args[++i]); break;
                case "--width": width = int.Parse(args[++i]); break;
                case "--dram-mib": dramMib = int.Parse(args[++i]); break;
                case "--shapes": s_r1Shapes = args[++i] == "r1"; break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}"); return 1;
            }
        }
        KernelSettings.MaxVectorWidth = width;
        Console.WriteLine($"decode: one thread, vector width {KernelSettings.Width}, {runs} alternating runs of ~{ms} ms per side; " +
                          "old = one-row kernels (MultiRowDecode off), new = multi-row kernels");
        Console.WriteLine($"{"type",-5} {"rows x cols",-11} {"size",-5} {"MiB",6} {"old GB/s",9} {"new GB/s",9} {"new/old",8} {"run ratios (min..max)",22}");

        using var pool = new WorkerPool(1);
        var rng = new Random(12345);
        bool oldSetting = KernelSettings.MultiRowDecode, oldK = KernelSettings.MultiRowKQuantDecode;
        try
        {
            WarmUp(types, pool, rng);
            foreach (GgmlType type in types)
                foreach (var (rows, cols) in IsK(type) ? new[] { (8960, 1536), (1536, 8960) } : new[] { (4864, 896), (896, 4864) })
                    foreach (string size in sizes)
                        RunCase(type, rows, cols, size, dramMib, runs, ms, pool, rng);
        }
        finally
        {
            KernelSettings.MultiRowDecode = oldSetting;
            KernelSettings.MultiRowKQuantDecode = oldK;
        }
        return 0;
    }

    /// <summary>
    /// Runs every kernel both ways on small matrices for a while, then pauses, so the tiered JIT has replaced the
    /// instrumented first-tier code of the loops before anything is timed.
    /// </summary>
    private static void WarmUp(List<GgmlType> types, WorkerPool pool, Random rng)
    {
        foreach (GgmlType type in types)
            foreach (int cols in IsK(type) ? new[] { 1536, 8960 } : new[] { 896, 4864 })
            {
                int rows = 64;
                long bytes = rows * GgmlTypeInfo.RowSize(type, cols);
                byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
                try
                {
                    FillRandom(type, data, bytes, rng);
                    var m = new WeightMatrix(type, rows, cols, data);
                    float[] x = new float[cols], y = new float[rows];
                    x.AsSpan().Fill(0.5f);
                    var sw = System.Diagnostics.Stopwatch.StartNew();
                    for (int k = 0; sw.ElapsedMilliseconds < 300 || k < 200; k++)
                    {
                        Set(type, (k & 1) == 0);
                        MatMul.Multiply(m, x, 1, y, pool);
                    }
                }
                finally
                {
                    NativeMemory.AlignedFree(data);
                }
            }
        Thread.Sleep(500);
    }

    /// <summary>K-quant rows are whole 256-value blocks: those use R1-Distill-Qwen-1.5B-like shapes.</summary>
    private static bool IsK(GgmlType type) => type is GgmlType.Q4_K or GgmlType.Q6_K || s_r1Shapes;

    // --shapes r1: R1-Distill-Qwen-1.5B shapes for every type.
    private static bool s_r1Shapes;

    private static GgmlType ParseType(string s) => s.ToLowerInvariant() switch
    {
        "q4_0" => GgmlType.Q4_0,
        "q5_0" => GgmlType.Q5_0,
        "q8_0" => GgmlType.Q8_0,
        "q4_1" => GgmlType.Q4_1,
        "q5_1" => GgmlType.Q5_1,
        "q4_k" => GgmlType.Q4_K,
        "q6_k" => GgmlType.Q6_K,
        _ => throw new ArgumentException($"decode: unsupported type {s}"),
    };

    private static void RunCase(GgmlType type, int rows, int cols, string size, int dramMib, int runs, double ms, WorkerPool pool, Random rng)
    {
        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        int copies = 1;
        if (size == "cache")
            rows = (int)Math.Clamp(512 * 1024 / rowBytes / 32 * 32, 32, rows);
        else if (size == "dram")
            copies = (int)Math.Max(1, (dramMib * 1024L * 1024 + rows * rowBytes - 1) / (rows * rowBytes));
        else
            throw new ArgumentException($"decode: unknown size {size} (cache, dram)");

        long matBytes = rows * rowBytes;
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)(matBytes * copies), 64);
        try
        {
            FillRandom(type, data, matBytes * copies, rng);
            var mats = new WeightMatrix[copies];
            for (int c = 0; c < copies; c++)
                mats[c] = new WeightMatrix(type, rows, cols, data + c * matBytes);
            float[] x = new float[cols];
            for (int i = 0; i < cols; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1);
            float[] y = new float[rows];

            // The two paths must agree bit for bit (they are tested to; a mismatch here means a broken build).
            float[] yOld = new float[rows], yNew = new float[rows];
            Set(type, false);
            MatMul.Multiply(mats[0], x, 1, yOld, pool);
            Set(type, true);
            MatMul.Multiply(mats[0], x, 1, yNew, pool);
            if (!yOld.AsSpan().SequenceEqual(yNew))
                Console.WriteLine($"  WARNING: {type} {rows}x{cols}: old and new results differ");

            void Op()
            {
                for (int c = 0; c < mats.Length; c++)
                    MatMul.Multiply(mats[c], x, 1, y, pool);
            }
            var (o, n) = BenchTiming.AB(Op, () => Set(type, false), () => Set(type, true), runs, ms);
            double bytes = matBytes * copies;
            double oldGbs = bytes / BenchTiming.Median(o) / 1e9, newGbs = bytes / BenchTiming.Median(n) / 1e9;
            double[] ratios = o.Zip(n, (a, b) => a / b).ToArray();
            Console.WriteLine($"{GgmlTypeInfo.Name(type),-5} {$"{rows}x{cols}",-11} {size,-5} {bytes / (1 << 20),6:F1} {oldGbs,9:F2} {newGbs,9:F2} " +
                              $"{newGbs / oldGbs,8:F3} {$"{ratios.Min():F2}..{ratios.Max():F2}",22}");
        }
        finally
        {
            NativeMemory.AlignedFree(data);
        }
    }

    /// <summary>
    /// Random quants with every f16 field of every block a finite value of modest size (no NaN/inf/denormal); float
    /// types get random values in [-0.05, 0.05).
    /// </summary>
    internal static void FillRandom(GgmlType type, byte* p, long bytes, Random rng)
    {
        if (type is GgmlType.F32 or GgmlType.F16)
        {
            int size = type == GgmlType.F32 ? 4 : 2;
            for (long o = 0; o + size <= bytes; o += size)
            {
                float v = (float)((rng.NextDouble() * 2 - 1) * 0.05);
                if (type == GgmlType.F32) *(float*)(p + o) = v;
                else *(Half*)(p + o) = (Half)v;
            }
            return;
        }
        for (long o = 0; o < bytes; o += int.MaxValue)
            rng.NextBytes(new Span<byte>(p + o, (int)Math.Min(int.MaxValue, bytes - o)));
        int blockBytes = (int)GgmlTypeInfo.TypeSize(type);
        int halves = type is GgmlType.Q4_1 or GgmlType.Q5_1 or GgmlType.Q4_K or GgmlType.Q5_K ? 2 : 1;
        int at = type == GgmlType.Q6_K ? 208 : 0; // Q6_K keeps its scale d at the end of the block
        for (long b = 0; b < bytes; b += blockBytes)
            for (int h = 0; h < halves; h++)
                *(Half*)(p + b + at + 2 * h) = (Half)((rng.NextDouble() * 2 - 1) * 0.05);
    }
}
