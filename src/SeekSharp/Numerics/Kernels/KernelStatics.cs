using System.Runtime.CompilerServices;

namespace SeekSharp.Numerics;

/// <summary>
/// Runs the static constructors of every class whose static fields the kernels read, before any kernel is compiled.
/// </summary>
/// <remarks>
/// The hot kernels are marked <see cref="MethodImplOptions.AggressiveOptimization"/> so the first tokens of a session
/// already run optimized code (tiered compilation would start them unoptimized and swap them later, mid-generation).
/// Such a method is compiled at its first call, and if a class it reads statics from is not initialized by then, the
/// JIT leaves an initialization check inside the loop, and the cold call behind it forces the accumulators into
/// memory: measured 1.4–3× slower. With the classes initialized first, the JIT reads the static readonly fields as
/// constants and the code matches the fully tiered one.
/// </remarks>
internal static class KernelStatics
{
    private static int s_done;

    public static void EnsureInitialized()
    {
        if (Volatile.Read(ref s_done) != 0) return;
        foreach (var type in new[]
        {
            typeof(Fp16), typeof(BlockTables), typeof(LegacyDecode), typeof(KQuantDecode), typeof(KQuantGroups),
            typeof(KQuant), typeof(FloatDot), typeof(SgemmDot), typeof(ActivationQuantizer), typeof(GgmlExp),
            typeof(Quantization.HalfPrecision), typeof(Quantization.QuantSimd), typeof(KernelSettings),
            typeof(RepackedQ4_0), typeof(RepackedQ4_K),
        })
            RuntimeHelpers.RunClassConstructor(type.TypeHandle);
        Volatile.Write(ref s_done, 1);
    }
}
