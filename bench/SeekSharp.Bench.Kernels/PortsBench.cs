using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Bench.Kernels;

/// <summary>
/// ports mode: throughput of the instructions a Q8_0 x Q8_0 block product is made of, alone and in interleaved pairs,
/// at 512 and 256 bits: eight independent chains per instruction, so latency never binds. Two instructions that share
/// execution pipes take the sum of their times when interleaved; two on different pipes take the larger. Prints
/// cycles per instruction (or per pair) at an assumed clock (--ghz, default 3.7).
/// </summary>
internal static class PortsBench
{
    public const string Usage = "ports [--ghz 3.7]   (needs AVX-512BW)";

    private const int Iterations = 10_000_000;

    // Instruction kinds (each maps a vector to a vector of the same width, so a chain can feed itself).
    private const int Maddubs = 0, Madd = 1, Cvt = 2, Fma = 3, Blend = 4, Add = 5, Shift = 6;
    private static readonly string[] Names = ["vpmaddubsw", "vpmaddwd", "vcvtdq2ps", "vfmadd", "vpblendmb", "vpaddd", "vpsrad"];

    private interface IKind { static abstract int Kind { get; } }
    private struct KMaddubs : IKind { public static int Kind => Maddubs; }
    private struct KMadd : IKind { public static int Kind => Madd; }
    private struct KCvt : IKind { public static int Kind => Cvt; }
    private struct KFma : IKind { public static int Kind => Fma; }
    private struct KBlend : IKind { public static int Kind => Blend; }
    private struct KAdd : IKind { public static int Kind => Add; }
    private struct KShift : IKind { public static int Kind => Shift; }
    private struct KNone : IKind { public static int Kind => -1; }

    public static int Run(string[] args)
    {
        double ghz = 3.7;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--ghz": ghz = double.Parse(args[++i]); break;
                default: Console.Error.WriteLine($"unknown argument {args[i]}\n{Usage}"); return 1;
            }
        }
        if (!Avx512BW.IsSupported)
        {
            Console.Error.WriteLine("ports: needs AVX-512BW");
            return 1;
        }
        Console.WriteLine($"ports: cycles per instruction (alone) or per interleaved pair, at {ghz} GHz, one thread");
        Console.WriteLine($"{"instructions",-26} {"zmm",6} {"ymm",6}");
        Row<KMaddubs, KNone>(ghz); Row<KMadd, KNone>(ghz); Row<KFma, KNone>(ghz); Row<KCvt, KNone>(ghz);
        Row<KBlend, KNone>(ghz); Row<KAdd, KNone>(ghz); Row<KShift, KNone>(ghz);
        Row<KMaddubs, KFma>(ghz); Row<KMadd, KFma>(ghz); Row<KMaddubs, KMadd>(ghz);
        Row<KCvt, KFma>(ghz); Row<KCvt, KMaddubs>(ghz); Row<KShift, KFma>(ghz); Row<KShift, KCvt>(ghz); Row<KBlend, KMaddubs>(ghz);
        return 0;
    }

    private static void Row<TA, TB>(double ghz) where TA : struct, IKind where TB : struct, IKind
    {
        string name = TB.Kind < 0 ? Names[TA.Kind] : $"{Names[TA.Kind]} + {Names[TB.Kind]}";
        double z = Best(() => Loop512<TA, TB>(Vector512.Create(1.0000001f))) / Iterations / 8 * ghz * 1e9;
        double y = Best(() => Loop256<TA, TB>(Vector256.Create(1.0000001f))) / Iterations / 8 * ghz * 1e9;
        Console.WriteLine($"{name,-26} {z,6:F2} {y,6:F2}");
    }

    private static double Best(Action run)
    {
        run();
        double best = double.MaxValue;
        for (int r = 0; r < 3; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Op512(int kind, Vector512<float> a)
    {
        Vector512<float> f = Vector512.Create(1.0000001f);
        return kind switch
        {
            Maddubs => Avx512BW.MultiplyAddAdjacent(a.AsByte(), Vector512.Create((sbyte)-2)).AsSingle(),
            Madd => Avx512BW.MultiplyAddAdjacent(a.AsInt16(), Vector512<short>.One).AsSingle(),
            Cvt => Vector512.ConvertToSingle(a.AsInt32()),
            Fma => Avx512F.FusedMultiplyAdd(f, f, a),
            Blend => Avx512BW.BlendVariable(a.AsSByte(), Vector512.Create((sbyte)-2), Vector512<sbyte>.AllBitsSet).AsSingle(),
            Add => (a.AsInt32() + Vector512.Create(0x4B400000)).AsSingle(),
            Shift => Avx512F.ShiftRightArithmetic(a.AsInt32(), 16).AsSingle(),
            _ => a,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Op256(int kind, Vector256<float> a)
    {
        Vector256<float> f = Vector256.Create(1.0000001f);
        return kind switch
        {
            Maddubs => Avx2.MultiplyAddAdjacent(a.AsByte(), Vector256.Create((sbyte)-2)).AsSingle(),
            Madd => Avx2.MultiplyAddAdjacent(a.AsInt16(), Vector256<short>.One).AsSingle(),
            Cvt => Avx.ConvertToVector256Single(a.AsInt32()),
            Fma => System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(f, f, a),
            Blend => Avx512BW.VL.BlendVariable(a.AsSByte(), Vector256.Create((sbyte)-2), Vector256<sbyte>.AllBitsSet).AsSingle(),
            Add => (a.AsInt32() + Vector256.Create(0x4B400000)).AsSingle(),
            Shift => Avx2.ShiftRightArithmetic(a.AsInt32(), 16).AsSingle(),
            _ => a,
        };
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector512<float> Loop512<TA, TB>(Vector512<float> x) where TA : struct, IKind where TB : struct, IKind
    {
        Vector512<float> a0 = x, a1 = x + x, a2 = x * x, a3 = x - x, a4 = -x, a5 = x * 3, a6 = x * 5, a7 = x * 7;
        Vector512<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Op512(TA.Kind, a0); a1 = Op512(TA.Kind, a1); a2 = Op512(TA.Kind, a2); a3 = Op512(TA.Kind, a3);
            a4 = Op512(TA.Kind, a4); a5 = Op512(TA.Kind, a5); a6 = Op512(TA.Kind, a6); a7 = Op512(TA.Kind, a7);
            if (TB.Kind >= 0)
            {
                b0 = Op512(TB.Kind, b0); b1 = Op512(TB.Kind, b1); b2 = Op512(TB.Kind, b2); b3 = Op512(TB.Kind, b3);
                b4 = Op512(TB.Kind, b4); b5 = Op512(TB.Kind, b5); b6 = Op512(TB.Kind, b6); b7 = Op512(TB.Kind, b7);
            }
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7;
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static Vector256<float> Loop256<TA, TB>(Vector256<float> x) where TA : struct, IKind where TB : struct, IKind
    {
        Vector256<float> a0 = x, a1 = x + x, a2 = x * x, a3 = x - x, a4 = -x, a5 = x * 3, a6 = x * 5, a7 = x * 7;
        Vector256<float> b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5, b6 = a6, b7 = a7;
        for (int i = 0; i < Iterations; i++)
        {
            a0 = Op256(TA.Kind, a0); a1 = Op256(TA.Kind, a1); a2 = Op256(TA.Kind, a2); a3 = Op256(TA.Kind, a3);
            a4 = Op256(TA.Kind, a4); a5 = Op256(TA.Kind, a5); a6 = Op256(TA.Kind, a6); a7 = Op256(TA.Kind, a7);
            if (TB.Kind >= 0)
            {
                b0 = Op256(TB.Kind, b0); b1 = Op256(TB.Kind, b1); b2 = Op256(TB.Kind, b2); b3 = Op256(TB.Kind, b3);
                b4 = Op256(TB.Kind, b4); b5 = Op256(TB.Kind, b5); b6 = Op256(TB.Kind, b6); b7 = Op256(TB.Kind, b7);
            }
        }
        return a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + b0 + b1 + b2 + b3 + b4 + b5 + b6 + b7;
    }
}
