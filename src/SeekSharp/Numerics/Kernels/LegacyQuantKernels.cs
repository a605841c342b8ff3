using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

// Dot products of the 32-value block types with Q8_0 / Q8_1 activations.
//
// The float arithmetic mirrors ggml's AVX2 vec_dot kernels exactly, which is what llama.cpp's x86 builds run: eight
// float accumulators, one per 32-bit lane of the block's integer dot (lane l = values 4l..4l+3), updated per block with
// fma(dx*dy, lane, acc), then summed as ((a0+a4)+(a2+a6))+((a1+a5)+(a3+a7)). Q4_1/Q5_1 add their min terms to a separate
// scalar with fma (the compiler contracts ggml's `summs += m*s`). Every width below performs those same operations, so
// all paths return identical floats.

/// <summary>Lookup tables shared by the 32-value block kernels.</summary>
internal static class BlockTables
{
    /// <summary>For a byte b: 8 bytes, byte k = 0x10 when bit k of b is set (the fifth bit of Q5_0/Q5_1 values).</summary>
    public static readonly ulong[] Bit16 = CreateBit16();

    private static ulong[] CreateBit16()
    {
        var t = new ulong[256];
        for (int b = 0; b < 256; b++)
            for (int k = 0; k < 8; k++)
                if ((b >> k & 1) != 0)
                    t[b] |= 0x10UL << (8 * k);
        return t;
    }

    /// <summary>The 0x10 high bits of the 32 values of a Q5 block, from its 4 qh bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe Vector256<byte> HighBits(byte* qh)
    {
        ulong[] t = Bit16;
        return Vector256.Create(t[qh[0]], t[qh[1]], t[qh[2]], t[qh[3]]).AsByte();
    }
}

internal unsafe struct Q8_0Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        LegacyMulti.Signed4<Q8_0Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_0;
    private const int B = 34;

    public static float Dot(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 32;
        if (width >= 512)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 1 < nb; i += 2, x += 2 * B, y += 2 * B)
            {
                float d0 = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                float d1 = Fp16.ToFloat(x + B) * Fp16.ToFloat(y + B);
                Vector512<sbyte> qx = Simd.Join(Vector256.Load((sbyte*)(x + 2)), Vector256.Load((sbyte*)(x + B + 2)));
                Vector512<sbyte> qy = Simd.Join(Vector256.Load((sbyte*)(y + 2)), Vector256.Load((sbyte*)(y + B + 2)));
                Vector512<float> p = Vector512.ConvertToSingle(Simd.DotS8(qx, qy));
                acc = Fma.MultiplyAdd(Vector256.Create(d0), p.GetLower(), acc);
                acc = Fma.MultiplyAdd(Vector256.Create(d1), p.GetUpper(), acc);
            }
            if (i < nb)
                acc = Block256(x, y, acc);
            return Simd.HSum8(acc);
        }
        if (width >= 256)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (int i = 0; i < nb; i++, x += B, y += B)
                acc = Block256(x, y, acc);
            return Simd.HSum8(acc);
        }
        if (width >= 128)
        {
            Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
            for (int i = 0; i < nb; i++, x += B, y += B)
            {
                Vector128<float> d = Vector128.Create(Fp16.ToFloat(x) * Fp16.ToFloat(y));
                Vector128<int> p0 = Simd.DotS8(Vector128.Load((sbyte*)(x + 2)), Vector128.Load((sbyte*)(y + 2)));
                Vector128<int> p1 = Simd.DotS8(Vector128.Load((sbyte*)(x + 18)), Vector128.Load((sbyte*)(y + 18)));
                lo = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p0), lo);
                hi = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p1), hi);
            }
            return Simd.HSum8(lo, hi);
        }
        {
            float* acc = stackalloc float[8];
            for (int l = 0; l < 8; l++) acc[l] = 0;
            for (int i = 0; i < nb; i++, x += B, y += B)
            {
                float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                sbyte* qx = (sbyte*)(x + 2), qy = (sbyte*)(y + 2);
                for (int l = 0; l < 8; l++)
                {
                    int s = 0;
                    for (int k = 4 * l; k < 4 * l + 4; k++)
                        s += qx[k] * qy[k];
                    acc[l] = MathF.FusedMultiplyAdd(d, s, acc[l]);
                }
            }
            return Simd.HSum8(acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Block256(byte* x, byte* y, Vector256<float> acc)
    {
        float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
        Vector256<int> p = Simd.DotS8(Vector256.Load((sbyte*)(x + 2)), Vector256.Load((sbyte*)(y + 2)));
        return Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(p), acc);
    }
}

/// <summary>Q4_0 and Q5_0 (signed 4/5-bit values with one f16 scale) against Q8_0.</summary>
internal unsafe struct Q4_0Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        LegacyMulti.Signed4<Q4_0Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_0;
    public static float Dot(byte* x, byte* y, int cols, int width) => LegacyDot.Signed<Q4_0Kernel>(x, y, cols, width);
}

internal unsafe struct Q5_0Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        LegacyMulti.Signed4<Q5_0Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_0;
    public static float Dot(byte* x, byte* y, int cols, int width) => LegacyDot.Signed<Q5_0Kernel>(x, y, cols, width);
}

/// <summary>Q4_1 and Q5_1 (unsigned values, f16 scale and min) against Q8_1.</summary>
internal unsafe struct Q4_1Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        MultiDot.Each<Q4_1Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_1;
    public static float Dot(byte* x, byte* y, int cols, int width) => LegacyDot.WithMin<Q4_1Kernel>(x, y, cols, width);
}

internal unsafe struct Q5_1Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        MultiDot.Each<Q5_1Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_1;
    public static float Dot(byte* x, byte* y, int cols, int width) => LegacyDot.WithMin<Q5_1Kernel>(x, y, cols, width);
}

/// <summary>Shared loops for Q4_0/Q5_0/Q4_1/Q5_1; the type only changes how a block's 32 values are unpacked.</summary>
internal static unsafe class LegacyDot
{
    // Block geometry: bytes per block and offset of the 16 nibble bytes; Q5 types also have 4 qh bytes at offset 2 or 4.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Size<T>() =>
        typeof(T) == typeof(Q4_0Kernel) ? 18 : typeof(T) == typeof(Q5_0Kernel) ? 22 : typeof(T) == typeof(Q4_1Kernel) ? 20 :
        typeof(T) == typeof(Q8_0Kernel) ? 34 : 24;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QsOffset<T>() =>
        typeof(T) == typeof(Q4_0Kernel) ? 2 : typeof(T) == typeof(Q5_0Kernel) ? 6 : typeof(T) == typeof(Q4_1Kernel) ? 4 : 8;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool HasHighBit<T>() => typeof(T) == typeof(Q5_0Kernel) || typeof(T) == typeof(Q5_1Kernel);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int QhOffset<T>() => typeof(T) == typeof(Q5_0Kernel) ? 2 : 4;

    /// <summary>The block's 32 values as unsigned bytes (0..15 or 0..31), in value order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<byte> Unpack256<T>(byte* blk)
    {
        Vector128<byte> q = Vector128.Load(blk + QsOffset<T>());
        Vector256<byte> v = Simd.Join(q & Vector128.Create((byte)0x0F), Simd.Shr(q, 4));
        if (HasHighBit<T>())
            v |= BlockTables.HighBits(blk + QhOffset<T>());
        return v;
    }

    /// <summary>Scalar unsigned value j (0..31) of a block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Value<T>(byte* blk, int j)
    {
        byte* qs = blk + QsOffset<T>();
        int v = j < 16 ? qs[j] & 0x0F : qs[j - 16] >> 4;
        if (HasHighBit<T>())
            v |= (int)((Unsafe.ReadUnaligned<uint>(blk + QhOffset<T>()) >> j) & 1) << 4;
        return v;
    }

    /// <summary>Q4_0 / Q5_0: values offset by 8 / 16 make them signed; acc += (dx*dy) * lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Signed<T>(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 32, bs = Size<T>();
        sbyte off = HasHighBit<T>() ? (sbyte)16 : (sbyte)8;
        if (width >= 512)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 1 < nb; i += 2, x += 2 * bs, y += 68)
            {
                float d0 = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                float d1 = Fp16.ToFloat(x + bs) * Fp16.ToFloat(y + 34);
                Vector512<sbyte> qx = Simd.Join(Unpack256<T>(x), Unpack256<T>(x + bs)).AsSByte() - Vector512.Create(off);
                Vector512<sbyte> qy = Simd.Join(Vector256.Load((sbyte*)(y + 2)), Vector256.Load((sbyte*)(y + 36)));
                Vector512<float> p = Vector512.ConvertToSingle(Simd.DotS8(qx, qy));
                acc = Fma.MultiplyAdd(Vector256.Create(d0), p.GetLower(), acc);
                acc = Fma.MultiplyAdd(Vector256.Create(d1), p.GetUpper(), acc);
            }
            if (i < nb)
                acc = SignedBlock256<T>(x, y, acc, off);
            return Simd.HSum8(acc);
        }
        if (width >= 256)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (int i = 0; i < nb; i++, x += bs, y += 34)
                acc = SignedBlock256<T>(x, y, acc, off);
            return Simd.HSum8(acc);
        }
        if (width >= 128)
        {
            Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
            Vector128<sbyte> voff = Vector128.Create(off);
            for (int i = 0; i < nb; i++, x += bs, y += 34)
            {
                Vector128<float> d = Vector128.Create(Fp16.ToFloat(x) * Fp16.ToFloat(y));
                Vector128<byte> q = Vector128.Load(x + QsOffset<T>());
                Vector128<byte> v0 = q & Vector128.Create((byte)0x0F), v1 = Simd.Shr(q, 4);
                if (HasHighBit<T>())
                {
                    Vector256<byte> h = BlockTables.HighBits(x + QhOffset<T>());
                    v0 |= h.GetLower();
                    v1 |= h.GetUpper();
                }
                Vector128<int> p0 = Simd.DotS8(v0.AsSByte() - voff, Vector128.Load((sbyte*)(y + 2)));
                Vector128<int> p1 = Simd.DotS8(v1.AsSByte() - voff, Vector128.Load((sbyte*)(y + 18)));
                lo = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p0), lo);
                hi = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p1), hi);
            }
            return Simd.HSum8(lo, hi);
        }
        {
            float* acc = stackalloc float[8];
            for (int l = 0; l < 8; l++) acc[l] = 0;
            for (int i = 0; i < nb; i++, x += bs, y += 34)
            {
                float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                sbyte* qy = (sbyte*)(y + 2);
                for (int l = 0; l < 8; l++)
                {
                    int s = 0;
                    for (int k = 4 * l; k < 4 * l + 4; k++)
                        s += (Value<T>(x, k) - off) * qy[k];
                    acc[l] = MathF.FusedMultiplyAdd(d, s, acc[l]);
                }
            }
            return Simd.HSum8(acc);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> SignedBlock256<T>(byte* x, byte* y, Vector256<float> acc, sbyte off)
    {
        float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
        Vector256<sbyte> qx = Unpack256<T>(x).AsSByte() - Vector256.Create(off);
        Vector256<int> p = Simd.DotS8(qx, Vector256.Load((sbyte*)(y + 2)));
        return Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(p), acc);
    }

    /// <summary>Q4_1 / Q5_1: acc += (dx*dy) * lane over unsigned values, plus summs = fma(m, s, summs) per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float WithMin<T>(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 32, bs = Size<T>();
        float summs = 0;
        if (width >= 512)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            int i = 0;
            for (; i + 1 < nb; i += 2, x += 2 * bs, y += 72)
            {
                float d0 = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                float d1 = Fp16.ToFloat(x + bs) * Fp16.ToFloat(y + 36);
                summs = MathF.FusedMultiplyAdd(Fp16.ToFloat(x + 2), Fp16.ToFloat(y + 2), summs);
                summs = MathF.FusedMultiplyAdd(Fp16.ToFloat(x + bs + 2), Fp16.ToFloat(y + 38), summs);
                Vector512<byte> qx = Simd.Join(Unpack256<T>(x), Unpack256<T>(x + bs));
                Vector512<sbyte> qy = Simd.Join(Vector256.Load((sbyte*)(y + 4)), Vector256.Load((sbyte*)(y + 40)));
                Vector512<float> p = Vector512.ConvertToSingle(Simd.MAdd(Simd.MulPairs(qx, qy), Vector512<short>.One));
                acc = Fma.MultiplyAdd(Vector256.Create(d0), p.GetLower(), acc);
                acc = Fma.MultiplyAdd(Vector256.Create(d1), p.GetUpper(), acc);
            }
            if (i < nb)
                acc = MinBlock256<T>(x, y, acc, ref summs);
            return Simd.HSum8(acc) + summs;
        }
        if (width >= 256)
        {
            Vector256<float> acc = Vector256<float>.Zero;
            for (int i = 0; i < nb; i++, x += bs, y += 36)
                acc = MinBlock256<T>(x, y, acc, ref summs);
            return Simd.HSum8(acc) + summs;
        }
        if (width >= 128)
        {
            Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
            for (int i = 0; i < nb; i++, x += bs, y += 36)
            {
                Vector128<float> d = Vector128.Create(Fp16.ToFloat(x) * Fp16.ToFloat(y));
                summs = MathF.FusedMultiplyAdd(Fp16.ToFloat(x + 2), Fp16.ToFloat(y + 2), summs);
                Vector128<byte> q = Vector128.Load(x + QsOffset<T>());
                Vector128<byte> v0 = q & Vector128.Create((byte)0x0F), v1 = Simd.Shr(q, 4);
                if (HasHighBit<T>())
                {
                    Vector256<byte> h = BlockTables.HighBits(x + QhOffset<T>());
                    v0 |= h.GetLower();
                    v1 |= h.GetUpper();
                }
                Vector128<int> p0 = Simd.MAdd(Simd.MulPairs(v0, Vector128.Load((sbyte*)(y + 4))), Vector128<short>.One);
                Vector128<int> p1 = Simd.MAdd(Simd.MulPairs(v1, Vector128.Load((sbyte*)(y + 20))), Vector128<short>.One);
                lo = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p0), lo);
                hi = Vector128.FusedMultiplyAdd(d, Vector128.ConvertToSingle(p1), hi);
            }
            return Simd.HSum8(lo, hi) + summs;
        }
        {
            float* acc = stackalloc float[8];
            for (int l = 0; l < 8; l++) acc[l] = 0;
            for (int i = 0; i < nb; i++, x += bs, y += 36)
            {
                float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
                summs = MathF.FusedMultiplyAdd(Fp16.ToFloat(x + 2), Fp16.ToFloat(y + 2), summs);
                sbyte* qy = (sbyte*)(y + 4);
                for (int l = 0; l < 8; l++)
                {
                    int s = 0;
                    for (int k = 4 * l; k < 4 * l + 4; k++)
                        s += Value<T>(x, k) * qy[k];
                    acc[l] = MathF.FusedMultiplyAdd(d, s, acc[l]);
                }
            }
            return Simd.HSum8(acc) + summs;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MinBlock256<T>(byte* x, byte* y, Vector256<float> acc, ref float summs)
    {
        float d = Fp16.ToFloat(x) * Fp16.ToFloat(y);
        summs = MathF.FusedMultiplyAdd(Fp16.ToFloat(x + 2), Fp16.ToFloat(y + 2), summs);
        Vector256<int> p = Simd.MAdd(Simd.MulPairs(Unpack256<T>(x), Vector256.Load((sbyte*)(y + 4))), Vector256<short>.One);
        return Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(p), acc);
    }
}

/// <summary>
/// Prefill form of the signed 32-value types (Q8_0, Q4_0, Q5_0) against four Q8_0 activation rows: each weight block is
/// unpacked, and its absolute value and sign mask computed, once for the four tokens. Per token the operations are those
/// of the single-token kernels, so results are bit-identical.
/// </summary>
internal static unsafe class LegacyMulti
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<sbyte> Weights256<T>(byte* blk) =>
        typeof(T) == typeof(Q8_0Kernel)
            ? Vector256.Load((sbyte*)(blk + 2))
            : LegacyDot.Unpack256<T>(blk).AsSByte() - Vector256.Create(LegacyDot.HasHighBit<T>() ? (sbyte)16 : (sbyte)8);

    public static void Signed4<T>(byte* x, byte* y, long stride, int cols, int width, float* result)
    {
        if (width < 256)
        {
            for (int t = 0; t < 4; t++)
                result[t] = typeof(T) == typeof(Q8_0Kernel) ? Q8_0Kernel.Dot(x, y + t * stride, cols, width) : LegacyDot.Signed<T>(x, y + t * stride, cols, width);
            return;
        }
        int nb = cols / 32, bs = LegacyDot.Size<T>();
        byte* y0 = y, y1 = y + stride, y2 = y + 2 * stride, y3 = y + 3 * stride;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        int i = 0;
        if (width >= 512)
        {
            for (; i + 1 < nb; i += 2, x += 2 * bs, y0 += 68, y1 += 68, y2 += 68, y3 += 68)
            {
                float da = Fp16.ToFloat(x), db = Fp16.ToFloat(x + bs);
                Vector512<sbyte> w = Simd.Join(Weights256<T>(x), Weights256<T>(x + bs));
                Vector512<byte> aw = Avx512BW.Abs(w);
                Vector512<sbyte> neg = Vector512.LessThan(w, Vector512<sbyte>.Zero);
                Pair512(ref acc0, y0, da, db, aw, neg);
                Pair512(ref acc1, y1, da, db, aw, neg);
                Pair512(ref acc2, y2, da, db, aw, neg);
                Pair512(ref acc3, y3, da, db, aw, neg);
            }
        }
        for (; i < nb; i++, x += bs, y0 += 34, y1 += 34, y2 += 34, y3 += 34)
        {
            float dw = Fp16.ToFloat(x);
            Vector256<sbyte> w = Weights256<T>(x);
            Vector256<byte> aw = Avx2.Sign(w, w).AsByte();
            Block256(ref acc0, y0, dw, aw, w);
            Block256(ref acc1, y1, dw, aw, w);
            Block256(ref acc2, y2, dw, aw, w);
            Block256(ref acc3, y3, dw, aw, w);
        }
        result[0] = Simd.HSum8(acc0);
        result[1] = Simd.HSum8(acc1);
        result[2] = Simd.HSum8(acc2);
        result[3] = Simd.HSum8(acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Pair512(ref Vector256<float> acc, byte* y, float da, float db, Vector512<byte> aw, Vector512<sbyte> neg)
    {
        Vector512<sbyte> a = Simd.Join(Vector256.Load((sbyte*)(y + 2)), Vector256.Load((sbyte*)(y + 36)));
        Vector512<sbyte> sy = Vector512.ConditionalSelect(neg, -a, a);
        Vector512<float> p = Vector512.ConvertToSingle(Simd.MAdd(Simd.MulPairs(aw, sy), Vector512<short>.One));
        acc = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(y)), p.GetLower(), acc);
        acc = Fma.MultiplyAdd(Vector256.Create(db * Fp16.ToFloat(y + 34)), p.GetUpper(), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block256(ref Vector256<float> acc, byte* y, float dw, Vector256<byte> aw, Vector256<sbyte> w)
    {
        Vector256<sbyte> sy = Avx2.Sign(Vector256.Load((sbyte*)(y + 2)), w);
        Vector256<int> p = Simd.MAdd(Simd.MulPairs(aw, sy), Vector256<short>.One);
        acc = Fma.MultiplyAdd(Vector256.Create(dw * Fp16.ToFloat(y)), Vector256.ConvertToSingle(p), acc);
    }
}
