using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SeekSharp.Numerics;

/// <summary>IEEE half and bfloat16 conversions used by the kernels (bit-exact, no lookup tables).</summary>
internal static unsafe class Fp16
{
    /// <summary>Exact half -> float for all inputs (denormals, infinities, NaN), branch-free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(ushort h)
    {
        // Shift the half into the top of a float; normal numbers are fixed up by one multiply that rebiases the
        // exponent, denormals by building 0.5 + m * 2^-24 in the float domain and subtracting 0.5.
        uint w = (uint)h << 16;
        uint sign = w & 0x80000000u;
        uint twoW = w + w;
        float normalized = BitConverter.UInt32BitsToSingle((twoW >> 4) + (0xE0u << 23)) * 1.92592994e-34f; // 2^-112
        float denormalized = BitConverter.UInt32BitsToSingle((twoW >> 17) | (126u << 23)) - 0.5f;
        uint bits = twoW < (1u << 27) ? BitConverter.SingleToUInt32Bits(denormalized) : BitConverter.SingleToUInt32Bits(normalized);
        return BitConverter.UInt32BitsToSingle(sign | bits);
    }

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
    public static ushort ToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            return (ushort)((u >> 16) | 64);
        return (ushort)((u + (0x7fffu + ((u >> 16) & 1))) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Bf16ToFloat(ushort b) => BitConverter.UInt32BitsToSingle((uint)b << 16);

    /// <summary>Eight halves -> floats with the same arithmetic as <see cref="ToFloat(ushort)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> ToFloat(Vector128<ushort> h)
    {
        Vector256<uint> w = Vector256.WidenLower(h.ToVector256Unsafe()) << 16;
        return Convert(w);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> ToFloat(Vector256<ushort> h) => Convert(Vector512.WidenLower(h.ToVector512Unsafe()) << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> ToFloat(Vector64<ushort> h) => Convert(Vector128.WidenLower(h.ToVector128Unsafe()) << 16);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Convert(Vector256<uint> w)
    {
        Vector256<uint> sign = w & Vector256.Create(0x80000000u);
        Vector256<uint> twoW = w + w;
        Vector256<float> normalized = ((twoW >> 4) + Vector256.Create(0xE0u << 23)).AsSingle() * Vector256.Create(1.92592994e-34f);
        Vector256<float> denormalized = ((twoW >> 17) | Vector256.Create(126u << 23)).AsSingle() - Vector256.Create(0.5f);
        Vector256<uint> isDenorm = Vector256.LessThan(twoW, Vector256.Create(1u << 27));
        return (sign | Vector256.ConditionalSelect(isDenorm, denormalized.AsUInt32(), normalized.AsUInt32())).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Convert(Vector512<uint> w)
    {
        Vector512<uint> sign = w & Vector512.Create(0x80000000u);
        Vector512<uint> twoW = w + w;
        Vector512<float> normalized = ((twoW >> 4) + Vector512.Create(0xE0u << 23)).AsSingle() * Vector512.Create(1.92592994e-34f);
        Vector512<float> denormalized = ((twoW >> 17) | Vector512.Create(126u << 23)).AsSingle() - Vector512.Create(0.5f);
        Vector512<uint> isDenorm = Vector512.LessThan(twoW, Vector512.Create(1u << 27));
        return (sign | Vector512.ConditionalSelect(isDenorm, denormalized.AsUInt32(), normalized.AsUInt32())).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Convert(Vector128<uint> w)
    {
        Vector128<uint> sign = w & Vector128.Create(0x80000000u);
        Vector128<uint> twoW = w + w;
        Vector128<float> normalized = ((twoW >> 4) + Vector128.Create(0xE0u << 23)).AsSingle() * Vector128.Create(1.92592994e-34f);
        Vector128<float> denormalized = ((twoW >> 17) | Vector128.Create(126u << 23)).AsSingle() - Vector128.Create(0.5f);
        Vector128<uint> isDenorm = Vector128.LessThan(twoW, Vector128.Create(1u << 27));
        return (sign | Vector128.ConditionalSelect(isDenorm, denormalized.AsUInt32(), normalized.AsUInt32())).AsSingle();
    }
}
