using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

// Dot products of the K-quant super-block types (256 values) with Q8_K activations.
//
// As in LegacyQuantKernels, the float arithmetic is that of ggml's AVX2 kernels: per super-block an 8-lane integer sum
// (lane l = the values whose index mod 32 lies in 4l..4l+3, each times its sub-block scale) is converted to float and
// fused into 8 float accumulators with the super-block scale; mins go through their own fma sequence as each ggml kernel
// does. Integer sums are exact, so the order in which chunks are added does not matter, only the lane they land in:
// the 512-bit paths handle two 32-value chunks per instruction and fold the halves, the 128-bit paths handle half chunks.
//
// Q8_K block: f32 d at 0, 256 int8 at 4, 16 int16 bsums (sums of 16 values) at 260.

internal static unsafe class KQuant
{
    public const int Q8K = 292;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float D(byte* q8) => Unsafe.ReadUnaligned<float>(q8);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<short> Scales16(int lo, int hi) => Simd.Join(Vector128.Create((short)lo), Vector128.Create((short)hi));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<short> Scales16(int a, int b, int c, int d) => Simd.Join(Scales16(a, b), Scales16(c, d));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<sbyte> Act512(byte* q8, int chunkA, int chunkB) =>
        Simd.Join(Vector256.Load((sbyte*)(q8 + 4 + 32 * chunkA)), Vector256.Load((sbyte*)(q8 + 4 + 32 * chunkB)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<sbyte> Act256(byte* q8, int chunk) => Vector256.Load((sbyte*)(q8 + 4 + 32 * chunk));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<sbyte> Act128(byte* q8, int chunk, int half) => Vector128.Load((sbyte*)(q8 + 4 + 32 * chunk + 16 * half));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Fold(Vector512<int> v) => v.GetLower() + v.GetUpper();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<byte> Shl(Vector256<byte> v, int n) => (v.AsUInt16() << n).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<byte> Shl(Vector512<byte> v, int n) => (v.AsUInt16() << n).AsByte();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<byte> Shl(Vector128<byte> v, int n) => (v.AsUInt16() << n).AsByte();

    /// <summary>
    /// Q4_K/Q5_K 6-bit scales and mins of the eight 32-value sub-blocks, unpacked from the 12 packed bytes with
    /// 32-bit word operations: writes sc[0..7] then mins[0..7] to <paramref name="dst"/> (16 bytes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void ScalesMins(byte* s, uint* dst)
    {
        // Sub-blocks 0-3 keep their 6 bits in bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take a low nibble from
        // bytes 8-11 and their top two bits from the spare bits 6-7 of bytes 0-7.
        uint s0 = Unsafe.ReadUnaligned<uint>(s), s1 = Unsafe.ReadUnaligned<uint>(s + 4), s2 = Unsafe.ReadUnaligned<uint>(s + 8);
        dst[0] = s0 & 0x3f3f3f3fu;
        dst[1] = (s2 & 0x0f0f0f0fu) | (((s0 >> 6) & 0x03030303u) << 4);
        dst[2] = s1 & 0x3f3f3f3fu;
        dst[3] = ((s2 >> 4) & 0x0f0f0f0fu) | (((s1 >> 6) & 0x03030303u) << 4);
    }

    /// <summary>Q3_K's sixteen 6-bit scales minus 32, unpacked with word operations into <paramref name="sc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Q3Scales(byte* s, sbyte* sc)
    {
        // Scales 0-7 have their low nibble in the low half of bytes 0-7, scales 8-15 in the high half; the top two bits of
        // scale i sit in byte 8 + i%4 at bit 2*(i/4).
        uint a0 = Unsafe.ReadUnaligned<uint>(s), a1 = Unsafe.ReadUnaligned<uint>(s + 4), a2 = Unsafe.ReadUnaligned<uint>(s + 8);
        uint* u = (uint*)sc;
        u[0] = (a0 & 0x0f0f0f0fu) | ((a2 & 0x03030303u) << 4);
        u[1] = (a1 & 0x0f0f0f0fu) | (((a2 >> 2) & 0x03030303u) << 4);
        u[2] = ((a0 >> 4) & 0x0f0f0f0fu) | (((a2 >> 4) & 0x03030303u) << 4);
        u[3] = ((a1 >> 4) & 0x0f0f0f0fu) | (((a2 >> 6) & 0x03030303u) << 4);
        (Vector128.Load(sc) - Vector128.Create((sbyte)32)).Store(sc);
    }

    /// <summary>
    /// Eight 32-bit lanes, lane l = w[2l]*bsums[2l] + w[2l+1]*bsums[2l+1], for 16 signed byte weights (one per 16-value
    /// group): the min / offset terms of the K-quants.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void WeightedBsums(sbyte* w, short* bsums, int* lanes)
    {
        Vector128<sbyte> wb = Vector128.Load(w);
        Simd.MAdd(Vector128.Load(bsums), Vector128.WidenLower(wb)).Store(lanes);
        Simd.MAdd(Vector128.Load(bsums + 8), Vector128.WidenUpper(wb)).Store(lanes + 4);
    }

    /// <summary>Eight lanes, lane j = m[j] * (bsums[2j] + bsums[2j+1]), for the per-32 mins of Q4_K/Q5_K.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MinTerms(byte* mins, short* bsums, out Vector128<int> lo, out Vector128<int> hi)
    {
        Vector128<short> m = Vector128.WidenLower(Vector128.CreateScalar(Unsafe.ReadUnaligned<ulong>(mins)).AsByte()).AsInt16();
        // Duplicate each min into both halves of its 32-bit lane so one pmaddwd yields m*(b0+b1).
        Vector128<int> mi = Vector128.WidenLower(m), mj = Vector128.WidenUpper(m);
        Vector128<short> dlo = (mi | (mi << 16)).AsInt16(), dhi = (mj | (mj << 16)).AsInt16();
        lo = Simd.MAdd(Vector128.Load(bsums), dlo);
        hi = Simd.MAdd(Vector128.Load(bsums + 8), dhi);
    }

    /// <summary>Adds the scaled lane sums of one super-block to 8 scalar accumulators: acc[l] = fma(d, isum[l], acc[l]).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Accumulate(float* acc, float d, int* isum)
    {
        for (int l = 0; l < 8; l++)
            acc[l] = MathF.FusedMultiplyAdd(d, isum[l], acc[l]);
    }
}

/// <summary>Q2_K: 2-bit values, 4-bit scale and min per 16 values.</summary>
internal unsafe struct Q2_KKernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        Q2KMulti.Dot4(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_K;
    private const int B = 84; // scales[16], qs[64], d, dmin

    public static float Dot(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 256;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
        float* sacc = stackalloc float[8];
        int* isum = stackalloc int[8];
        byte* mins = stackalloc byte[16];
        for (int l = 0; l < 8; l++) sacc[l] = 0;

        for (int i = 0; i < nb; i++, x += B, y += KQuant.Q8K)
        {
            float d = KQuant.D(y) * Fp16.ToFloat(x + 80);
            float dmin = -KQuant.D(y) * Fp16.ToFloat(x + 82);
            byte* sc = x;
            byte* qs = x + 16;
            short* bsums = (short*)(y + 260);

            // Mins: lane l = min[2l]*bsum[2l] + min[2l+1]*bsum[2l+1], fused into the accumulators before the values.
            Simd.Shr(Vector128.Load(sc), 4).Store(mins);
            KQuant.WeightedBsums((sbyte*)mins, bsums, isum);

            if (width >= 256)
            {
                acc = Fma.MultiplyAdd(Vector256.Create(dmin), Vector256.ConvertToSingle(Vector256.Load(isum)), acc);
                Vector256<int> s = width >= 512 ? KQuant.Fold(Sums512(x, y)) : Sums256(x, y, 0) + Sums256(x, y, 1);
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(s), acc);
            }
            else if (width >= 128)
            {
                Vector128<float> vmin = Vector128.Create(dmin);
                lo = Vector128.FusedMultiplyAdd(vmin, Vector128.ConvertToSingle(Vector128.Load(isum)), lo);
                hi = Vector128.FusedMultiplyAdd(vmin, Vector128.ConvertToSingle(Vector128.Load(isum + 4)), hi);
                Sums128(x, y, 0, out Vector128<int> a0, out Vector128<int> a1);
                Sums128(x, y, 1, out Vector128<int> b0, out Vector128<int> b1);
                Vector128<int> s0 = a0 + b0, s1 = a1 + b1;
                Vector128<float> vd = Vector128.Create(d);
                lo = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s0), lo);
                hi = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s1), hi);
            }
            else
            {
                KQuant.Accumulate(sacc, dmin, isum);
                for (int l = 0; l < 8; l++) isum[l] = 0;
                sbyte* q8 = (sbyte*)(y + 4);
                for (int v = 0; v < 256; v++)
                {
                    int j = v >> 7, k = (v >> 5) & 3, b = v & 31;
                    int q = (qs[32 * j + b] >> (2 * k)) & 3;
                    isum[b >> 2] += (sc[v >> 4] & 15) * q * q8[v];
                }
                KQuant.Accumulate(sacc, d, isum);
            }
        }
        return width >= 256 ? Simd.HSum8(acc) : width >= 128 ? Simd.HSum8(lo, hi) : Simd.HSum8(sacc);
    }

    // Exact integer sums sc_k * (q · a) of one Q2_K super-block (x) against a Q8_K block (y), in 32-bit lanes of four
    // values each: the part of the block dot this kernel and the repacked order (RepackedQ2_K) share.

    /// <summary>Low 256 bits: the first 128 values (lane l = values 4l.. of each 32-value chunk), high 256 bits: the second.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<int> Sums512(byte* x, byte* y)
    {
        byte* sc = x;
        Vector512<byte> bits = Vector512.Load(x + 16);
        Vector512<int> s = Vector512<int>.Zero;
        for (int k = 0; k < 4; k++)
        {
            Vector512<byte> q = Simd.Shr(bits, 2 * k) & Vector512.Create((byte)3);
            Vector512<short> p = Simd.MulPairs(q, KQuant.Act512(y, k, 4 + k));
            s += Simd.MAdd(p, KQuant.Scales16(sc[2 * k] & 15, sc[2 * k + 1] & 15, sc[8 + 2 * k] & 15, sc[9 + 2 * k] & 15));
        }
        return s;
    }

    /// <summary>Values 128 * <paramref name="half"/> .. + 127.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<int> Sums256(byte* x, byte* y, int half)
    {
        byte* sc = x;
        Vector256<byte> bits = Vector256.Load(x + 16 + 32 * half);
        Vector256<int> s = Vector256<int>.Zero;
        for (int k = 0; k < 4; k++)
        {
            int c = 4 * half + k;
            Vector256<byte> q = Simd.Shr(bits, 2 * k) & Vector256.Create((byte)3);
            s += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y, c)), KQuant.Scales16(sc[2 * c] & 15, sc[2 * c + 1] & 15));
        }
        return s;
    }

    /// <summary>Values 128 * <paramref name="half"/> .. + 127: the first 16 of each 32-value chunk in <paramref name="s0"/>,
    /// the second 16 in <paramref name="s1"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sums128(byte* x, byte* y, int half, out Vector128<int> s0, out Vector128<int> s1)
    {
        byte* sc = x;
        Vector128<byte> b0 = Vector128.Load(x + 16 + 32 * half), b1 = Vector128.Load(x + 16 + 32 * half + 16);
        s0 = Vector128<int>.Zero;
        s1 = Vector128<int>.Zero;
        for (int k = 0; k < 4; k++)
        {
            int c = 4 * half + k;
            Vector128<byte> q0 = Simd.Shr(b0, 2 * k) & Vector128.Create((byte)3);
            Vector128<byte> q1 = Simd.Shr(b1, 2 * k) & Vector128.Create((byte)3);
            s0 += Simd.MAdd(Simd.MulPairs(q0, KQuant.Act128(y, c, 0)), Vector128.Create((short)(sc[2 * c] & 15)));
            s1 += Simd.MAdd(Simd.MulPairs(q1, KQuant.Act128(y, c, 1)), Vector128.Create((short)(sc[2 * c + 1] & 15)));
        }
    }
}

/// <summary>Q3_K: 3-bit values (2 low bits + inverted high bit), 6-bit signed scale per 16 values.</summary>
internal unsafe struct Q3_KKernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        Q3KMulti.Dot4(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_K;
    private const int B = 110; // hmask[32], qs[64], scales[12], d

    public static float Dot(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 256;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
        float* sacc = stackalloc float[8];
        int* isum = stackalloc int[8];
        sbyte* sc = stackalloc sbyte[16];
        for (int l = 0; l < 8; l++) sacc[l] = 0;

        for (int i = 0; i < nb; i++, x += B, y += KQuant.Q8K)
        {
            float d = KQuant.D(y) * Fp16.ToFloat(x + 108);
            byte* hm = x;
            byte* qs = x + 32;
            KQuant.Q3Scales(x + 96, sc);

            if (width >= 512)
            {
                // Chunk k of the first 128 values pairs with chunk 4+k of the second: same qs shift, high bit k vs 4+k.
                Vector512<byte> bits = Vector512.Load(qs);
                Vector256<byte> h = Vector256.Load(hm);
                Vector512<byte> hbits = Simd.Join(h, Simd.Shr(h, 4));
                Vector512<int> s = Vector512<int>.Zero;
                for (int k = 0; k < 4; k++)
                {
                    Vector512<byte> q = Simd.Shr(bits, 2 * k) & Vector512.Create((byte)3);
                    Vector512<byte> h4 = KQuant.Shl(~Simd.Shr(hbits, k) & Vector512.Create((byte)1), 2);
                    Vector512<sbyte> a = KQuant.Act512(y, k, 4 + k);
                    Vector512<short> p = Simd.MulPairs(q, a) - Simd.MulPairs(h4, a);
                    s += Simd.MAdd(p, KQuant.Scales16(sc[2 * k], sc[2 * k + 1], sc[8 + 2 * k], sc[9 + 2 * k]));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(KQuant.Fold(s)), acc);
            }
            else if (width >= 256)
            {
                Vector256<byte> h = Vector256.Load(hm);
                Vector256<int> s = Vector256<int>.Zero;
                for (int j = 0; j < 2; j++)
                {
                    Vector256<byte> bits = Vector256.Load(qs + 32 * j);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector256<byte> q = Simd.Shr(bits, 2 * k) & Vector256.Create((byte)3);
                        Vector256<byte> h4 = KQuant.Shl(~Simd.Shr(h, c) & Vector256.Create((byte)1), 2);
                        Vector256<sbyte> a = KQuant.Act256(y, c);
                        Vector256<short> p = Simd.MulPairs(q, a) - Simd.MulPairs(h4, a);
                        s += Simd.MAdd(p, KQuant.Scales16(sc[2 * c], sc[2 * c + 1]));
                    }
                }
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(s), acc);
            }
            else if (width >= 128)
            {
                Vector128<byte> h0 = Vector128.Load(hm), h1 = Vector128.Load(hm + 16);
                Vector128<int> s0 = Vector128<int>.Zero, s1 = Vector128<int>.Zero;
                for (int j = 0; j < 2; j++)
                {
                    Vector128<byte> b0 = Vector128.Load(qs + 32 * j), b1 = Vector128.Load(qs + 32 * j + 16);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector128<byte> q0 = Simd.Shr(b0, 2 * k) & Vector128.Create((byte)3);
                        Vector128<byte> q1 = Simd.Shr(b1, 2 * k) & Vector128.Create((byte)3);
                        Vector128<byte> h40 = KQuant.Shl(~Simd.Shr(h0, c) & Vector128.Create((byte)1), 2);
                        Vector128<byte> h41 = KQuant.Shl(~Simd.Shr(h1, c) & Vector128.Create((byte)1), 2);
                        Vector128<sbyte> a0 = KQuant.Act128(y, c, 0), a1 = KQuant.Act128(y, c, 1);
                        s0 += Simd.MAdd(Simd.MulPairs(q0, a0) - Simd.MulPairs(h40, a0), Vector128.Create((short)sc[2 * c]));
                        s1 += Simd.MAdd(Simd.MulPairs(q1, a1) - Simd.MulPairs(h41, a1), Vector128.Create((short)sc[2 * c + 1]));
                    }
                }
                Vector128<float> vd = Vector128.Create(d);
                lo = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s0), lo);
                hi = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s1), hi);
            }
            else
            {
                for (int l = 0; l < 8; l++) isum[l] = 0;
                sbyte* q8 = (sbyte*)(y + 4);
                for (int v = 0; v < 256; v++)
                {
                    int j = v >> 7, k = (v >> 5) & 3, b = v & 31;
                    int q = ((qs[32 * j + b] >> (2 * k)) & 3) - (((hm[b] >> (4 * j + k)) & 1) != 0 ? 0 : 4);
                    isum[b >> 2] += sc[v >> 4] * q * q8[v];
                }
                KQuant.Accumulate(sacc, d, isum);
            }
        }
        return width >= 256 ? Simd.HSum8(acc) : width >= 128 ? Simd.HSum8(lo, hi) : Simd.HSum8(sacc);
    }
}

/// <summary>Q4_K (and Q5_K with a fifth bit): unsigned values, 6-bit scale and min per 32 values.</summary>
internal unsafe struct Q4_KKernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        Q45KMulti.Dot4(w, a, stride, cols, width, five: false, result);

    public static GgmlType DotType => GgmlType.Q8_K;
    public static float Dot(byte* x, byte* y, int cols, int width) => Q45K.Dot(x, y, cols, width, five: false);
}

internal unsafe struct Q5_KKernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        Q45KMulti.Dot4(w, a, stride, cols, width, five: true, result);

    public static GgmlType DotType => GgmlType.Q8_K;
    public static float Dot(byte* x, byte* y, int cols, int width) => Q45K.Dot(x, y, cols, width, five: true);
}

internal static unsafe class Q45K
{
    // Q4_K: d, dmin, scales[12], qs[128] (144 bytes). Q5_K: d, dmin, scales[12], qh[32], qs[128] (176 bytes).
    // Value 64j+v (v<32) is the low nibble of qs[32j+v], value 64j+32+v the high nibble; Q5_K adds bit (2j or 2j+1) of qh[v] as 16.
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(byte* x, byte* y, int cols, int width, bool five)
    {
        int nb = cols / 256;
        int bs = five ? 176 : 144;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
        float* sacc = stackalloc float[8];
        Vector128<float> accm = Vector128<float>.Zero;
        int* isum = stackalloc int[8];
        uint* scm = stackalloc uint[4];
        byte* sc = (byte*)scm, mn = sc + 8;
        for (int l = 0; l < 8; l++) sacc[l] = 0;
        float summs = 0;

        for (int i = 0; i < nb; i++, x += bs, y += KQuant.Q8K)
        {
            float d = KQuant.D(y) * Fp16.ToFloat(x);
            float dmin = -KQuant.D(y) * Fp16.ToFloat(x + 2);
            KQuant.ScalesMins(x + 4, scm);
            byte* qh = x + 16;
            byte* qs = x + (five ? 48 : 16);
            short* bsums = (short*)(y + 260);

            // Mins. Q4_K keeps four float partial sums (pairs of sub-blocks); Q5_K folds the whole integer sum into one scalar.
            KQuant.MinTerms(mn, bsums, out Vector128<int> mlo, out Vector128<int> mhi);
            if (five)
            {
                summs = MathF.FusedMultiplyAdd(dmin, Vector128.Sum(mlo + mhi), summs);
            }
            else
            {
                Vector128<int> pairs = Ssse3.IsSupported
                    ? Ssse3.HorizontalAdd(mlo, mhi)
                    : Vector128.Create(mlo[0] + mlo[1], mlo[2] + mlo[3], mhi[0] + mhi[1], mhi[2] + mhi[3]);
                accm = Vector128.FusedMultiplyAdd(Vector128.Create(dmin), Vector128.ConvertToSingle(pairs), accm);
            }

            if (width >= 512)
            {
                Vector512<int> s = Vector512<int>.Zero;
                Vector512<byte> m4 = Vector512.Create((byte)0x0F);
                Vector512<byte> hb = default;
                if (five)
                {
                    Vector256<byte> h = Vector256.Load(qh);
                    hb = Simd.Join(h, Simd.Shr(h, 2));
                }
                for (int jj = 0; jj < 2; jj++)
                {
                    // 64 bytes of qs = groups 2jj and 2jj+1: low nibbles are chunks (4jj, 4jj+2), high nibbles (4jj+1, 4jj+3).
                    Vector512<byte> bits = Vector512.Load(qs + 64 * jj);
                    Vector512<byte> ql = bits & m4, qhi = Simd.Shr(bits, 4);
                    if (five)
                    {
                        ql |= KQuant.Shl(Simd.Shr(hb, 4 * jj) & Vector512.Create((byte)1), 4);
                        qhi |= KQuant.Shl(Simd.Shr(hb, 4 * jj + 1) & Vector512.Create((byte)1), 4);
                    }
                    int c = 4 * jj;
                    s += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act512(y, c, c + 2)), Simd.Join(Vector256.Create((short)sc[c]), Vector256.Create((short)sc[c + 2])));
                    s += Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act512(y, c + 1, c + 3)), Simd.Join(Vector256.Create((short)sc[c + 1]), Vector256.Create((short)sc[c + 3])));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(KQuant.Fold(s)), acc);
            }
            else if (width >= 256)
            {
                Vector256<int> s = Vector256<int>.Zero;
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
                    s += Simd.MAdd(Simd.MulPairs(ql, KQuant.Act256(y, 2 * j)), Vector256.Create((short)sc[2 * j]));
                    s += Simd.MAdd(Simd.MulPairs(qhi, KQuant.Act256(y, 2 * j + 1)), Vector256.Create((short)sc[2 * j + 1]));
                }
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(s), acc);
            }
            else if (width >= 128)
            {
                Vector128<int> s0 = Vector128<int>.Zero, s1 = Vector128<int>.Zero;
                Vector128<byte> m4 = Vector128.Create((byte)0x0F), one = Vector128.Create((byte)1);
                Vector128<byte> h0 = five ? Vector128.Load(qh) : default, h1 = five ? Vector128.Load(qh + 16) : default;
                for (int j = 0; j < 4; j++)
                {
                    Vector128<byte> b0 = Vector128.Load(qs + 32 * j), b1 = Vector128.Load(qs + 32 * j + 16);
                    Vector128<byte> l0 = b0 & m4, l1 = b1 & m4, u0 = Simd.Shr(b0, 4), u1 = Simd.Shr(b1, 4);
                    if (five)
                    {
                        l0 |= KQuant.Shl(Simd.Shr(h0, 2 * j) & one, 4);
                        l1 |= KQuant.Shl(Simd.Shr(h1, 2 * j) & one, 4);
                        u0 |= KQuant.Shl(Simd.Shr(h0, 2 * j + 1) & one, 4);
                        u1 |= KQuant.Shl(Simd.Shr(h1, 2 * j + 1) & one, 4);
                    }
                    Vector128<short> sl = Vector128.Create((short)sc[2 * j]), sh = Vector128.Create((short)sc[2 * j + 1]);
                    s0 += Simd.MAdd(Simd.MulPairs(l0, KQuant.Act128(y, 2 * j, 0)), sl);
                    s1 += Simd.MAdd(Simd.MulPairs(l1, KQuant.Act128(y, 2 * j, 1)), sl);
                    s0 += Simd.MAdd(Simd.MulPairs(u0, KQuant.Act128(y, 2 * j + 1, 0)), sh);
                    s1 += Simd.MAdd(Simd.MulPairs(u1, KQuant.Act128(y, 2 * j + 1, 1)), sh);
                }
                Vector128<float> vd = Vector128.Create(d);
                lo = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s0), lo);
                hi = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s1), hi);
            }
            else
            {
                for (int l = 0; l < 8; l++) isum[l] = 0;
                sbyte* q8 = (sbyte*)(y + 4);
                for (int v = 0; v < 256; v++)
                {
                    int j = v >> 6, h = (v >> 5) & 1, b = v & 31;
                    int q = (qs[32 * j + b] >> (4 * h)) & 15;
                    if (five)
                        q |= ((qh[b] >> (2 * j + h)) & 1) << 4;
                    isum[b >> 2] += sc[v >> 5] * q * q8[v];
                }
                KQuant.Accumulate(sacc, d, isum);
            }
        }
        float r = width >= 256 ? Simd.HSum8(acc) : width >= 128 ? Simd.HSum8(lo, hi) : Simd.HSum8(sacc);
        return five ? r + summs : r + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
    }
}

/// <summary>Q6_K: 6-bit values offset by 32, signed 8-bit scale per 16 values.</summary>
internal unsafe struct Q6_KKernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        Q6KMulti.Dot4(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.Q8_K;
    private const int B = 210; // ql[128], qh[64], scales[16], d

    public static float Dot(byte* x, byte* y, int cols, int width)
    {
        int nb = cols / 256;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> lo = Vector128<float>.Zero, hi = Vector128<float>.Zero;
        float* sacc = stackalloc float[8];
        int* isum = stackalloc int[8];
        for (int l = 0; l < 8; l++) sacc[l] = 0;

        for (int i = 0; i < nb; i++, x += B, y += KQuant.Q8K)
        {
            float d = KQuant.D(y) * Fp16.ToFloat(x + 208);
            byte* ql = x;
            byte* qh = x + 128;
            sbyte* sc = (sbyte*)(x + 192);

            // The -32 offset is not applied per value: the unsigned 6-bit values are dotted, then 32 * scale * bsum is
            // subtracted per lane, lane l covering the 16-value groups 2l and 2l+1 (as ggml's AVX2 kernel does).
            KQuant.WeightedBsums(sc, (short*)(y + 260), isum);
            (Vector128.Load(isum) << 5).Store(isum);
            (Vector128.Load(isum + 4) << 5).Store(isum + 4);

            if (width >= 512)
            {
                // Group j=0 and j=1 side by side: chunk k of the first 128 values pairs with chunk 4+k.
                Vector512<byte> m4 = Vector512.Create((byte)0x0F), m3 = Vector512.Create((byte)3);
                Vector512<byte> q1 = Simd.Join(Vector256.Load(ql), Vector256.Load(ql + 64));
                Vector512<byte> q2 = Simd.Join(Vector256.Load(ql + 32), Vector256.Load(ql + 96));
                Vector512<byte> h = Vector512.Load(qh);
                Vector512<int> s = Vector512<int>.Zero;
                for (int k = 0; k < 4; k++)
                {
                    Vector512<byte> low = k switch { 0 => q1 & m4, 1 => q2 & m4, 2 => Simd.Shr(q1, 4), _ => Simd.Shr(q2, 4) };
                    Vector512<byte> q = low | KQuant.Shl(Simd.Shr(h, 2 * k) & m3, 4);
                    Vector512<short> p = Simd.MulPairs(q, KQuant.Act512(y, k, 4 + k));
                    s += Simd.MAdd(p, KQuant.Scales16(sc[2 * k], sc[2 * k + 1], sc[8 + 2 * k], sc[9 + 2 * k]));
                }
                Vector256<int> total = KQuant.Fold(s) - Vector256.Load(isum);
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(total), acc);
            }
            else if (width >= 256)
            {
                Vector256<byte> m4 = Vector256.Create((byte)0x0F), m3 = Vector256.Create((byte)3);
                Vector256<int> s = Vector256<int>.Zero;
                for (int j = 0; j < 2; j++)
                {
                    Vector256<byte> q1 = Vector256.Load(ql + 64 * j), q2 = Vector256.Load(ql + 64 * j + 32);
                    Vector256<byte> h = Vector256.Load(qh + 32 * j);
                    for (int k = 0; k < 4; k++)
                    {
                        int c = 4 * j + k;
                        Vector256<byte> low = k switch { 0 => q1 & m4, 1 => q2 & m4, 2 => Simd.Shr(q1, 4), _ => Simd.Shr(q2, 4) };
                        Vector256<byte> q = low | KQuant.Shl(Simd.Shr(h, 2 * k) & m3, 4);
                        s += Simd.MAdd(Simd.MulPairs(q, KQuant.Act256(y, c)), KQuant.Scales16(sc[2 * c], sc[2 * c + 1]));
                    }
                }
                acc = Fma.MultiplyAdd(Vector256.Create(d), Vector256.ConvertToSingle(s - Vector256.Load(isum)), acc);
            }
            else if (width >= 128)
            {
                Vector128<byte> m4 = Vector128.Create((byte)0x0F), m3 = Vector128.Create((byte)3);
                Vector128<int> s0 = Vector128<int>.Zero, s1 = Vector128<int>.Zero;
                for (int j = 0; j < 2; j++)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        Vector128<byte> q1 = Vector128.Load(ql + 64 * j + 16 * half), q2 = Vector128.Load(ql + 64 * j + 32 + 16 * half);
                        Vector128<byte> h = Vector128.Load(qh + 32 * j + 16 * half);
                        Vector128<int> s = Vector128<int>.Zero;
                        for (int k = 0; k < 4; k++)
                        {
                            int c = 4 * j + k;
                            Vector128<byte> low = k switch { 0 => q1 & m4, 1 => q2 & m4, 2 => Simd.Shr(q1, 4), _ => Simd.Shr(q2, 4) };
                            Vector128<byte> q = low | KQuant.Shl(Simd.Shr(h, 2 * k) & m3, 4);
                            s += Simd.MAdd(Simd.MulPairs(q, KQuant.Act128(y, c, half)), Vector128.Create((short)sc[2 * c + half]));
                        }
                        if (half == 0) s0 += s; else s1 += s;
                    }
                }
                Vector128<float> vd = Vector128.Create(d);
                lo = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s0 - Vector128.Load(isum)), lo);
                hi = Vector128.FusedMultiplyAdd(vd, Vector128.ConvertToSingle(s1 - Vector128.Load(isum + 4)), hi);
            }
            else
            {
                for (int l = 0; l < 8; l++) isum[l] = -isum[l];
                sbyte* q8 = (sbyte*)(y + 4);
                for (int v = 0; v < 256; v++)
                {
                    int j = v >> 7, k = (v >> 5) & 3, b = v & 31;
                    int low = (ql[64 * j + 32 * (k & 1) + b] >> (4 * (k >> 1))) & 15;
                    int q = low | (((qh[32 * j + b] >> (2 * k)) & 3) << 4);
                    isum[b >> 2] += sc[v >> 4] * q * q8[v];
                }
                KQuant.Accumulate(sacc, d, isum);
            }
        }
        return width >= 256 ? Simd.HSum8(acc) : width >= 128 ? Simd.HSum8(lo, hi) : Simd.HSum8(sacc);
    }
}
