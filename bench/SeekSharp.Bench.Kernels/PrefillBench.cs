using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// prefill mode: Y = W X for n tokens (MatMul.Multiply) on T threads, R1-Distill-Qwen-1.5B shapes, with
/// <see cref="KernelSettings.PrefillExperiment"/> off (old) and on (new), alternately. Weights are one copy per shape
/// (prefill reads each weight row once per group of tokens, so they stream from L3/DRAM the way a model's do). Prints
/// GMAC/s and nanoseconds per 64 multiply-adds per thread, and the new/old ratio; the two sides must agree bit for bit.
/// </summary>
internal static unsafe class PrefillBench
{
    public const string Usage =
        "prefill [--types q8_0] [--n 128] [--threads 1] [--runs 7] [--ms 200] [--shapes r1|qwen05|RxC,RxC...]";

    public static int Run(string[] args)
    {
        var types = new List<GgmlType> { GgmlType.Q8_0 };
        int runs = 7, n = 128, threads = 1;
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
                case "--kernel-only": return KernelOnly(int.Parse(args[++i]), runs);
                default: Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}"); return 1;
            }
        }
        (int Rows, int Cols)[] list = shapes switch
        {
            "qwen05" => [(896, 896), (4864, 896), (896, 4864)],
            "r1" => [(1536, 1536), (8960, 1536), (1536, 8960)],
            _ => shapes.Split(',').Select(s => s.Split('x')).Select(p => (int.Parse(p[0]), int.Parse(p[1]))).ToArray(),
        };
        Console.WriteLine($"prefill: n = {n}, {threads} thread(s), {runs} alternating runs of ~{ms} ms per side; old/new = KernelSettings.PrefillExperiment off/on");
        Console.WriteLine($"{"type",-5} {"rows x cols",-11} {"old GMAC/s",11} {"new GMAC/s",11} {"old ns/64",10} {"new ns/64",10} {"new/old",8}");
        using var pool = new WorkerPool(threads);
        var rng = new Random(12345);
        int old = KernelSettings.PrefillExperiment;
        try
        {
            foreach (GgmlType type in types)
                foreach (var (rows, cols) in list)
                    RunCase(type, rows, cols, n, threads, runs, ms, pool, rng);
        }
        finally
        {
            KernelSettings.PrefillExperiment = old;
        }
        return 0;
    }

    /// <summary>
    /// The two-row, eight-pair Q8_0 tile kernel alone on <paramref name="nb"/> blocks of data that stay in L1 (the same
    /// two rows and the same sixteen tokens every call): its throughput without memory effects, in cycles per 64
    /// multiply-adds at the clock given by DOTNET-independent <c>--ghz</c> 3.7.
    /// </summary>
    private static int KernelOnly(int nb, int runs)
    {
        var rng = new Random(1);
        long rowBytes = 34L * nb;
        byte* w = (byte*)NativeMemory.AlignedAlloc((nuint)(2 * rowBytes + 64), 64);
        DecodeBench.FillRandom(GgmlType.Q8_0, w, 2 * rowBytes, rng);
        long pairStride = (long)nb * PrefillTileKernels.TileBlockBytes;
        byte* pairs = (byte*)NativeMemory.AlignedAlloc((nuint)(8 * pairStride), 64);
        rng.NextBytes(new Span<byte>(pairs, (int)(8 * pairStride)));
        float* scales = (float*)NativeMemory.AlignedAlloc((nuint)(nb * 16 * 4 + 64), 64);
        for (int i = 0; i < nb * 16; i++) scales[i] = (float)rng.NextDouble();
        float* d = (float*)NativeMemory.AlignedAlloc(64 * 4, 64);
        float* r0 = stackalloc float[16], r1 = stackalloc float[16];
        void Op()
        {
            for (int k = 0; k < 1000; k++)
                PrefillTileKernels.Dot<Q8_0Kernel, EightPairs>(w, w + rowBytes, pairs, pairStride, scales, 16, nb, d, r0, r1);
        }
        double units = 1000.0 * nb * 16;
        void Exp<TF>(string name) where TF : struct, IFlags
        {
            void E()
            {
                for (int k = 0; k < 1000; k++)
                    TileExperiments.Dot<TF>(w, w + rowBytes, pairs, pairStride, scales, 16, nb, d, r0, r1);
            }
            var (o, n) = BenchTiming.AB(Op, E, runs, 100);
            Console.WriteLine($"nb = {nb} {name,-28}: kernel {BenchTiming.Median(o) / units * 3.7e9:F2}, variant {BenchTiming.Median(n) / units * 3.7e9:F2} cycles/unit (at 3.7 GHz)");
        }
        void Op4()
        {
            for (int k = 0; k < 2000; k++)
                PrefillTileKernels.Dot<Q8_0Kernel, FourPairs>(w, w + rowBytes, pairs, pairStride, scales, 16, nb, d, r0, r1);
        }
        {
            var (o4, n4) = BenchTiming.AB(Op, Op4, runs, 100);
            Console.WriteLine($"eight pairs vs four pairs: {BenchTiming.Median(o4) / units * 3.7e9:F2} {BenchTiming.Median(n4) / units * 3.7e9:F2}");
        }
        var (oo, nn) = BenchTiming.AB(Op, Op, runs, 100);
        Console.WriteLine($"kernel vs kernel: {BenchTiming.Median(oo) / units * 3.7e9:F2} {BenchTiming.Median(nn) / units * 3.7e9:F2}");
        byte* act = (byte*)NativeMemory.AlignedAlloc((nuint)(nb * 512), 64);
        rng.NextBytes(new Span<byte>(act, nb * 512));
        for (int i = 0; i < nb * 512; i++) if (act[i] == 0x80) act[i] = 0;
        void T4()
        {
            for (int k = 0; k < 4000; k++)
                Tile256b.Dot4(w, w + rowBytes, act, scales, nb, d, r0, r1);
        }
        void T8b()
        {
            for (int k = 0; k < 2000; k++)
                Tile256b.Dot8(w, w + rowBytes, act, scales, nb, d, r0, r1);
        }
        {
            var (o, n) = BenchTiming.AB(Op, T4, runs, 100);
            Console.WriteLine($"nb = {nb} 256-bit 2x4 sign            : kernel {BenchTiming.Median(o) / units * 3.7e9:F2}, variant {BenchTiming.Median(n) / units * 3.7e9:F2} cycles/unit (at 3.7 GHz)");
            (o, n) = BenchTiming.AB(Op, T8b, runs, 100);
            Console.WriteLine($"nb = {nb} 256-bit 2x8 blend           : kernel {BenchTiming.Median(o) / units * 3.7e9:F2}, variant {BenchTiming.Median(n) / units * 3.7e9:F2} cycles/unit (at 3.7 GHz)");
        }
        void T256()
        {
            for (int k = 0; k < 2000; k++)
                Tile256.Dot(w, w + rowBytes, act, scales, nb, d, r0, r1);
        }
        {
            var (o, n) = BenchTiming.AB(Op, T256, runs, 100);
            Console.WriteLine($"nb = {nb} 256-bit 2x8 tile            : kernel {BenchTiming.Median(o) / units * 3.7e9:F2}, variant {BenchTiming.Median(n) / units * 3.7e9:F2} cycles/unit (at 3.7 GHz)");
        }
        Exp<Fl1>("no pair-scale broadcast");
        Exp<Fl2>("no blend");
        Exp<Fl4>("no block-scale work");
        Exp<Fl128>("no weight prep");
        Exp<Fl132>("no weight prep, no block scale");
        Exp<Fl8>("row 1 stage 2 by shifts");
        Exp<Fl16>("odd pairs stage 2 by shifts");
        Exp<Fl32>("no cvt");
        Exp<Fl64>("no madd");
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
            KernelSettings.PrefillExperiment = 0;
            MatMul.Multiply(m, x, n, yOld, pool);
            KernelSettings.PrefillExperiment = 1;
            MatMul.Multiply(m, x, n, yNew, pool);
            if (!yOld.AsSpan().SequenceEqual(yNew))
                Console.WriteLine($"  WARNING: {type} {rows}x{cols}: old and new results differ");
            var (o, nw) = BenchTiming.AB(() => MatMul.Multiply(m, x, n, y, pool),
                () => KernelSettings.PrefillExperiment = 0, () => KernelSettings.PrefillExperiment = 1, runs, ms);
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
