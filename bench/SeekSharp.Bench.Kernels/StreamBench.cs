using System.Runtime.InteropServices;
using SeekSharp.Diagnostics;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// stream mode: how close one-token products (MatMul.Multiply, n = 1) on a pool of T threads come to the memory
/// bandwidth probe (MemoryBandwidth.Measure), per weight shape of a model. For each shape, copies of a random matrix
/// adding up to --dram-mib are multiplied in turn (every call streams from memory), alternating with probe passes;
/// prints the kernel's weight GB/s, the probe's, and their ratio (medians). This is the share of the ceiling a decode
/// step spends in that product.
/// </summary>
internal static unsafe class StreamBench
{
    public const string Usage =
        "stream [--type q8_0] [--model qwen05|r1|ds2|ds2k] [--threads 2] [--runs 7] [--ms 80] [--dram-mib 256] [--packed] [--verbose] [--no-probe]\n" +
        "       [--q4k-prefetch-l2] [--q4k-prefetch-ahead 1]   (RepackedQ4_K's prefetch knobs)\n" +
        "       [--linear-bytes 4096]   (LegacyDecode: largest four-row group swept into L1; larger ones prefetch per row into L2)\n" +
        "       (--packed: Q4_0/Q4_K/Q2_K weights in the load-time repacked layout, as models load them by default)";

    private static bool s_verbose, s_noProbe, s_packed;

    public static int Run(string[] args)
    {
        GgmlType type = GgmlType.Q8_0;
        string model = "qwen05";
        int threads = 2, runs = 7, dramMib = 256;
        double ms = 80;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--type": type = Enum.Parse<GgmlType>(args[++i], ignoreCase: true); break;
                case "--model": model = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--runs": runs = int.Parse(args[++i]); break;
                case "--ms": ms = double.Parse(args[++i]); break;
                case "--dram-mib": dramMib = int.Parse(args[++i]); break;
                case "--verbose": s_verbose = true; break;
                case "--no-probe": s_noProbe = true; break;
                case "--packed": s_packed = true; break;
                case "--q4k-prefetch-l2": RepackedQ4_K.PrefetchToL2 = true; break;
                case "--linear-bytes": LegacyDecode.LinearPrefetchBytes = long.Parse(args[++i]); break;
                case "--q4k-prefetch-ahead": RepackedQ4_K.PrefetchSuperBlocks = int.Parse(args[++i]); break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}"); return 1;
            }
        }
        (int Rows, int Cols)[] shapes = model switch
        {
            "qwen05" => [(896, 896), (128, 896), (4864, 896), (896, 4864), (151936, 896)],
            "r1" => [(1536, 1536), (256, 1536), (8960, 1536), (1536, 8960), (151936, 1536)],
            "ds2" => [(1408, 2048), (2048, 1408), (10944, 2048), (2048, 10944), (102400, 2048), (576, 2048), (3072, 512)],
            "ds2k" => [(1408, 2048), (10944, 2048), (102400, 2048), (576, 2048), (3072, 2048)],
            _ => throw new ArgumentException($"stream: unknown model {model} (qwen05, r1, ds2, ds2k: the ds2 shapes whose width is a multiple of 256)"),
        };
        using var pool = new WorkerPool(threads);
        Console.WriteLine($"stream: {GgmlTypeInfo.Name(type)}, {threads} threads, {runs} alternating runs, {dramMib} MiB of copies per shape");
        Console.WriteLine($"{"rows x cols",-13} {"MiB/mat",8} {"kernel GB/s",12} {"probe GB/s",11} {"share",7}");
        var rng = new Random(7);
        foreach (var (rows, cols) in shapes)
            RunShape(type, rows, cols, dramMib, runs, ms, pool, rng);
        return 0;
    }

    private static void RunShape(GgmlType type, int rows, int cols, int dramMib, int runs, double ms, WorkerPool pool, Random rng)
    {
        long rowBytes = GgmlTypeInfo.RowSize(type, cols), matBytes = rows * rowBytes;
        int copies = (int)Math.Max(2, (dramMib * (1L << 20) + matBytes - 1) / matBytes);
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)(matBytes * copies), 64);
        byte* packed = null;
        try
        {
            DecodeBench.FillRandom(type, data, matBytes * copies, rng);
            var mats = new WeightMatrix[copies];
            for (int c = 0; c < copies; c++) mats[c] = new WeightMatrix(type, rows, cols, data + c * matBytes);
            if (s_packed && WeightPacking.Applies(type, rows, cols))
            {
                // Repack each copy in place through a scratch buffer (the layouts are the same size or a little larger).
                long packedBytes = WeightPacking.PackedBytes(type, rows, cols);
                packed = (byte*)NativeMemory.AlignedAlloc((nuint)(packedBytes * copies), 64);
                for (int c = 0; c < copies; c++)
                {
                    WeightPacking.Pack(type, data + c * matBytes, rows, cols, packed + c * packedBytes, 0, WeightPacking.Groups(type, rows));
                    mats[c] = mats[c].WithPacked(packed + c * packedBytes);
                }
            }
            float[] x = new float[cols], y = new float[rows];
            for (int i = 0; i < cols; i++) x[i] = (float)(rng.NextDouble() * 2 - 1);
            void Op()
            {
                for (int c = 0; c < mats.Length; c++) MatMul.Multiply(mats[c], x, 1, y, pool);
            }
            void CacheOp()
            {
                for (int c = 0; c < mats.Length; c++) MatMul.Multiply(mats[0], x, 1, y, pool);
            }
            int reps = BenchTiming.Calibrate(Op, ms);
            for (int k = 0; k < 3; k++) BenchTiming.Time(Op, reps);
            var kernel = new double[runs];
            var probe = new double[runs];
            var cache = new double[runs];
            for (int r = 0; r < runs; r++)
            {
                kernel[r] = matBytes * copies / BenchTiming.Time(Op, reps) / 1e9;
                probe[r] = s_noProbe ? 1 : MemoryBandwidth.Measure(pool, passes: 2) / 1e9;
                cache[r] = matBytes * copies / BenchTiming.Time(CacheOp, reps) / 1e9;
            }
            double k2 = BenchTiming.Median(kernel), p2 = BenchTiming.Median(probe);
            Console.WriteLine($"{$"{rows}x{cols}",-13} {matBytes / 1048576.0,8:F2} {k2,12:F2} {p2,11:F2} {k2 / p2,7:P1}" +
                              (s_verbose ? "\n   kernel runs: " + string.Join(" ", kernel.Select(v => v.ToString("F1"))) +
                                             "\n   cached runs: " + string.Join(" ", cache.Select(v => v.ToString("F1"))) +
                                             "\n   probe runs:  " + string.Join(" ", probe.Select(v => v.ToString("F1"))) : ""));
        }
        finally
        {
            NativeMemory.AlignedFree(data);
            NativeMemory.AlignedFree(packed);
        }
    }
}
