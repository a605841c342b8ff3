using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Integer dot-product building blocks for the quantized kernels, one set per vector width.
/// </summary>
/// <remarks>
/// Every helper keeps ggml's lane layout: a 32-bit lane l holds the products of bytes 4l..4l+3 of its 128-bit
/// group (what maddubs + madd, or VNNI, produce). The float arithmetic of all kernels is defined on that layout, so the
/// 512/256/128-bit and scalar paths give bit-identical results. Products are exact: callers guarantee that a pair of
/// u8*s8 products never leaves the int16 range (weights are at most 6 bits when unsigned, activations never -128).
/// </remarks>
internal static class Simd
{
    // ---------------------------------------------------------------- 512

    /// <summary>Signed x signed: 32-bit lane sums of 4 products. <paramref name="y"/> must not be -128 where x is negative.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> DotS8(Vector512<sbyte> x, Vector512<sbyte> y)
    {
        // AVX-512 has no vpsignb: move x's sign onto y with a masked negate.
        Vector512<byte> ax = Avx512BW.Abs(x);
        Vector512<sbyte> sy = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<sbyte>.Zero), -y, y);
        return Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(ax, sy), Vector512<short>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> MulPairs(Vector512<byte> u, Vector512<sbyte> s) => Avx512BW.MultiplyAddAdjacent(u, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> MAdd(Vector512<short> a, Vector512<short> b) => Avx512BW.MultiplyAddAdjacent(a, b);

    // ---------------------------------------------------------------- 256

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> DotS8(Vector256<sbyte> x, Vector256<sbyte> y)
    {
        Vector256<byte> ax = Avx2.Sign(x, x).AsByte();
        Vector256<sbyte> sy = Avx2.Sign(y, x);
        return Avx2.MultiplyAddAdjacent(Avx2.MultiplyAddAdjacent(ax, sy), Vector256<short>.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> MulPairs(Vector256<byte> u, Vector256<sbyte> s) => Avx2.MultiplyAddAdjacent(u, s);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> MAdd(Vector256<short> a, Vector256<short> b) => Avx2.MultiplyAddAdjacent(a, b);

    /// <summary>ggml's hsum_float_8: ((v0+v4)+(v2+v6)) + ((v1+v5)+(v3+v7)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum8(Vector256<float> v) => HSum8(v.GetLower(), v.GetUpper());

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float HSum8(Vector128<float> lo, Vector128<float> hi)
    {
        Vector128<float> s = lo + hi;
        return (s.GetElement(0) + s.GetElement(2)) + (s.GetElement(1) + s.GetElement(3));
    }

    /// <summary>Scalar form of <see cref="HSum8(Vector256{float})"/> over 8 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe float HSum8(float* a) => ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));

    // ---------------------------------------------------------------- 128

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> DotS8(Vector128<sbyte> x, Vector128<sbyte> y)
    {
        if (Ssse3.IsSupported && KernelSettings.UseX86Helpers128)
        {
            Vector128<byte> ax = Ssse3.Abs(x);
            Vector128<sbyte> sy = Ssse3.Sign(y, x);
            return Sse2.MultiplyAddAdjacent(Ssse3.MultiplyAddAdjacent(ax, sy), Vector128<short>.One);
        }
        // Portable: split bytes into even/odd 16-bit lanes, multiply in 16 bits, then fold pairs into 32 bits.
        Vector128<short> xe = (x.AsInt16() << 8) >> 8, xo = x.AsInt16() >> 8;
        Vector128<short> ye = (y.AsInt16() << 8) >> 8, yo = y.AsInt16() >> 8;
        return MAdd(xe * ye + xo * yo, Vector128<short>.One);
    }

    /// <summary>Unsigned x signed byte pairs summed into 16-bit lanes (pmaddubsw without saturation concerns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<short> MulPairs(Vector128<byte> u, Vector128<sbyte> s)
    {
        if (Ssse3.IsSupported && KernelSettings.UseX86Helpers128)
            return Ssse3.MultiplyAddAdjacent(u, s);
        Vector128<short> ue = (u.AsUInt16() & Vector128.Create((ushort)0xFF)).AsInt16();
        Vector128<short> uo = (u.AsUInt16() >>> 8).AsInt16();
        Vector128<short> se = (s.AsInt16() << 8) >> 8, so = s.AsInt16() >> 8;
        return ue * se + uo * so;
    }

    /// <summary>16-bit products summed pairwise into 32-bit lanes (pmaddwd).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<int> MAdd(Vector128<short> a, Vector128<short> b)
    {
        if (Sse2.IsSupported && KernelSettings.UseX86Helpers128)
            return Sse2.MultiplyAddAdjacent(a, b);
        Vector128<int> ae = (a.AsInt32() << 16) >> 16, ao = a.AsInt32() >> 16;
        Vector128<int> be = (b.AsInt32() << 16) >> 16, bo = b.AsInt32() >> 16;
        return ae * be + ao * bo;
    }

    /// <summary>Shifts each byte right by <paramref name="n"/> bits (logical).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Shr(Vector128<byte> v, int n) => (v.AsUInt16() >>> n).AsByte() & Vector128.Create((byte)(0xFF >> n));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Shr(Vector256<byte> v, int n) => (v.AsUInt16() >>> n).AsByte() & Vector256.Create((byte)(0xFF >> n));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Shr(Vector512<byte> v, int n) => (v.AsUInt16() >>> n).AsByte() & Vector512.Create((byte)(0xFF >> n));

    // ToVectorNUnsafe().WithUpper() compiles to a single vinserti; Vector512.Create(lo, hi) went through a stack temporary.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<T> Join<T>(Vector256<T> lo, Vector256<T> hi) => lo.ToVector512Unsafe().WithUpper(hi);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Join<T>(Vector128<T> lo, Vector128<T> hi) => lo.ToVector256Unsafe().WithUpper(hi);
}
