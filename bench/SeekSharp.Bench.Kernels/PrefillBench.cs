using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// prefill mode: Y = W X for n tokens (MatMul.Multiply) on T threads in model shapes, with the row-tiled kernels
/// (<see cref="KernelSettings.TiledPrefill"/>) off (old: paired-token kernels) and on (new), alternately; the two sides
/// must agree bit for bit. Weights are one copy per shape (prefill reads each row once per group of tokens). Prints
/// GMAC/s, nanoseconds per 64 multiply-adds per thread, and new/old.
/// <c>--kernel-only NB</c> instead times the Q8_0 two-row x eight-pair tile kernel alone on NB blocks that stay in L1
/// (the same two rows and sixteen tokens every call), in cycles per 64 multiply-adds at an assumed 3.7 GHz: the kernel's
/// own cost without memory effects.
/// </summary>
internal static unsafe class PrefillBench
{
    public const string Usage =
        "prefill [--types q8_0,q4_0,q5_0] [--n 128] [--threads 1] [--runs 7] [--ms 200] [--shapes r1|qwen05|RxC,RxC...] [--kernel-only NB]";

    public static int Run(string[] args)
    {
        var types = new List<GgmlType> { GgmlType.Q8_0 };
        int runs = 7, n = 128, threads = 1, kernelOnly = 0;
        double ms = 200;
        string shapes = "r1";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--types": types = args[++i].Split(',').Select(s => Enum.Parse<GgmlType>(s, true)).ToList(); break;
                case "--n": n = int.Parse(args[++i]); break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--runs": runs = int.Parse(args[++i]); break;
                case "--ms": ms = double.Parse(args[++i]); break;
                case "--shapes": shapes = args[++i]; break;
                case "--kernel-only": kernelOnly = int.Parse(args[++i]); break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}"); return 1;
            }
        }
        if (kernelOnly > 0)
            return KernelOnly(kernelOnly, runs);
        (int Rows, int Cols)[] list = shapes switch
        {
            "qwen05" => [(896, 896), (4864, 896), (896, 4864)],
            "r1" => [(1536, 1536), (8960, 1536), (1536, 8960)],
            _ => shapes.Split(',').Select(s => s.Split('x')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToArray(),
        };
        Console.WriteLine($"prefill: n = {n}, {threads} thread(s), {runs} alternating runs of ~{ms} ms per side; old/new = KernelSettings.TiledPrefill off/on");
        Console.WriteLine($"{"type",-5} {"rows x cols",-11} {"old GMAC/s",11} {"new GMAC/s",11} {"old ns/64",10} {"new ns/64",10} {"new/old",8}");
        using var pool = new WorkerPool(threads);
        var rng = new Random(12345);
        bool old = KernelSettings.TiledPrefill;
        try
        {
            foreach (GgmlType type in types)
                foreach (var (rows, cols) in list)
                    RunCase(type, rows, cols, n, threads, runs, ms, pool, rng);
        }
        finally
        {
            KernelSettings.TiledPrefill = old;
        }
        return 0;
    }

    private static int KernelOnly(int nb, int runs)
    {
        var rng = new Random(1);
        long rowBytes = 34L * nb;
        long pairStride = (long)nb * PrefillTileKernels.TileBlockBytes;
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)(2 * rowBytes + 64), 64);
        byte* pairs = (byte*)NativeMemory.AlignedAlloc((nuint)(8 * pairStride), 64);
        float* scales = (float*)NativeMemory.AlignedAlloc((nuint)(nb * 16 * sizeof(float) + 64), 64);
        float* d = (float*)NativeMemory.AlignedAlloc(PrefillTileKernels.ScratchFloats * sizeof(float), 64);
        float* r0 = stackalloc float[16], r1 = stackalloc float[16];
        try
        {
            DecodeBench.FillRandom(GgmlType.Q8_0, w, 2 * rowBytes, rng);
            rng.NextBytes(new Span<byte>(pairs, (int)(8 * pairStride)));
            for (int i = 0; i < nb * 16; i++)
                scales[i] = (float)rng.NextDouble();
            const int Calls = 1000;
            void Eight()
            {
                for (int k = 0; k < Calls; k++)
                    PrefillTileKernels.Dot<Q8_0Kernel, EightPairs>(w, w + rowBytes, pairs, pairStride, scales, 16, nb, d, r0, r1);
            }
            void Four()
            {
                for (int k = 0; k < 2 * Calls; k++)
                    PrefillTileKernels.Dot<Q8_0Kernel, FourPairs>(w, w + rowBytes, pairs, pairStride, scales, 16, nb, d, r0, r1);
            }
            var (eight, four) = BenchTiming.AB(Eight, Four, runs, 100);
            double units = (double)Calls * nb * 16; // 64 multiply-adds: one row, one token pair, one block
            Console.WriteLine($"Q8_0 tile kernel, {nb} blocks in L1: eight pairs {BenchTiming.Median(eight) / units * 3.7e9:F2}, " +
                              $"four pairs {BenchTiming.Median(four) / units * 3.7e9:F2} cycles per 64 multiply-adds (at 3.7 GHz)");
        }
        finally
        {
            NativeMemory.AlignedFree(w);
            NativeMemory.AlignedFree(pairs);
            NativeMemory.AlignedFree(scales);
            NativeMemory.AlignedFree(d);
        }
        return 0;
    }

    private static void RunCase(GgmlType type, int rows, int cols, int n, int threads, int runs, double ms, WorkerPool pool, Random rng)
    {
        long bytes = rows * GgmlTypeInfo.RowSize(type, cols);
        byte* data = (byte*)NativeMemory.AlignedAlloc((nuint)bytes, 64);
        try
        {
            DecodeBench.FillRandom(type, data, bytes, rng);
            var m = new WeightMatrix(type, rows, cols, data);
            float[] x = new float[(long)n * cols];
            for (int i = 0; i < x.Length; i++)
                x[i] = (float)(rng.NextDouble() * 2 - 1);
            float[] y = new float[(long)n * rows], yOld = new float[y.Length], yNew = new float[y.Length];
            KernelSettings.TiledPrefill = false;
            MatMul.Multiply(m, x, n, yOld, pool);
            KernelSettings.TiledPrefill = true;
            MatMul.Multiply(m, x, n, yNew, pool);
            if (!yOld.AsSpan().SequenceEqual(yNew))
                Console.WriteLine($"  WARNING: {type} {rows}x{cols}: old and new results differ");
            var (o, nw) = BenchTiming.AB(() => MatMul.Multiply(m, x, n, y, pool),
                () => KernelSettings.TiledPrefill = false, () => KernelSettings.TiledPrefill = true, runs, ms);
            double macs = (double)rows * cols * n;
            double to = BenchTiming.Median(o), tn = BenchTiming.Median(nw);
            double units = macs / 64 / threads;
            Console.WriteLine($"{GgmlTypeInfo.Name(type),-5} {$"{rows}x{cols}",-11} {macs / to / 1e9,11:F1} {macs / tn / 1e9,11:F1} " +
                              $"{to / units * 1e9,10:F3} {tn / units * 1e9,10:F3} {to / tn,8:F3}");
        }
        finally
        {
            NativeMemory.AlignedFree(data);
        }
    }
}
