using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

// Decode (matrix x one vector) kernels for the K-quants that Q4_K_M models spend their decode time in, 512-bit only.
//
// They compute exactly what Q45K.Dot / Q6_KKernel.Dot compute (the float operations of ggml's vec_dot, in the same
// order, on the same exact integer lane sums) but for two weight rows per pass over the activation row: the Q8_K block
// (its 256 quants, d and bsums) is loaded once for both rows, and the per-block work that the generic kernels do
// through stack memory and runtime branches (scale/min unpacking, the `five` flag, the width switch) is done in
// registers. Integer sums are exact, so lanes may be formed differently as long as lane l still holds the values whose
// index mod 32 lies in 4l..4l+3:
// - Q4_K: 32 bytes of qs hold chunk 2j in their low nibbles and chunk 2j+1 in their high nibbles. The 32 bytes go to both
//   halves of a 512-bit register and the upper half is shifted right by 4 (vpsrlvw), so one register is chunks (2j, 2j+1)
//   in activation order and the activations are one plain 64-byte load. Per-chunk scales come from one vpermw of the
//   eight unpacked scales.
// - Q6_K: same idea, the two halves of a register are chunks (c, c + 4), as in the generic 512-bit path, with scales
//   picked by vpermw from the sixteen scales.
internal static unsafe class KQuantDecode
{
    /// <summary>True when the two-row decode kernels run for a call at <paramref name="width"/>.</summary>
    public static bool Applies(int width) => width >= 512 && KernelSettings.RowPairedDecode;

    /// <summary>True when the one-row register-only decode kernels run for a call at <paramref name="width"/>.</summary>
    public static bool AppliesOneRow(int width) => width >= 512 && KernelSettings.FastKQuantDecode;

    /// <summary>
    /// y[0] = Q4_K row <paramref name="x0"/> · Q8_K <paramref name="a"/>, y[1] = row <paramref name="x1"/> · a;
    /// bit-identical to two <see cref="Q45K.Dot"/> calls (five = false). x1 may equal x0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q4K2(byte* x0, byte* x1, byte* a, int cols, float* y)
    {
        int nb = cols / 256;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        Vector128<float> accm0 = Vector128<float>.Zero, accm1 = Vector128<float>.Zero;
        // Built once outside the loop (the JIT goes through memory for Vector512.Create of two halves): the shift counts of
        // the two halves, and the vpermw controls that broadcast scale 2j to the low and 2j+1 to the high 16 words.
        Vector512<ushort> shifts = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
        Vector512<byte> m4 = Vector512.Create((byte)0x0F);
        Vector512<short> p0 = Vector512.Create(Vector256<short>.Zero, Vector256<short>.One);
        Vector512<short> p1 = p0 + Vector512.Create((short)2), p2 = p0 + Vector512.Create((short)4), p3 = p0 + Vector512.Create((short)6);
        // Each min as a 16-bit value twice (m0,m0,m1,m1,.. in the low 128 bits, m4,m4,.. in the high), so one vpmaddwd
        // with the sixteen bsums gives m_j * (bsums[2j] + bsums[2j+1]) per 32-bit lane.
        Vector256<sbyte> dup = Vector256.Create(
            0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128,
            4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128);

        // Rows are adjacent in memory, so the pair after this one starts 2 * (x1 - x0) further on. Two interleaved row
        // streams defeat the hardware prefetcher often enough that prefetching the next pair's block pays (2x on Q6_K).
        long ahead = 2 * (x1 - x0);
        for (int i = 0; i < nb; i++, x0 += 144, x1 += 144, a += KQuant.Q8K)
        {
            if (ahead != 0 && Sse.IsSupported)
            {
                Sse.Prefetch0(x0 + ahead);
                Sse.Prefetch0(x0 + ahead + 64);
                Sse.Prefetch0(x0 + ahead + 143);
                Sse.Prefetch0(x1 + ahead);
                Sse.Prefetch0(x1 + ahead + 64);
                Sse.Prefetch0(x1 + ahead + 143);
            }
            // Helpers take and return values only: a ref/out local would be kept in memory by the JIT.
            float da = KQuant.D(a);
            Vector256<short> bsums = Vector256.Load((short*)(a + 260));
            acc0 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x0)), Vector256.ConvertToSingle(Sums(x0, a, shifts, m4, p0, p1, p2, p3)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x1)), Vector256.ConvertToSingle(Sums(x1, a, shifts, m4, p0, p1, p2, p3)), acc1);

            // Per row the four pair sums (sub-blocks 0+1, 2+3, 4+5, 6+7) of m_j * bsum_j, as ggml's hadd produces them.
            Vector256<long> h = Avx2.HorizontalAdd(MinTerms(x0, bsums, dup), MinTerms(x1, bsums, dup)).AsInt64();
            Vector256<int> pairs = Avx2.Permute4x64(h, 0b11_01_10_00).AsInt32();
            accm0 = Vector128.FusedMultiplyAdd(Vector128.Create(-da * Fp16.ToFloat(x0 + 2)), Vector128.ConvertToSingle(pairs.GetLower()), accm0);
            accm1 = Vector128.FusedMultiplyAdd(Vector128.Create(-da * Fp16.ToFloat(x1 + 2)), Vector128.ConvertToSingle(pairs.GetUpper()), accm1);
        }
        y[0] = Simd.HSum8(acc0) + ((accm0[0] + accm0[2]) + (accm0[1] + accm0[3]));
        y[1] = Simd.HSum8(acc1) + ((accm1[0] + accm1[2]) + (accm1[1] + accm1[3]));
    }

    /// <summary>The eight exact lane sums of one Q4_K super-block times its Q8_K block, each chunk times its scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Sums(byte* x, byte* a, Vector512<ushort> shifts, Vector512<byte> m4,
        Vector512<short> p0, Vector512<short> p1, Vector512<short> p2, Vector512<short> p3)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(x + 4), s2 = Unsafe.ReadUnaligned<uint>(x + 12);
        ulong sc = (s0 & 0x3f3f3f3fu) | ((ulong)((s2 & 0x0f0f0f0fu) | (((s0 >> 6) & 0x03030303u) << 4)) << 32);
        Vector512<short> sc16 = Vector128.WidenLower(Vector128.CreateScalar(sc).AsByte()).AsInt16().ToVector256Unsafe().ToVector512Unsafe();
        byte* qs = x + 16;
        sbyte* q8 = (sbyte*)(a + 4);
        Vector512<int> s = Simd.MAdd(Simd.MulPairs(Nibbles(qs, shifts, m4), Vector512.Load(q8)), Avx512BW.PermuteVar32x16(sc16, p0));
        s += Simd.MAdd(Simd.MulPairs(Nibbles(qs + 32, shifts, m4), Vector512.Load(q8 + 64)), Avx512BW.PermuteVar32x16(sc16, p1));
        s += Simd.MAdd(Simd.MulPairs(Nibbles(qs + 64, shifts, m4), Vector512.Load(q8 + 128)), Avx512BW.PermuteVar32x16(sc16, p2));
        s += Simd.MAdd(Simd.MulPairs(Nibbles(qs + 96, shifts, m4), Vector512.Load(q8 + 192)), Avx512BW.PermuteVar32x16(sc16, p3));
        return KQuant.Fold(s);
    }

    /// <summary>m_j * (bsums[2j] + bsums[2j+1]) for the eight 6-bit mins of a Q4_K super-block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> MinTerms(byte* x, Vector256<short> bsums, Vector256<sbyte> dup)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(x + 4), s1 = Unsafe.ReadUnaligned<uint>(x + 8), s2 = Unsafe.ReadUnaligned<uint>(x + 12);
        ulong mn = (s1 & 0x3f3f3f3fu) | ((ulong)(((s2 >> 4) & 0x0f0f0f0fu) | (((s1 >> 6) & 0x03030303u) << 4)) << 32);
        Vector128<byte> m8 = Vector128.CreateScalar(mn).AsByte();
        return Avx2.MultiplyAddAdjacent(bsums, Avx2.Shuffle(Vector256.Create(m8, m8), dup.AsByte()).AsInt16());
    }

    /// <summary>32 bytes of Q4_K quants as chunk 2j (low nibbles) in the low half and chunk 2j+1 (high nibbles) in the high half.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Nibbles(byte* qs, Vector512<ushort> shifts, Vector512<byte> m4)
    {
        Vector256<ushort> h = Vector256.Load((ushort*)qs);
        Vector512<ushort> b = h.ToVector512Unsafe().WithUpper(h);
        return Avx512BW.ShiftRightLogicalVariable(b, shifts).AsByte() & m4;
    }

    /// <summary>
    /// y[0] = Q6_K row <paramref name="x0"/> · Q8_K <paramref name="a"/>, y[1] = row <paramref name="x1"/> · a;
    /// bit-identical to two <see cref="Q6_KKernel.Dot"/> calls. x1 may equal x0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6K2(byte* x0, byte* x1, byte* a, int cols, float* y)
    {
        int nb = cols / 256;
        Vector256<float> acc0 = Vector256<float>.Zero, acc1 = Vector256<float>.Zero;
        // vpermw controls: chunk k takes scales 2k, 2k+1 (8 words each) in its half, chunk 4+k scales 8+2k, 9+2k.
        Vector512<short> p0 = Vector512.Create(Simd.Join(Vector128<short>.Zero, Vector128<short>.One), Simd.Join(Vector128.Create((short)8), Vector128.Create((short)9)));
        Vector512<short> p1 = p0 + Vector512.Create((short)2), p2 = p0 + Vector512.Create((short)4), p3 = p0 + Vector512.Create((short)6);
        // Rows are adjacent in memory, so the pair after this one starts 2 * (x1 - x0) further on (see Q4K2).
        long ahead = 2 * (x1 - x0);
        for (int i = 0; i < nb; i++, x0 += 210, x1 += 210, a += KQuant.Q8K)
        {
            if (ahead != 0 && Sse.IsSupported)
            {
                Prefetch(x0 + ahead);
                Prefetch(x1 + ahead);
            }
            float da = KQuant.D(a);
            Vector256<short> bsums = Vector256.Load((short*)(a + 260));
            Vector512<sbyte> a0 = KQuant.Act512(a, 0, 4), a1 = KQuant.Act512(a, 1, 5), a2 = KQuant.Act512(a, 2, 6), a3 = KQuant.Act512(a, 3, 7);
            acc0 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x0 + 208)), Vector256.ConvertToSingle(Q6Sums(x0, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x1 + 208)), Vector256.ConvertToSingle(Q6Sums(x1, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc1);
        }
        y[0] = Simd.HSum8(acc0);
        y[1] = Simd.HSum8(acc1);
    }

    /// <summary>Exact lane sums of one Q6_K super-block (unsigned 6-bit values times scales, minus 32 · scale · bsum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Q6Sums(byte* x, Vector256<short> bsums,
        Vector512<sbyte> a0, Vector512<sbyte> a1, Vector512<sbyte> a2, Vector512<sbyte> a3,
        Vector512<short> p0, Vector512<short> p1, Vector512<short> p2, Vector512<short> p3)
    {
        Vector256<short> sc = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(x + 192)));
        Vector512<short> sc16 = sc.ToVector512Unsafe();
        Vector256<int> offset = Avx2.MultiplyAddAdjacent(bsums, sc) << 5;
        Vector512<byte> m4 = Vector512.Create((byte)0x0F), m3 = Vector512.Create((byte)3);
        Vector512<byte> q1 = Simd.Join(Vector256.Load(x), Vector256.Load(x + 64));
        Vector512<byte> q2 = Simd.Join(Vector256.Load(x + 32), Vector256.Load(x + 96));
        Vector512<byte> h = Vector512.Load(x + 128);
        Vector512<int> s = Simd.MAdd(Simd.MulPairs((q1 & m4) | KQuant.Shl(h & m3, 4), a0), Avx512BW.PermuteVar32x16(sc16, p0));
        s += Simd.MAdd(Simd.MulPairs((q2 & m4) | KQuant.Shl(Simd.Shr(h, 2) & m3, 4), a1), Avx512BW.PermuteVar32x16(sc16, p1));
        s += Simd.MAdd(Simd.MulPairs(Simd.Shr(q1, 4) | KQuant.Shl(Simd.Shr(h, 4) & m3, 4), a2), Avx512BW.PermuteVar32x16(sc16, p2));
        s += Simd.MAdd(Simd.MulPairs(Simd.Shr(q2, 4) | KQuant.Shl(Simd.Shr(h, 6), 4), a3), Avx512BW.PermuteVar32x16(sc16, p3));
        return KQuant.Fold(s) - offset;
    }

    /// <summary>Software prefetch of one 210-byte Q6_K block (its four cache lines) for the next row pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch(byte* p)
    {
        Sse.Prefetch0(p);
        Sse.Prefetch0(p + 64);
        Sse.Prefetch0(p + 128);
        Sse.Prefetch0(p + 209);
    }

    /// <summary>Q4_K row · Q8_K row, bit-identical to <see cref="Q45K.Dot"/> (five = false): the one-row form of
    /// <see cref="Q4K2"/>, which keeps the weights one sequential stream (what the hardware prefetcher follows best once
    /// the weights come from DRAM).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q4K1(byte* x, byte* a, int cols)
    {
        int nb = cols / 256;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector128<float> accm = Vector128<float>.Zero;
        Vector512<ushort> shifts = Vector512.Create(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
        Vector512<byte> m4 = Vector512.Create((byte)0x0F);
        Vector512<short> p0 = Vector512.Create(Vector256<short>.Zero, Vector256<short>.One);
        Vector512<short> p1 = p0 + Vector512.Create((short)2), p2 = p0 + Vector512.Create((short)4), p3 = p0 + Vector512.Create((short)6);
        Vector256<sbyte> dup = Vector256.Create(
            0, -128, 0, -128, 1, -128, 1, -128, 2, -128, 2, -128, 3, -128, 3, -128,
            4, -128, 4, -128, 5, -128, 5, -128, 6, -128, 6, -128, 7, -128, 7, -128);
        for (int i = 0; i < nb; i++, x += 144, a += KQuant.Q8K)
        {
            float da = KQuant.D(a);
            Vector256<short> bsums = Vector256.Load((short*)(a + 260));
            acc = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x)), Vector256.ConvertToSingle(Sums(x, a, shifts, m4, p0, p1, p2, p3)), acc);
            Vector256<int> t = MinTerms(x, bsums, dup);
            Vector256<long> h = Avx2.HorizontalAdd(t, t).AsInt64();
            Vector128<int> pairs = Avx2.Permute4x64(h, 0b11_01_10_00).AsInt32().GetLower();
            accm = Vector128.FusedMultiplyAdd(Vector128.Create(-da * Fp16.ToFloat(x + 2)), Vector128.ConvertToSingle(pairs), accm);
        }
        return Simd.HSum8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));
    }

    /// <summary>Q6_K row · Q8_K row, bit-identical to <see cref="Q6_KKernel.Dot"/>: the one-row form of <see cref="Q6K2"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static float Q6K1(byte* x, byte* a, int cols)
    {
        int nb = cols / 256;
        Vector256<float> acc = Vector256<float>.Zero;
        Vector512<short> p0 = Vector512.Create(Simd.Join(Vector128<short>.Zero, Vector128<short>.One), Simd.Join(Vector128.Create((short)8), Vector128.Create((short)9)));
        Vector512<short> p1 = p0 + Vector512.Create((short)2), p2 = p0 + Vector512.Create((short)4), p3 = p0 + Vector512.Create((short)6);
        for (int i = 0; i < nb; i++, x += 210, a += KQuant.Q8K)
        {
            Vector256<short> bsums = Vector256.Load((short*)(a + 260));
            Vector512<sbyte> a0 = KQuant.Act512(a, 0, 4), a1 = KQuant.Act512(a, 1, 5), a2 = KQuant.Act512(a, 2, 6), a3 = KQuant.Act512(a, 3, 7);
            acc = Fma.MultiplyAdd(Vector256.Create(KQuant.D(a) * Fp16.ToFloat(x + 208)), Vector256.ConvertToSingle(Q6Sums(x, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc);
        }
        return Simd.HSum8(acc);
    }

    /// <summary>
    /// True when the four-row decode kernel runs for rows of <paramref name="rowBytes"/> at <paramref name="width"/>: only
    /// for groups small enough to prefetch as one sweep (R1-1.5B's 1,536-wide rows: 1.05-1.2x; its 8,960-wide rows,
    /// prefetched row by row: 0.8x of the one-row kernel).
    /// </summary>
    public static bool AppliesFourRows(int width, long rowBytes) =>
        width >= 512 && KernelSettings.FastKQuantDecode && KernelSettings.MultiRowKQuantDecode && 4 * rowBytes <= LinearPrefetchBytes;

    // Groups of four rows up to this many bytes are prefetched as one sequential sweep while the previous group runs;
    // larger groups per row, one group ahead (a sweep would run too far ahead and evict the rows being read).
    private const long LinearPrefetchBytes = 16 * 1024;

    /// <summary>
    /// y[0..3] = four adjacent Q6_K rows (<paramref name="rowBytes"/> apart, starting at <paramref name="x"/>) · Q8_K
    /// <paramref name="a"/>; each row bit-identical to <see cref="Q6K1"/>. The rows' float chains interleave, the
    /// activation block is loaded once for all four, and the next group of rows is prefetched (four concurrent streams
    /// defeat the hardware prefetcher otherwise). Measured 1.05-1.3x the one-row kernel; the same construction for Q4_K
    /// measured 0.8-1.1x (its one-row kernel is instruction-bound, not latency-bound), so Q4_K stays one-row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Q6K4(byte* x, long rowBytes, byte* a, int cols, float* y, bool prefetch)
    {
        int nb = cols / 256;
        byte* x0 = x, x1 = x + rowBytes, x2 = x + 2 * rowBytes, x3 = x + 3 * rowBytes;
        Vector256<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        Vector512<short> p0 = Vector512.Create(Simd.Join(Vector128<short>.Zero, Vector128<short>.One), Simd.Join(Vector128.Create((short)8), Vector128.Create((short)9)));
        Vector512<short> p1 = p0 + Vector512.Create((short)2), p2 = p0 + Vector512.Create((short)4), p3 = p0 + Vector512.Create((short)6);
        long group = 4 * rowBytes;
        bool linear = group <= LinearPrefetchBytes;
        byte* next = x + group;
        for (int i = 0; i < nb; i++, x0 += 210, x1 += 210, x2 += 210, x3 += 210, a += KQuant.Q8K)
        {
            if (prefetch && Sse.IsSupported)
            {
                if (linear)
                {
                    // 4 x 210 bytes of the next group per block: fourteen lines.
                    for (int k = 0; k < 14; k++) Sse.Prefetch0(next + 64 * k);
                    next += 840;
                }
                else
                {
                    Prefetch(x0 + group);
                    Prefetch(x1 + group);
                    Prefetch(x2 + group);
                    Prefetch(x3 + group);
                }
            }
            float da = KQuant.D(a);
            Vector256<short> bsums = Vector256.Load((short*)(a + 260));
            Vector512<sbyte> a0 = KQuant.Act512(a, 0, 4), a1 = KQuant.Act512(a, 1, 5), a2 = KQuant.Act512(a, 2, 6), a3 = KQuant.Act512(a, 3, 7);
            acc0 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x0 + 208)), Vector256.ConvertToSingle(Q6Sums(x0, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc0);
            acc1 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x1 + 208)), Vector256.ConvertToSingle(Q6Sums(x1, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc1);
            acc2 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x2 + 208)), Vector256.ConvertToSingle(Q6Sums(x2, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc2);
            acc3 = Fma.MultiplyAdd(Vector256.Create(da * Fp16.ToFloat(x3 + 208)), Vector256.ConvertToSingle(Q6Sums(x3, bsums, a0, a1, a2, a3, p0, p1, p2, p3)), acc3);
        }
        y[0] = Simd.HSum8(acc0);
        y[1] = Simd.HSum8(acc1);
        y[2] = Simd.HSum8(acc2);
        y[3] = Simd.HSum8(acc3);
    }
}
