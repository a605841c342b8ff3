using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SeekSharp.Gguf;
using static SeekSharp.Numerics.Quantization.BlockLayout;

namespace SeekSharp.Numerics.Quantization;

// Vectorized dequantization. Blocks are unpacked to signed bytes with 128-bit integer operations (the same on every
// width), then each group of 16 bytes is widened to floats and combined with its per-group scale using the exact
// float operations of the scalar code, at 512, 256 or 128 bits.
public static partial class Dequantizer
{
    private static void DequantizeVector<TW>(GgmlType type, ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        switch (type)
        {
            case GgmlType.Q4_0: Q4_0V<TW>(ref s, ref y, nb); break;
            case GgmlType.Q4_1: Q4_1V<TW>(ref s, ref y, nb); break;
            case GgmlType.Q5_0: Q5_0V<TW>(ref s, ref y, nb); break;
            case GgmlType.Q5_1: Q5_1V<TW>(ref s, ref y, nb); break;
            case GgmlType.Q8_0: Q8_0V<TW>(ref s, ref y, nb, Q8_0Size, Q8_0Qs); break;
            case GgmlType.Q8_1: Q8_0V<TW>(ref s, ref y, nb, Q8_1Size, Q8_1Qs); break;
            case GgmlType.Q2_K: Q2_KV<TW>(ref s, ref y, nb); break;
            case GgmlType.Q3_K: Q3_KV<TW>(ref s, ref y, nb); break;
            case GgmlType.Q4_K: Q4_KV<TW>(ref s, ref y, nb); break;
            case GgmlType.Q5_K: Q5_KV<TW>(ref s, ref y, nb); break;
            case GgmlType.Q6_K: Q6_KV<TW>(ref s, ref y, nb); break;
            case GgmlType.Q8_K: Q8_KV<TW>(ref s, ref y, nb); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> Load16(ref byte p, int offset) => Vector128.LoadUnsafe(ref Unsafe.Add(ref p, offset));

    private static void Q8_0V<TW>(ref byte s, ref float y, int nb, int blockSize, int qsOffset) where TW : struct, IVectorWidth
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, blockSize), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            TW.Affine16<MulOp>(Load16(ref s, qsOffset).AsSByte(), d, 0f, ref y);
            TW.Affine16<MulOp>(Load16(ref s, qsOffset + 16).AsSByte(), d, 0f, ref Unsafe.Add(ref y, 16));
        }
    }

    private static void Q4_0V<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F), eight = Vector128.Create((byte)8);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_0Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            Vector128<byte> q = Load16(ref s, Q4_0Qs);
            TW.Affine16<MulOp>(((q & mask) - eight).AsSByte(), d, 0f, ref y);
            TW.Affine16<MulOp>(((q >> 4) - eight).AsSByte(), d, 0f, ref Unsafe.Add(ref y, 16));
        }
    }

    private static void Q4_1V<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_1Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            float m = Half(ref s, Q4_1M);
            Vector128<byte> q = Load16(ref s, Q4_1Qs);
            TW.Affine16<MulAddOp>((q & mask).AsSByte(), d, m, ref y);
            TW.Affine16<MulAddOp>((q >> 4).AsSByte(), d, m, ref Unsafe.Add(ref y, 16));
        }
    }

    /// <summary>Spreads 32 bits into 32 bytes holding 0x10 where the bit is set (the fifth bit of Q5 quants).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector128<byte> Low, Vector128<byte> High) FifthBits(uint qh)
    {
        Vector128<byte> bytes = Vector128.CreateScalar(qh).AsByte();
        Vector128<byte> bit = Vector128.Create((byte)1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
        Vector128<byte> lo = Vector128.Shuffle(bytes, Vector128.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        Vector128<byte> hi = Vector128.Shuffle(bytes, Vector128.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
        Vector128<byte> sixteen = Vector128.Create((byte)0x10);
        return (Vector128.Equals(lo & bit, bit) & sixteen, Vector128.Equals(hi & bit, bit) & sixteen);
    }

    private static void Q5_0V<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F), sixteen = Vector128.Create((byte)16);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_0Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            (Vector128<byte> h0, Vector128<byte> h1) = FifthBits(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, Q5_0Qh)));
            Vector128<byte> q = Load16(ref s, Q5_0Qs);
            TW.Affine16<MulOp>(((q & mask | h0) - sixteen).AsSByte(), d, 0f, ref y);
            TW.Affine16<MulOp>(((q >> 4 | h1) - sixteen).AsSByte(), d, 0f, ref Unsafe.Add(ref y, 16));
        }
    }

    private static void Q5_1V<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_1Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            float m = Half(ref s, Q5_1M);
            (Vector128<byte> h0, Vector128<byte> h1) = FifthBits(Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, Q5_1Qh)));
            Vector128<byte> q = Load16(ref s, Q5_1Qs);
            TW.Affine16<MulAddOp>((q & mask | h0).AsSByte(), d, m, ref y);
            TW.Affine16<MulAddOp>((q >> 4 | h1).AsSByte(), d, m, ref Unsafe.Add(ref y, 16));
        }
    }

    private static void Q2_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> three = Vector128.Create((byte)3);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q2_KSize))
        {
            float d = Half(ref s, Q2_KD);
            float min = Half(ref s, Q2_KDmin);
            int isc = 0;
            for (int n = 0; n < QK_K; n += 128)
            {
                Vector128<byte> q0 = Load16(ref s, Q2_KQs + n / 4);
                Vector128<byte> q1 = Load16(ref s, Q2_KQs + n / 4 + 16);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    byte sc = Unsafe.Add(ref s, Q2_KScales + isc++);
                    TW.Affine16<MulSubOp>(((q0 >> shift) & three).AsSByte(), d * (sc & 0xF), min * (sc >> 4), ref y);
                    sc = Unsafe.Add(ref s, Q2_KScales + isc++);
                    TW.Affine16<MulSubOp>(((q1 >> shift) & three).AsSByte(), d * (sc & 0xF), min * (sc >> 4), ref Unsafe.Add(ref y, 16));
                    y = ref Unsafe.Add(ref y, 32);
                }
            }
        }
    }

    private static void Q3_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> three = Vector128.Create((byte)3), four = Vector128.Create((byte)4);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q3_KSize))
        {
            float dAll = Half(ref s, Q3_KD);
            ref byte scales = ref Unsafe.Add(ref s, Q3_KScales);
            Vector128<byte> hm0 = Load16(ref s, Q3_KHmask), hm1 = Load16(ref s, Q3_KHmask + 16);
            int isc = 0, bit = 0;
            for (int n = 0; n < QK_K; n += 128)
            {
                Vector128<byte> q0 = Load16(ref s, Q3_KQs + n / 4);
                Vector128<byte> q1 = Load16(ref s, Q3_KQs + n / 4 + 16);
                for (int shift = 0; shift < 8; shift += 2, bit++)
                {
                    Vector128<byte> m = Vector128.Create((byte)(1 << bit));
                    // Subtract 4 where the high bit is clear.
                    Vector128<byte> sub0 = Vector128.Equals(hm0 & m, Vector128<byte>.Zero) & four;
                    Vector128<byte> sub1 = Vector128.Equals(hm1 & m, Vector128<byte>.Zero) & four;
                    TW.Affine16<MulOp>((((q0 >> shift) & three) - sub0).AsSByte(), dAll * ScaleQ3K(ref scales, isc++), 0f, ref y);
                    TW.Affine16<MulOp>((((q1 >> shift) & three) - sub1).AsSByte(), dAll * ScaleQ3K(ref scales, isc++), 0f, ref Unsafe.Add(ref y, 16));
                    y = ref Unsafe.Add(ref y, 32);
                }
            }
        }
    }

    private static void Q4_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_KSize))
        {
            float d = Half(ref s, Q4_KD);
            float min = Half(ref s, Q4_KDmin);
            ref byte scales = ref Unsafe.Add(ref s, Q4_KScales);
            for (int j = 0, isc = 0; j < QK_K; j += 64, isc += 2)
            {
                ScaleMinK4(isc, ref scales, out int sc, out int mn);
                float d1 = d * sc, m1 = min * mn;
                ScaleMinK4(isc + 1, ref scales, out sc, out mn);
                float d2 = d * sc, m2 = min * mn;
                Vector128<byte> q0 = Load16(ref s, Q4_KQs + j / 2);
                Vector128<byte> q1 = Load16(ref s, Q4_KQs + j / 2 + 16);
                TW.Affine16<MulSubOp>((q0 & mask).AsSByte(), d1, m1, ref y);
                TW.Affine16<MulSubOp>((q1 & mask).AsSByte(), d1, m1, ref Unsafe.Add(ref y, 16));
                TW.Affine16<MulSubOp>((q0 >> 4).AsSByte(), d2, m2, ref Unsafe.Add(ref y, 32));
                TW.Affine16<MulSubOp>((q1 >> 4).AsSByte(), d2, m2, ref Unsafe.Add(ref y, 48));
                y = ref Unsafe.Add(ref y, 64);
            }
        }
    }

    private static void Q5_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F), sixteen = Vector128.Create((byte)16);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_KSize))
        {
            float d = Half(ref s, Q5_KD);
            float min = Half(ref s, Q5_KDmin);
            ref byte scales = ref Unsafe.Add(ref s, Q5_KScales);
            Vector128<byte> qh0 = Load16(ref s, Q5_KQh), qh1 = Load16(ref s, Q5_KQh + 16);
            for (int j = 0, isc = 0; j < QK_K; j += 64, isc += 2)
            {
                ScaleMinK4(isc, ref scales, out int sc, out int mn);
                float d1 = d * sc, m1 = min * mn;
                ScaleMinK4(isc + 1, ref scales, out sc, out mn);
                float d2 = d * sc, m2 = min * mn;
                Vector128<byte> u1 = Vector128.Create((byte)(1 << isc)), u2 = Vector128.Create((byte)(2 << isc));
                Vector128<byte> q0 = Load16(ref s, Q5_KQs + j / 2);
                Vector128<byte> q1 = Load16(ref s, Q5_KQs + j / 2 + 16);
                Vector128<byte> a0 = (q0 & mask) | (Vector128.Equals(qh0 & u1, u1) & sixteen);
                Vector128<byte> a1 = (q1 & mask) | (Vector128.Equals(qh1 & u1, u1) & sixteen);
                Vector128<byte> b0 = (q0 >> 4) | (Vector128.Equals(qh0 & u2, u2) & sixteen);
                Vector128<byte> b1 = (q1 >> 4) | (Vector128.Equals(qh1 & u2, u2) & sixteen);
                TW.Affine16<MulSubOp>(a0.AsSByte(), d1, m1, ref y);
                TW.Affine16<MulSubOp>(a1.AsSByte(), d1, m1, ref Unsafe.Add(ref y, 16));
                TW.Affine16<MulSubOp>(b0.AsSByte(), d2, m2, ref Unsafe.Add(ref y, 32));
                TW.Affine16<MulSubOp>(b1.AsSByte(), d2, m2, ref Unsafe.Add(ref y, 48));
                y = ref Unsafe.Add(ref y, 64);
            }
        }
    }

    private static void Q6_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        Vector128<byte> mask = Vector128.Create((byte)0x0F), three = Vector128.Create((byte)3), off = Vector128.Create((byte)32);
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q6_KSize))
        {
            float d = Half(ref s, Q6_KD);
            for (int n = 0; n < QK_K; n += 128)
            {
                ref byte sc = ref Unsafe.Add(ref s, Q6_KScales + n / 16);
                for (int half = 0; half < 2; half++)
                {
                    int l = 16 * half;
                    Vector128<byte> qa = Load16(ref s, Q6_KQl + n / 2 + l);
                    Vector128<byte> qb = Load16(ref s, Q6_KQl + n / 2 + 32 + l);
                    Vector128<byte> h = Load16(ref s, Q6_KQh + n / 4 + l);
                    Vector128<byte> q1 = ((qa & mask) | ((h & three) << 4)) - off;
                    Vector128<byte> q2 = ((qb & mask) | (((h >> 2) & three) << 4)) - off;
                    Vector128<byte> q3 = ((qa >> 4) | (((h >> 4) & three) << 4)) - off;
                    Vector128<byte> q4 = ((qb >> 4) | ((h >> 6) << 4)) - off;
                    TW.Affine16<MulOp>(q1.AsSByte(), d * (sbyte)Unsafe.Add(ref sc, half), 0f, ref Unsafe.Add(ref y, l));
                    TW.Affine16<MulOp>(q2.AsSByte(), d * (sbyte)Unsafe.Add(ref sc, half + 2), 0f, ref Unsafe.Add(ref y, l + 32));
                    TW.Affine16<MulOp>(q3.AsSByte(), d * (sbyte)Unsafe.Add(ref sc, half + 4), 0f, ref Unsafe.Add(ref y, l + 64));
                    TW.Affine16<MulOp>(q4.AsSByte(), d * (sbyte)Unsafe.Add(ref sc, half + 6), 0f, ref Unsafe.Add(ref y, l + 96));
                }
                y = ref Unsafe.Add(ref y, 128);
            }
        }
    }

    private static void Q8_KV<TW>(ref byte s, ref float y, int nb) where TW : struct, IVectorWidth
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q8_KSize))
        {
            float d = Unsafe.ReadUnaligned<float>(ref Unsafe.Add(ref s, Q8_KD));
            for (int j = 0; j < QK_K; j += 16, y = ref Unsafe.Add(ref y, 16))
                TW.Affine16<MulOp>(Load16(ref s, Q8_KQs + j).AsSByte(), d, 0f, ref y);
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Float combination of a widened quant q with the group's scale a and offset b. Each keeps the operand order of
    // the C expression it mirrors (it decides which NaN wins when both operands are NaN).

    internal interface IAffineOp
    {
        static abstract Vector128<float> Apply(Vector128<float> q, Vector128<float> a, Vector128<float> b);
        static abstract Vector256<float> Apply(Vector256<float> q, Vector256<float> a, Vector256<float> b);
        static abstract Vector512<float> Apply(Vector512<float> q, Vector512<float> a, Vector512<float> b);
    }

    /// <summary>q·a (b unused).</summary>
    internal struct MulOp : IAffineOp
    {
        public static Vector128<float> Apply(Vector128<float> q, Vector128<float> a, Vector128<float> b) => q * a;
        public static Vector256<float> Apply(Vector256<float> q, Vector256<float> a, Vector256<float> b) => q * a;
        public static Vector512<float> Apply(Vector512<float> q, Vector512<float> a, Vector512<float> b) => q * a;
    }

    /// <summary>q·a + b (legacy types with a stored minimum: x·d + m).</summary>
    internal struct MulAddOp : IAffineOp
    {
        public static Vector128<float> Apply(Vector128<float> q, Vector128<float> a, Vector128<float> b) => q * a + b;
        public static Vector256<float> Apply(Vector256<float> q, Vector256<float> a, Vector256<float> b) => q * a + b;
        public static Vector512<float> Apply(Vector512<float> q, Vector512<float> a, Vector512<float> b) => q * a + b;
    }

    /// <summary>a·q − b (K types: (d·scale)·q − dmin·min).</summary>
    internal struct MulSubOp : IAffineOp
    {
        public static Vector128<float> Apply(Vector128<float> q, Vector128<float> a, Vector128<float> b) => a * q - b;
        public static Vector256<float> Apply(Vector256<float> q, Vector256<float> a, Vector256<float> b) => a * q - b;
        public static Vector512<float> Apply(Vector512<float> q, Vector512<float> a, Vector512<float> b) => a * q - b;
    }

    /// <summary>Writes 16 floats op(q[k], a, b) for 16 signed bytes q, using one vector width.</summary>
    internal interface IVectorWidth
    {
        static abstract void Affine16<TOp>(Vector128<sbyte> q, float a, float b, ref float y) where TOp : struct, IAffineOp;
    }

    internal struct W512 : IVectorWidth
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Affine16<TOp>(Vector128<sbyte> q, float a, float b, ref float y) where TOp : struct, IAffineOp
        {
            Vector512<int> v = Vector512.WidenLower(Vector256.WidenLower(q.ToVector256Unsafe()).ToVector512Unsafe());
            TOp.Apply(Vector512.ConvertToSingle(v), Vector512.Create(a), Vector512.Create(b)).StoreUnsafe(ref y);
        }
    }

    internal struct W256 : IVectorWidth
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Affine16<TOp>(Vector128<sbyte> q, float a, float b, ref float y) where TOp : struct, IAffineOp
        {
            Vector256<short> w = Vector256.WidenLower(q.ToVector256Unsafe());
            Vector256<float> va = Vector256.Create(a), vb = Vector256.Create(b);
            TOp.Apply(Vector256.ConvertToSingle(Vector256.WidenLower(w)), va, vb).StoreUnsafe(ref y);
            TOp.Apply(Vector256.ConvertToSingle(Vector256.WidenUpper(w)), va, vb).StoreUnsafe(ref Unsafe.Add(ref y, 8));
        }
    }

    internal struct W128 : IVectorWidth
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Affine16<TOp>(Vector128<sbyte> q, float a, float b, ref float y) where TOp : struct, IAffineOp
        {
            Vector128<short> lo = Vector128.WidenLower(q), hi = Vector128.WidenUpper(q);
            Vector128<float> va = Vector128.Create(a), vb = Vector128.Create(b);
            TOp.Apply(Vector128.ConvertToSingle(Vector128.WidenLower(lo)), va, vb).StoreUnsafe(ref y);
            TOp.Apply(Vector128.ConvertToSingle(Vector128.WidenUpper(lo)), va, vb).StoreUnsafe(ref Unsafe.Add(ref y, 4));
            TOp.Apply(Vector128.ConvertToSingle(Vector128.WidenLower(hi)), va, vb).StoreUnsafe(ref Unsafe.Add(ref y, 8));
            TOp.Apply(Vector128.ConvertToSingle(Vector128.WidenUpper(hi)), va, vb).StoreUnsafe(ref Unsafe.Add(ref y, 12));
        }
    }
}
