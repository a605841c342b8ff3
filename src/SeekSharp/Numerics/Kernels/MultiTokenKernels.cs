using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

// Prefill kernels: one weight row against four activation rows. Each weight chunk is unpacked (nibbles, high bits,
// scales) once and multiplied with the four tokens' activations, which roughly halves the work per token for the
// K-quants. Every token keeps its own accumulators and sees exactly the operations of the single-token kernels in
// KQuantKernels.cs, so the results are bit-identical to four separate Dot calls (the tests check this).

internal static unsafe class Q45KMulti
{
    public static void Dot4(byte* x, byte* y, long stride, int cols, int width, bool five, float* result)
    {
        if (width < 256)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Q45K.Dot(x, y + t * stride, cols, width, five);
            return;
        }
        int nb = cols / 256;
        int bs = five ? 176 : 144;
        byte* y0 = y, y1 = y + stride, y2 = y + 2 * stride, y3 = y + 3 * stride;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector128<float> am0 = default, am1 = default, am2 = default, am3 = default;
        float sm0 = 0, sm1 = 0, sm2 = 0, sm3 = 0;
        uint* scm = stackalloc uint[4];
        byte* sc = (byte*)scm, mn = sc + 8;

        for (int i = 0; i < nb; i++, x += bs, y0 += KQuant.Q8K, y1 += KQuant.Q8K, y2 += KQuant.Q8K, y3 += KQuant.Q8K)
        {
            float dw = Fp16.ToFloat(x), dmw = Fp16.ToFloat(x + 2);
            KQuant.ScalesMins(x + 4, scm);
            byte* qh = x + 16;
            byte* qs = x + (five ? 48 : 16);
            Mins(ref am0, ref sm0, y0, dmw, mn, five);
            Mins(ref am1, ref sm1, y1, dmw, mn, five);
            Mins(ref am2, ref sm2, y2, dmw, mn, five);
            Mins(ref am3, ref sm3, y3, dmw, mn, five);

            if (width >= 512)
            {
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                Vector512<byte> m4 = Vector512.Create((byte)0x0F);
                Vector512<byte> hb = default;
                if (five)
                {
                    Vector256<byte> h = Vector256.Load(qh);
                    hb = Simd.Join(h, Simd.Shr(h, 2));
                }
                for (int jj = 0; jj < 2; jj++)
                {
                    Vector512<byte> bits = Vector512.Load(qs + 64 * jj);
                    Vector512<byte> ql = bits & m4, qhi = Simd.Shr(bits, 4);
                    if (five)
                    {
                        ql |= KQuant.Shl(Simd.Shr(hb, 4 * jj) & Vector512.Create((byte)1), 4);
                        qhi |= KQuant.Shl(Simd.Shr(hb, 4 * jj + 1) & Vector512.Create((byte)1), 4);
                    }
                    int c = 4 * jj;
                    Vector512<short> sa = Simd.Join(Vector256.Create((short)sc[c]), Vector256.Create((short)sc[c + 2]));
                    Vector512<short> sb = Simd.Join(Vector256.Create((short)sc[c + 1]), Vector256.Create((short)sc[c + 3]));
                    s0 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act512(y0, c, c + 2)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act512(y0, c + 1, c + 3)), sb);
                    s1 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act512(y1, c, c + 2)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act512(y1, c + 1, c + 3)), sb);
                    s2 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act512(y2, c, c + 2)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act512(y2, c + 1, c + 3)), sb);
                    s3 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act512(y3, c, c + 2)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act512(y3, c + 1, c + 3)), sb);
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(KQuant.Fold(s0)), acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(KQuant.Fold(s1)), acc1);
                acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(KQuant.Fold(s2)), acc2);
                acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(KQuant.Fold(s3)), acc3);
            }
            else
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                Vector256<byte> m4 = Vector256.Create((byte)0x0F);
                Vector256<byte> h = five ? Vector256.Load(qh) : default;
                for (int j = 0; j < 4; j++)
                {
                    Vector256<byte> bits = Vector256.Load(qs + 32 * j);
                    Vector256<byte> ql = bits & m4, qhi = Simd.Shr(bits, 4);
                    if (five)
                    {
                        ql |= KQuant.Shl(Simd.Shr(h, 2 * j) & Vector256.Create((byte)1), 4);
                        qhi |= KQuant.Shl(Simd.Shr(h, 2 * j + 1) & Vector256.Create((byte)1), 4);
                    }
                    Vector256<short> sa = Vector256.Create((short)sc[2 * j]), sb = Vector256.Create((short)sc[2 * j + 1]);
                    s0 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act256(y0, 2 * j)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act256(y0, 2 * j + 1)), sb);
                    s1 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act256(y1, 2 * j)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act256(y1, 2 * j + 1)), sb);
                    s2 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act256(y2, 2 * j)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act256(y2, 2 * j + 1)), sb);
                    s3 += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act256(y3, 2 * j)), sa) + Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act256(y3, 2 * j + 1)), sb);
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(s0), acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(s1), acc1);
                acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(s2), acc2);
                acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(s3), acc3);
            }
        }
        result[0] = Finish(acc0, am0, sm0, five);
        result[1] = Finish(acc1, am1, sm1, five);
        result[2] = Finish(acc2, am2, sm2, five);
        result[3] = Finish(acc3, am3, sm3, five);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mins(ref Vector128<float> accm, ref float summs, byte* y, float dmw, byte* mn, bool five)
    {
        float dmin = -KQuant.D(y) * dmw;
        KQuant.MinTerms(mn, (short*)(y + 260), out Vector128<int> mlo, out Vector128<int> mhi);
        if (five)
            summs = MathF.FusedMultiplyAdd(dmin, Vector128.Sum(mlo + mhi), summs);
        else
            accm = Vector128.FusedMultiplyAdd(Vector128.Create(dmin), Vector128.ConvertToSingle(Ssse3.HorizontalAdd(mlo, mhi)), accm);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector256<float> acc, Vector128<float> accm, float summs, bool five)
    {
        float r = Simd.HSum8(acc);
        return five ? r + summs : r + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
    }
}

internal static unsafe class Q6KMulti
{
    public static void Dot4(byte* x, byte* y, long stride, int cols, int width, float* result)
    {
        if (width < 256)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Q6_KKernel.Dot(x, y + t * stride, cols, width);
            return;
        }
        int nb = cols / 256;
        byte* y0 = y, y1 = y + stride, y2 = y + 2 * stride, y3 = y + 3 * stride;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int i = 0; i < nb; i++, x += 210, y0 += KQuant.Q8K, y1 += KQuant.Q8K, y2 += KQuant.Q8K, y3 += KQuant.Q8K)
        {
            float dw = Fp16.ToFloat(x + 208);
            byte* ql = x;
            byte* qh = x + 128;
            sbyte* sc = (sbyte*)(x + 192);
            Vector256<int> o0 = Offset(sc, y0), o1 = Offset(sc, y1), o2 = Offset(sc, y2), o3 = Offset(sc, y3);

            if (width >= 512)
            {
                Vector512<byte> m4 = Vector512.Create((byte)0x0F), m3 = Vector512.Create((byte)3);
                Vector512<byte> q1 = Simd.Join(Vector256.Load(ql), Vector256.Load(ql + 64));
                Vector512<byte> q2 = Simd.Join(Vector256.Load(ql + 32), Vector256.Load(ql + 96));
                Vector512<byte> h = Vector512.Load(qh);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int k = 0; k < 4; k++)
                {
                    Vector512<byte> low = k switch { 0 => q1 & m4, 1 => q2 & m4, 2 => Simd.Shr(q1, 4), _ => Simd.Shr(q2, 4) };
                    Vector512<byte> q = low | KQuant.Shl(Simd.Shr(h, 2 * k) & m3, 4);
                    Vector512<short> scale = KQuant.Scales16(sc[2 * k], sc[2 * k + 1], sc[8 + 2 * k], sc[9 + 2 * k]);
                    s0 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y0, k, 4 + k)), scale);
                    s1 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y1, k, 4 + k)), scale);
                    s2 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y2, k, 4 + k)), scale);
                    s3 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y3, k, 4 + k)), scale);
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(KQuant.Fold(s0) - o0), acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(KQuant.Fold(s1) - o1), acc1);
                acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(KQuant.Fold(s2) - o2), acc2);
                acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(KQuant.Fold(s3) - o3), acc3);
            }
            else
            {
                Vector256<byte> m4 = Vector256.Create((byte)0x0F), m3 = Vector256.Create((byte)3);
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int j = 0; j < 2; j++)
                {
                    Vector256<byte> q1 = Vector256.Load(ql + 64 * j), q2 = Vector256.Load(ql + 64 * j + 32);
                    Vector256<byte> h = Vector256.Load(qh + 32 * j);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector256<byte> low = k switch { 0 => q1 & m4, 1 => q2 & m4, 2 => Simd.Shr(q1, 4), _ => Simd.Shr(q2, 4) };
                        Vector256<byte> q = low | KQuant.Shl(Simd.Shr(h, 2 * k) & m3, 4);
                        Vector256<short> scale = KQuant.Scales16(sc[2 * c], sc[2 * c + 1]);
                        s0 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y0, c)), scale);
                        s1 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y1, c)), scale);
                        s2 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y2, c)), scale);
                        s3 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y3, c)), scale);
                    }
                }
                acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(s0 - o0), acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(s1 - o1), acc1);
                acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(s2 - o2), acc2);
                acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(s3 - o3), acc3);
            }
        }
        result[0] = Simd.HSum8(acc0);
        result[1] = Simd.HSum8(acc1);
        result[2] = Simd.HSum8(acc2);
        result[3] = Simd.HSum8(acc3);
    }

    /// <summary>32 * (sc[2l]*bsums[2l] + sc[2l+1]*bsums[2l+1]) per lane: the -32 offset of the 6-bit values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Offset(sbyte* sc, byte* y)
    {
        Vector256<short> s16 = Avx2.ConvertToVector256Int16(Vector128.Load(sc));
        return Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(y + 260)), s16) << 5;
    }
}

internal static unsafe class Q2KMulti
{
    public static void Dot4(byte* x, byte* y, long stride, int cols, int width, float* result)
    {
        if (width < 256)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Q2_KKernel.Dot(x, y + t * stride, cols, width);
            return;
        }
        int nb = cols / 256;
        byte* y0 = y, y1 = y + stride, y2 = y + 2 * stride, y3 = y + 3 * stride;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int i = 0; i < nb; i++, x += 84, y0 += KQuant.Q8K, y1 += KQuant.Q8K, y2 += KQuant.Q8K, y3 += KQuant.Q8K)
        {
            float dw = Fp16.ToFloat(x + 80), dmw = Fp16.ToFloat(x + 82);
            byte* sc = x;
            byte* qs = x + 16;
            // The mins go into the accumulators first, as in the single-token kernel.
            Vector256<short> mins = Avx2.ConvertToVector256Int16(Simd.Shr(Vector128.Load(sc), 4).AsSByte());
            acc0 = Fma.MultiplyAdd(Vector256.Create(-KQuant.D(y0) * dmw), Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(y0 + 260)), mins)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(-KQuant.D(y1) * dmw), Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(y1 + 260)), mins)), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(-KQuant.D(y2) * dmw), Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(y2 + 260)), mins)), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(-KQuant.D(y3) * dmw), Vector256.ConvertToSingle(Avx2.MultiplyAddAdjacent(Vector256.Load((short*)(y3 + 260)), mins)), acc3);

            Vector256<int> f0, f1, f2, f3;
            if (width >= 512)
            {
                Vector512<byte> bits = Vector512.Load(qs);
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int k = 0; k < 4; k++)
                {
                    Vector512<byte> q = Simd.Shr(bits, 2 * k) & Vector512.Create((byte)3);
                    Vector512<short> scale = KQuant.Scales16(sc[2 * k] & 15, sc[2 * k + 1] & 15, sc[8 + 2 * k] & 15, sc[9 + 2 * k] & 15);
                    s0 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y0, k, 4 + k)), scale);
                    s1 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y1, k, 4 + k)), scale);
                    s2 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y2, k, 4 + k)), scale);
                    s3 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act512(y3, k, 4 + k)), scale);
                }
                (f0, f1, f2, f3) = (KQuant.Fold(s0), KQuant.Fold(s1), KQuant.Fold(s2), KQuant.Fold(s3));
            }
            else
            {
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int j = 0; j < 2; j++)
                {
                    Vector256<byte> bits = Vector256.Load(qs + 32 * j);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector256<byte> q = Simd.Shr(bits, 2 * k) & Vector256.Create((byte)3);
                        Vector256<short> scale = KQuant.Scales16(sc[2 * c] & 15, sc[2 * c + 1] & 15);
                        s0 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y0, c)), scale);
                        s1 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y1, c)), scale);
                        s2 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y2, c)), scale);
                        s3 += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y3, c)), scale);
                    }
                }
                (f0, f1, f2, f3) = (s0, s1, s2, s3);
            }
            acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(f0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(f1), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(f2), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(f3), acc3);
        }
        result[0] = Simd.HSum8(acc0);
        result[1] = Simd.HSum8(acc1);
        result[2] = Simd.HSum8(acc2);
        result[3] = Simd.HSum8(acc3);
    }
}

internal static unsafe class Q3KMulti
{
    public static void Dot4(byte* x, byte* y, long stride, int cols, int width, float* result)
    {
        if (width < 256)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Q3_KKernel.Dot(x, y + t * stride, cols, width);
            return;
        }
        int nb = cols / 256;
        byte* y0 = y, y1 = y + stride, y2 = y + 2 * stride, y3 = y + 3 * stride;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        sbyte* sc = stackalloc sbyte[16];
        for (int i = 0; i < nb; i++, x += 110, y0 += KQuant.Q8K, y1 += KQuant.Q8K, y2 += KQuant.Q8K, y3 += KQuant.Q8K)
        {
            float dw = Fp16.ToFloat(x + 108);
            byte* hm = x;
            byte* qs = x + 32;
            KQuant.Q3Scales(x + 96, sc);
            Vector256<int> f0, f1, f2, f3;
            if (width >= 512)
            {
                Vector512<byte> bits = Vector512.Load(qs);
                Vector256<byte> h = Vector256.Load(hm);
                Vector512<byte> hbits = Simd.Join(h, Simd.Shr(h, 4));
                Vector512<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int k = 0; k < 4; k++)
                {
                    Vector512<byte> q = Simd.Shr(bits, 2 * k) & Vector512.Create((byte)3);
                    Vector512<byte> h4 = KQuant.Shl(~Simd.Shr(hbits, k) & Vector512.Create((byte)1), 2);
                    Vector512<short> scale = KQuant.Scales16(sc[2 * k], sc[2 * k + 1], sc[8 + 2 * k], sc[9 + 2 * k]);
                    s0 += Chunk512(q, h4, KQuant.Act512(y0, k, 4 + k), scale);
                    s1 += Chunk512(q, h4, KQuant.Act512(y1, k, 4 + k), scale);
                    s2 += Chunk512(q, h4, KQuant.Act512(y2, k, 4 + k), scale);
                    s3 += Chunk512(q, h4, KQuant.Act512(y3, k, 4 + k), scale);
                }
                (f0, f1, f2, f3) = (KQuant.Fold(s0), KQuant.Fold(s1), KQuant.Fold(s2), KQuant.Fold(s3));
            }
            else
            {
                Vector256<byte> h = Vector256.Load(hm);
                Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
                for (int j = 0; j < 2; j++)
                {
                    Vector256<byte> bits = Vector256.Load(qs + 32 * j);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector256<byte> q = Simd.Shr(bits, 2 * k) & Vector256.Create((byte)3);
                        Vector256<byte> h4 = KQuant.Shl(~Simd.Shr(h, c) & Vector256.Create((byte)1), 2);
                        Vector256<short> scale = KQuant.Scales16(sc[2 * c], sc[2 * c + 1]);
                        s0 += Chunk256(q, h4, KQuant.Act256(y0, c), scale);
                        s1 += Chunk256(q, h4, KQuant.Act256(y1, c), scale);
                        s2 += Chunk256(q, h4, KQuant.Act256(y2, c), scale);
                        s3 += Chunk256(q, h4, KQuant.Act256(y3, c), scale);
                    }
                }
                (f0, f1, f2, f3) = (s0, s1, s2, s3);
            }
            acc0 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y0) * dw), Vector256.ConvertToSingle(f0), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y1) * dw), Vector256.ConvertToSingle(f1), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y2) * dw), Vector256.ConvertToSingle(f2), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(KQuant.D(y3) * dw), Vector256.ConvertToSingle(f3), acc3);
        }
        result[0] = Simd.HSum8(acc0);
        result[1] = Simd.HSum8(acc1);
        result[2] = Simd.HSum8(acc2);
        result[3] = Simd.HSum8(acc3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Chunk512(Vector512<byte> q, Vector512<byte> h4, Vector512<sbyte> a, Vector512<short> scale) =>
        Simd.MAdd(Simd.MulPairs(q, a) - Simd.MulPairs(h4, a), scale);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Chunk256(Vector256<byte> q, Vector256<byte> h4, Vector256<sbyte> a, Vector256<short> scale) =>
        Simd.MAdd(Simd.MulPairs(q, a) - Simd.MulPairs(h4, a), scale);
}
