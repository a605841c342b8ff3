using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Numerics;

/// <summary>IEEE half and bfloat16 conversions in the shapes the kernels want; the arithmetic is
/// <see cref="HalfPrecision"/>'s (bit-exact with ggml), plus a lookup table for per-block scales.</summary>
internal static unsafe class Fp16
{
    /// <summary>Exact half -> float for all inputs (denormals, infinities, NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h) => HalfPrecision.HalfToSingle(h);

    /// <summary>
    /// Reads a half scale. Uses a 65536-entry table (as ggml's x86 build does) because the kernels convert two scales
    /// per 32-value block and a single load is cheaper than the bit arithmetic.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(byte* p) => s_table[Unsafe.ReadUnaligned<ushort>(p)];

    private static readonly float* s_table = CreateTable();

    private static float* CreateTable()
    {
        // Native memory: never moves, never freed (process lifetime), no bounds checks on lookup.
        float* t = (float*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int h = 0; h < 65536; h++)
            t[h] = ToFloat((ushort)h);
        return t;
    }

    /// <summary>float -> half with round-to-nearest-even (what F16C's vcvtps2ph with imm 0 does).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort FromFloat(float f) => BitConverter.HalfToUInt16Bits((Half)f);

    /// <summary>float -> bfloat16 with round-to-nearest-even; NaNs stay quiet NaNs (ggml's rule).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort ToBf16(float f) => HalfPrecision.SingleToBFloat16(f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToFloat(ushort b) => HalfPrecision.BFloat16ToSingle(b);

    /// <summary>Eight halves -> floats, exactly as the scalar conversion.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector128<ushort> h) => HalfPrecision.HalfToSingle(h.AsInt16());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloat(Vector256<ushort> h) => HalfPrecision.HalfToSingle(h.AsInt16());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToFloat(Vector64<ushort> h) => HalfPrecision.HalfToSingle(h.AsInt16());

    /// <summary>Sixteen halves -> floats, exact unless a lane is Inf/NaN (check the block with <see cref="AnyInfOrNaN(ushort*)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloatFinite(Vector256<ushort> h) => HalfPrecision.FiniteHalfToSingle(h.AsInt16());

    /// <summary>Eight halves -> floats, exact unless a lane is Inf/NaN (check the block with <see cref="AnyInfOrNaN(ushort*)"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloatFinite(Vector128<ushort> h) => HalfPrecision.FiniteHalfToSingle(h.AsInt16());

    /// <summary>True when any of the 64 halves at <paramref name="p"/> is Inf or NaN (one AVX-512 check).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyInfOrNaN(ushort* p) => HalfPrecision.AnyInfOrNaN(Vector512.Load(p), Vector512.Load(p + 32));

    /// <summary>Same as <see cref="AnyInfOrNaN(ushort*)"/> with 256-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool AnyInfOrNaN256(ushort* p) =>
        HalfPrecision.AnyInfOrNaN(Vector256.Load(p), Vector256.Load(p + 16), Vector256.Load(p + 32), Vector256.Load(p + 48));
}
