using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics.Quantization;

/// <summary>
/// IEEE binary16 and bfloat16 conversions, bit-for-bit identical to ggml's portable (non-F16C) conversions.
/// </summary>
/// <remarks>
/// <para>Half → single is exact for every pattern. Signalling NaNs come back quietened with their payload kept, which is what
/// both ggml's portable path and the F16C instruction do.</para>
/// <para>Single → half rounds to nearest-even (same result as F16C's vcvtps2ph for every non-NaN input). A NaN becomes the
/// canonical quiet NaN 0x7E00 with the input's sign, like ggml_fp32_to_fp16_row; F16C would instead keep the top payload
/// bits. Quantized scales are never NaN, so only this corner differs from the F16C path.</para>
/// <para>Single → bfloat16 rounds to nearest-even and turns NaNs into quiet NaNs by setting bit 6 of the truncated
/// pattern, exactly like ggml_compute_fp32_to_bf16.</para>
/// <para>The half algorithms rely only on float multiply/add rounding, so they vectorize without losing bit-exactness and
/// need no F16C-like intrinsic.</para>
/// </remarks>
public static class HalfPrecision
{
    // Powers of two used by the branch-free half conversions (C# has no hexadecimal float literals).
    private const uint TwoPow112Bits = 0x77800000;      // 2^112
    private const uint TwoPowMinus110Bits = 0x08800000; // 2^-110
    private const uint TwoPowMinus112Bits = 0x07800000; // 2^-112

    private static float TwoPow112 => BitConverter.UInt32BitsToSingle(TwoPow112Bits);
    private static float TwoPowMinus110 => BitConverter.UInt32BitsToSingle(TwoPowMinus110Bits);
    private static float TwoPowMinus112 => BitConverter.UInt32BitsToSingle(TwoPowMinus112Bits);

    /// <summary>Converts binary16 bits to a float (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HalfToSingle(ushort bits)
    {
        uint w = (uint)bits << 16;
        uint sign = w & 0x80000000u;
        uint twoW = w + w;
        float magnitude;
        if (twoW < (1u << 27))
        {
            // Zero or subnormal: place the mantissa under a 0.5 exponent and subtract 0.5 so the FPU normalizes it.
            magnitude = BitConverter.UInt32BitsToSingle((twoW >> 17) | 0x3F000000u) - 0.5f;
        }
        else
        {
            // Normal, Inf or NaN: rebias the exponent by a multiply, which also maps 31 → 255 for Inf/NaN.
            magnitude = BitConverter.UInt32BitsToSingle((twoW >> 4) + 0x70000000u) * TwoPowMinus112;
        }
        return BitConverter.UInt32BitsToSingle(sign | BitConverter.SingleToUInt32Bits(magnitude));
    }

    /// <summary>Converts a float to binary16 bits, rounding to nearest-even.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToHalf(float v)
    {
        uint w = BitConverter.SingleToUInt32Bits(v);
        uint shl1 = w + w;
        uint sign = (w & 0x80000000u) >> 16;
        if (shl1 > 0xFF000000u)
            return (ushort)(sign | 0x7E00u);
        // Scaling up then down pushes overflow to Inf and lets the FPU round the mantissa (RNE, incl. subnormals).
        float b = MathF.Abs(v) * TwoPow112 * TwoPowMinus110;
        uint bias = shl1 & 0xFF000000u;
        if (bias < 0x71000000u)
            bias = 0x71000000u;
        b = BitConverter.UInt32BitsToSingle((bias >> 1) + 0x07800000u) + b;
        uint bb = BitConverter.SingleToUInt32Bits(b);
        return (ushort)(sign | (((bb >> 13) & 0x7C00u) + (bb & 0x0FFFu)));
    }

    /// <summary>Converts bfloat16 bits to a float (exact; the pattern is kept, signalling NaNs included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float BFloat16ToSingle(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>Converts a float to bfloat16 bits: round-to-nearest-even, NaNs forced quiet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort SingleToBFloat16(float v)
    {
        uint u = BitConverter.SingleToUInt32Bits(v);
        if ((u & 0x7FFFFFFFu) > 0x7F800000u)
            return (ushort)((u >> 16) | 64u);
        return (ushort)((u + (0x7FFFu + ((u >> 16) & 1u))) >> 16);
    }

    /// <summary>Converts a row of binary16 values; <paramref name="dst"/> must be at least as long as <paramref name="src"/>.</summary>
    public static void HalfToSingle(ReadOnlySpan<ushort> src, Span<float> dst) => HalfToSingle(src, dst, QuantSimd.Current);

    /// <summary>Converts a row of floats to binary16; <paramref name="dst"/> must be at least as long as <paramref name="src"/>.</summary>
    public static void SingleToHalf(ReadOnlySpan<float> src, Span<ushort> dst) => SingleToHalf(src, dst, QuantSimd.Current);

    /// <summary>Converts a row of bfloat16 values; <paramref name="dst"/> must be at least as long as <paramref name="src"/>.</summary>
    public static void BFloat16ToSingle(ReadOnlySpan<ushort> src, Span<float> dst) => BFloat16ToSingle(src, dst, QuantSimd.Current);

    /// <summary>Converts a row of floats to bfloat16; <paramref name="dst"/> must be at least as long as <paramref name="src"/>.</summary>
    public static void SingleToBFloat16(ReadOnlySpan<float> src, Span<ushort> dst) => SingleToBFloat16(src, dst, QuantSimd.Current);

    // ---------------------------------------------------------------------------------------------------------------
    // Row kernels with an explicit vector width (internal so tests can force every path).

    internal static void HalfToSingle(ReadOnlySpan<ushort> src, Span<float> dst, QuantSimdLevel level)
    {
        CheckLengths(src.Length, dst.Length);
        int n = src.Length, i = 0;
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref float d = ref MemoryMarshal.GetReference(dst);
        level = QuantSimd.Clamp(level);
        if (level >= QuantSimdLevel.Vector512)
        {
            for (; i + 16 <= n; i += 16)
            {
                HalfToSingle(Vector256.LoadUnsafe(ref s, (nuint)i).AsInt16()).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector256)
        {
            for (; i + 8 <= n; i += 8)
            {
                HalfToSingle(Vector128.LoadUnsafe(ref s, (nuint)i).AsInt16()).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector128)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector128<short> v = Vector128.LoadUnsafe(ref s, (nuint)i).AsInt16();
                SignExtendedHalfToSingle(Vector128.WidenLower(v)).StoreUnsafe(ref d, (nuint)i);
                SignExtendedHalfToSingle(Vector128.WidenUpper(v)).StoreUnsafe(ref d, (nuint)(i + 4));
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = HalfToSingle(Unsafe.Add(ref s, i));
    }

    internal static void SingleToHalf(ReadOnlySpan<float> src, Span<ushort> dst, QuantSimdLevel level)
    {
        CheckLengths(src.Length, dst.Length);
        int n = src.Length, i = 0;
        ref float s = ref MemoryMarshal.GetReference(src);
        ref ushort d = ref MemoryMarshal.GetReference(dst);
        level = QuantSimd.Clamp(level);
        if (level >= QuantSimdLevel.Vector512)
        {
            for (; i + 32 <= n; i += 32)
            {
                Vector512<uint> lo = SingleToHalf(Vector512.LoadUnsafe(ref s, (nuint)i));
                Vector512<uint> hi = SingleToHalf(Vector512.LoadUnsafe(ref s, (nuint)(i + 16)));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector256)
        {
            for (; i + 16 <= n; i += 16)
            {
                Vector256<uint> lo = SingleToHalf(Vector256.LoadUnsafe(ref s, (nuint)i));
                Vector256<uint> hi = SingleToHalf(Vector256.LoadUnsafe(ref s, (nuint)(i + 8)));
                Vector256.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector128)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector128<uint> lo = SingleToHalf(Vector128.LoadUnsafe(ref s, (nuint)i));
                Vector128<uint> hi = SingleToHalf(Vector128.LoadUnsafe(ref s, (nuint)(i + 4)));
                Vector128.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = SingleToHalf(Unsafe.Add(ref s, i));
    }

    internal static void BFloat16ToSingle(ReadOnlySpan<ushort> src, Span<float> dst, QuantSimdLevel level)
    {
        CheckLengths(src.Length, dst.Length);
        int n = src.Length, i = 0;
        ref ushort s = ref MemoryMarshal.GetReference(src);
        ref uint d = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(dst));
        level = QuantSimd.Clamp(level);
        // Pure integer widening: bit patterns (signalling NaNs included) pass through untouched.
        if (level >= QuantSimdLevel.Vector512)
        {
            for (; i + 16 <= n; i += 16)
                (Vector512.WidenLower(Vector256.LoadUnsafe(ref s, (nuint)i).ToVector512Unsafe()) << 16).StoreUnsafe(ref d, (nuint)i);
        }
        if (level >= QuantSimdLevel.Vector256)
        {
            for (; i + 8 <= n; i += 8)
                (Vector256.WidenLower(Vector128.LoadUnsafe(ref s, (nuint)i).ToVector256Unsafe()) << 16).StoreUnsafe(ref d, (nuint)i);
        }
        if (level >= QuantSimdLevel.Vector128)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector128<ushort> v = Vector128.LoadUnsafe(ref s, (nuint)i);
                (Vector128.WidenLower(v) << 16).StoreUnsafe(ref d, (nuint)i);
                (Vector128.WidenUpper(v) << 16).StoreUnsafe(ref d, (nuint)(i + 4));
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = (uint)Unsafe.Add(ref s, i) << 16;
    }

    internal static void SingleToBFloat16(ReadOnlySpan<float> src, Span<ushort> dst, QuantSimdLevel level)
    {
        CheckLengths(src.Length, dst.Length);
        int n = src.Length, i = 0;
        ref uint s = ref Unsafe.As<float, uint>(ref MemoryMarshal.GetReference(src));
        ref ushort d = ref MemoryMarshal.GetReference(dst);
        level = QuantSimd.Clamp(level);
        if (level >= QuantSimdLevel.Vector512)
        {
            for (; i + 32 <= n; i += 32)
            {
                Vector512<uint> lo = SingleToBFloat16(Vector512.LoadUnsafe(ref s, (nuint)i));
                Vector512<uint> hi = SingleToBFloat16(Vector512.LoadUnsafe(ref s, (nuint)(i + 16)));
                Vector512.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector256)
        {
            for (; i + 16 <= n; i += 16)
            {
                Vector256<uint> lo = SingleToBFloat16(Vector256.LoadUnsafe(ref s, (nuint)i));
                Vector256<uint> hi = SingleToBFloat16(Vector256.LoadUnsafe(ref s, (nuint)(i + 8)));
                Vector256.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        if (level >= QuantSimdLevel.Vector128)
        {
            for (; i + 8 <= n; i += 8)
            {
                Vector128<uint> lo = SingleToBFloat16(Vector128.LoadUnsafe(ref s, (nuint)i));
                Vector128<uint> hi = SingleToBFloat16(Vector128.LoadUnsafe(ref s, (nuint)(i + 4)));
                Vector128.Narrow(lo, hi).StoreUnsafe(ref d, (nuint)i);
            }
        }
        for (; i < n; i++)
            Unsafe.Add(ref d, i) = SingleToBFloat16(BitConverter.UInt32BitsToSingle(Unsafe.Add(ref s, i)));
    }

    private static void CheckLengths(int src, int dst)
    {
        if (dst < src)
            throw new ArgumentException($"destination holds {dst} values but the source has {src}", "dst");
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Lane-wise half -> single (the decode hot path for F16 weights, so it is a different, cheaper algorithm than the
    // scalar one above; both are exact, so the results are the same bits).
    //
    // A half sign-extended to 32 bits and shifted left by 13 holds copies of the sign in bits 28-31, the 5-bit exponent
    // in bits 23-27 and the mantissa in bits 13-22. Clearing bits 28-30 leaves a float whose sign, exponent field and
    // mantissa are the half's, i.e. the half's value times 2^-112 (a float denormal when the half is subnormal, and
    // exact either way); one multiply by 2^112 then gives the value exactly: the result is representable, so nothing
    // rounds, and the FPU normalizes half subnormals (float denormal inputs are not flushed: .NET never sets DAZ/FTZ).
    // Only exponent 31 (Inf/NaN) comes out wrong (finite, |x| >= 65536). Setting bits 28-30 instead turns exactly those
    // lanes into the float Inf/NaN with the half's sign and payload; multiplying that by 2^112 keeps Inf and quietens a
    // signalling NaN (payload kept), which is what the scalar path, ggml and F16C all return. With AVX-512,
    // vfixupimmps patches those lanes after the multiply in one instruction; elsewhere a compare and select do it
    // before the multiply. About 6 operations per vector instead of 13.

    /// <summary>Converts halves that were sign-extended to 32 bits (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> SignExtendedHalfToSingle(Vector512<int> h)
    {
        Vector512<int> t = h << 13;
        Vector512<int> special = t | Vector512.Create(0x70000000);
        if (Avx512F.IsSupported)
        {
            Vector512<float> scaled = (t & Vector512.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector512.Create(TwoPow112);
            // 'special' is Inf/NaN exactly in the exponent-31 lanes and a normal float elsewhere (exponent field 224 +
            // the half's), so the table makes Inf and QNaN lanes take it, SNaN lanes take it quietened, the rest keep 'scaled'.
            return Avx512F.Fixup(scaled, special.AsSingle(), Vector512.Create(FixupSpecialTable), 0);
        }
        Vector512<int> isSpecial = Vector512.Equals(t & Vector512.Create(0x0F800000), Vector512.Create(0x0F800000));
        Vector512<int> bits = Vector512.ConditionalSelect(isSpecial, special, t & Vector512.Create(unchecked((int)0x8FFFE000)));
        return bits.AsSingle() * Vector512.Create(TwoPow112);
    }

    /// <inheritdoc cref="SignExtendedHalfToSingle(Vector512{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> SignExtendedHalfToSingle(Vector256<int> h)
    {
        Vector256<int> t = h << 13;
        Vector256<int> isSpecial = Vector256.Equals(t & Vector256.Create(0x0F800000), Vector256.Create(0x0F800000));
        Vector256<int> bits = Vector256.ConditionalSelect(isSpecial, t | Vector256.Create(0x70000000), t & Vector256.Create(unchecked((int)0x8FFFE000)));
        return bits.AsSingle() * Vector256.Create(TwoPow112);
    }

    /// <inheritdoc cref="SignExtendedHalfToSingle(Vector512{int})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> SignExtendedHalfToSingle(Vector128<int> h)
    {
        Vector128<int> t = h << 13;
        Vector128<int> isSpecial = Vector128.Equals(t & Vector128.Create(0x0F800000), Vector128.Create(0x0F800000));
        Vector128<int> bits = Vector128.ConditionalSelect(isSpecial, t | Vector128.Create(0x70000000), t & Vector128.Create(unchecked((int)0x8FFFE000)));
        return bits.AsSingle() * Vector128.Create(TwoPow112);
    }

    /// <summary>Sixteen halves (as raw 16-bit patterns) to floats, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> HalfToSingle(Vector256<short> h) => SignExtendedHalfToSingle(Vector512.WidenLower(h.ToVector512Unsafe()));

    /// <summary>Eight halves (as raw 16-bit patterns) to floats, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> HalfToSingle(Vector128<short> h) => SignExtendedHalfToSingle(Vector256.WidenLower(h.ToVector256Unsafe()));

    /// <summary>Four halves (as raw 16-bit patterns) to floats, exactly.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector128<float> HalfToSingle(Vector64<short> h) => SignExtendedHalfToSingle(Vector128.WidenLower(h.ToVector128Unsafe()));

    /// <summary>
    /// Sixteen halves to floats with the fix-up for Inf/NaN left out: exact for every half whose exponent is not 31
    /// (<see cref="AnyInfOrNaN(Vector512{ushort}, Vector512{ushort})"/> finds those). Dot-product loops check a block once
    /// and take this cheaper path for the (normal) blocks without Inf/NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> FiniteHalfToSingle(Vector256<short> h) =>
        ((Vector512.WidenLower(h.ToVector512Unsafe()) << 13) & Vector512.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector512.Create(TwoPow112);

    /// <inheritdoc cref="FiniteHalfToSingle(Vector256{short})"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> FiniteHalfToSingle(Vector128<short> h) =>
        ((Vector256.WidenLower(h.ToVector256Unsafe()) << 13) & Vector256.Create(unchecked((int)0x8FFFE000))).AsSingle() * Vector256.Create(TwoPow112);

    // A half is Inf or NaN exactly when its five exponent bits are all ones, i.e. when setting all its other bits gives
    // 0xFFFF; the unsigned maximum over the inputs reaches 0xFFFF in some lane exactly when one of them is.

    /// <summary>True when any of the 64 halves in <paramref name="a"/> and <paramref name="b"/> is Inf or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AnyInfOrNaN(Vector512<ushort> a, Vector512<ushort> b)
    {
        Vector512<ushort> rest = Vector512.Create((ushort)0x83FF);
        return Vector512.EqualsAny(Vector512.Max(a | rest, b | rest), Vector512<ushort>.AllBitsSet);
    }

    /// <summary>True when any of the 64 halves in <paramref name="a"/> .. <paramref name="d"/> is Inf or NaN.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AnyInfOrNaN(Vector256<ushort> a, Vector256<ushort> b, Vector256<ushort> c, Vector256<ushort> d)
    {
        Vector256<ushort> rest = Vector256.Create((ushort)0x83FF);
        Vector256<ushort> max = Vector256.Max(Vector256.Max(a | rest, b | rest), Vector256.Max(c | rest, d | rest));
        return Vector256.EqualsAny(max, Vector256<ushort>.AllBitsSet);
    }

    // vfixupimmps response per input class, four bits each (class 0 = QNaN ... 7 = positive finite): 1 = take the
    // classified input, 2 = take it quietened, 0 = keep the destination. QNaN 1, SNaN 2, -Inf 1, +Inf 1, others 0.
    private const int FixupSpecialTable = 0x00110021;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> SingleToHalf(Vector512<float> v)
    {
        Vector512<uint> w = v.AsUInt32();
        Vector512<uint> abs = w & Vector512.Create(0x7FFFFFFFu);
        Vector512<float> b = abs.AsSingle() * Vector512.Create(TwoPow112) * Vector512.Create(TwoPowMinus110);
        Vector512<uint> bias = Vector512.Max((w + w) & Vector512.Create(0xFF000000u), Vector512.Create(0x71000000u));
        b = ((bias >> 1) + Vector512.Create(0x07800000u)).AsSingle() + b;
        Vector512<uint> bb = b.AsUInt32();
        Vector512<uint> nonSign = ((bb >> 13) & Vector512.Create(0x7C00u)) + (bb & Vector512.Create(0x0FFFu));
        Vector512<uint> isNaN = Vector512.GreaterThan(abs.AsInt32(), Vector512.Create(0x7F800000)).AsUInt32();
        Vector512<uint> mag = Vector512.ConditionalSelect(isNaN, Vector512.Create(0x7E00u), nonSign);
        return mag | ((w & Vector512.Create(0x80000000u)) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> SingleToHalf(Vector256<float> v)
    {
        Vector256<uint> w = v.AsUInt32();
        Vector256<uint> abs = w & Vector256.Create(0x7FFFFFFFu);
        Vector256<float> b = abs.AsSingle() * Vector256.Create(TwoPow112) * Vector256.Create(TwoPowMinus110);
        Vector256<uint> bias = Vector256.Max((w + w) & Vector256.Create(0xFF000000u), Vector256.Create(0x71000000u));
        b = ((bias >> 1) + Vector256.Create(0x07800000u)).AsSingle() + b;
        Vector256<uint> bb = b.AsUInt32();
        Vector256<uint> nonSign = ((bb >> 13) & Vector256.Create(0x7C00u)) + (bb & Vector256.Create(0x0FFFu));
        Vector256<uint> isNaN = Vector256.GreaterThan(abs.AsInt32(), Vector256.Create(0x7F800000)).AsUInt32();
        Vector256<uint> mag = Vector256.ConditionalSelect(isNaN, Vector256.Create(0x7E00u), nonSign);
        return mag | ((w & Vector256.Create(0x80000000u)) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> SingleToHalf(Vector128<float> v)
    {
        Vector128<uint> w = v.AsUInt32();
        Vector128<uint> abs = w & Vector128.Create(0x7FFFFFFFu);
        Vector128<float> b = abs.AsSingle() * Vector128.Create(TwoPow112) * Vector128.Create(TwoPowMinus110);
        Vector128<uint> bias = Vector128.Max((w + w) & Vector128.Create(0xFF000000u), Vector128.Create(0x71000000u));
        b = ((bias >> 1) + Vector128.Create(0x07800000u)).AsSingle() + b;
        Vector128<uint> bb = b.AsUInt32();
        Vector128<uint> nonSign = ((bb >> 13) & Vector128.Create(0x7C00u)) + (bb & Vector128.Create(0x0FFFu));
        Vector128<uint> isNaN = Vector128.GreaterThan(abs.AsInt32(), Vector128.Create(0x7F800000)).AsUInt32();
        Vector128<uint> mag = Vector128.ConditionalSelect(isNaN, Vector128.Create(0x7E00u), nonSign);
        return mag | ((w & Vector128.Create(0x80000000u)) >> 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> SingleToBFloat16(Vector512<uint> u)
    {
        Vector512<uint> rounded = (u + (Vector512.Create(0x7FFFu) + ((u >> 16) & Vector512<uint>.One))) >> 16;
        Vector512<uint> isNaN = Vector512.GreaterThan((u & Vector512.Create(0x7FFFFFFFu)).AsInt32(), Vector512.Create(0x7F800000)).AsUInt32();
        return Vector512.ConditionalSelect(isNaN, (u >> 16) | Vector512.Create(64u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<uint> SingleToBFloat16(Vector256<uint> u)
    {
        Vector256<uint> rounded = (u + (Vector256.Create(0x7FFFu) + ((u >> 16) & Vector256<uint>.One))) >> 16;
        Vector256<uint> isNaN = Vector256.GreaterThan((u & Vector256.Create(0x7FFFFFFFu)).AsInt32(), Vector256.Create(0x7F800000)).AsUInt32();
        return Vector256.ConditionalSelect(isNaN, (u >> 16) | Vector256.Create(64u), rounded);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<uint> SingleToBFloat16(Vector128<uint> u)
    {
        Vector128<uint> rounded = (u + (Vector128.Create(0x7FFFu) + ((u >> 16) & Vector128<uint>.One))) >> 16;
        Vector128<uint> isNaN = Vector128.GreaterThan((u & Vector128.Create(0x7FFFFFFFu)).AsInt32(), Vector128.Create(0x7F800000)).AsUInt32();
        return Vector128.ConditionalSelect(isNaN, (u >> 16) | Vector128.Create(64u), rounded);
    }
}
