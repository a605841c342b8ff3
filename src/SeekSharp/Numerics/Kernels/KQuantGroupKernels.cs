using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Prefill kernels for Q4_K, Q5_K and Q6_K weights on the 512-bit path: one weight row against a group of eight tokens whose
/// Q8_K activations were rearranged once per call (<see cref="BuildGroups"/>).
/// </summary>
/// <remarks>
/// ggml's K-quant vec_dot keeps, per (row, token), eight float lanes fed once per 256-value super-block with
/// fma(d_y * d_w, float(integer lane sums), acc) (Q4_K / Q5_K add min terms fed with fma(-d_y * dmin_w, float(min terms),
/// acc_m)). Those float operations are fixed by bit-identity; the integer sums are not, so these kernels compute them
/// with fewer instructions than the four-token kernels in MultiTokenKernels.cs:
/// <list type="bullet">
/// <item>the activation chunks are stored in the order the weight values come out of a 64-byte load, so every
/// multiply takes its activations straight from memory (no per-row 256-bit joins);</item>
/// <item>per-token terms (Q4_K / Q5_K: pair sums of the block sums for the min terms; Q6_K: the block sums for the -32
/// offset; both: the activation scale) are precomputed per token, already laid out for two or four tokens per register;</item>
/// <item>two tokens share one 512-bit float accumulator (eight lanes each) and four tokens one min accumulator (four
/// lanes each), so the convert / multiply / FMA sequence runs once per two (four) tokens, each lane seeing exactly the
/// operations of the single-token kernel;</item>
/// <item>the weight values and scales are unpacked once per super-block for all eight tokens.</item>
/// </list>
/// </remarks>
internal static unsafe class KQuantGroups
{
    /// <summary>Tokens per group.</summary>
    public const int GroupTokens = 8;

    // Per super-block and group: 8 x 256 activation bytes; then for Q4_K 2 x 64 bytes of pair sums (int16, tokens 0-3
    // then 4-7), 4 x 64 bytes of d_y (tokens 2k and 2k+1, eight copies each) and 2 x 64 bytes of -d_y (tokens 0-3 then
    // 4-7, four copies each); for Q6_K 4 x 64 bytes of block sums (tokens 2k and 2k+1) and 4 x 64 bytes of d_y.
    internal const int QsBytes = GroupTokens * 256;
    internal const int Q4PairSums = QsBytes, Q4MainScale = Q4PairSums + 128, Q4MinScale = Q4MainScale + 256;
    internal const int Q6BlockSums = QsBytes, Q6MainScale = Q6BlockSums + 256;

    /// <summary>Bytes per super-block per group in the rearranged layout.</summary>
    public const int GroupBlockBytes = QsBytes + 512;

    /// <summary>True when a grouped kernel runs for <paramref name="n"/> tokens of <typeparamref name="TKernel"/> weights.</summary>
    public static bool Applies<TKernel>(int width, int n) where TKernel : struct, IDotKernel =>
        KernelSettings.GroupedKQuantPrefill && width >= 512 &&
        n >= (KernelSettings.PaddedKQuantGroups ? Math.Min(GroupTokens, PadFrom<TKernel>(width)) : GroupTokens) &&
        (typeof(TKernel) == typeof(Q4_KKernel) || typeof(TKernel) == typeof(Q5_KKernel) || typeof(TKernel) == typeof(Q6_KKernel));

    /// <summary>True when leftover tokens of a grouped Q4_K / Q6_K call run through the one-row decode kernels
    /// (<see cref="KQuantDecode.Q4K1"/>, <see cref="KQuantDecode.Q6K1"/>) instead of the four-token and generic kernels.</summary>
    public static bool FastTail<TKernel>(int width) where TKernel : struct, IDotKernel =>
        KernelSettings.PaddedKQuantGroups && KQuantDecode.AppliesOneRow(width) &&
        (typeof(TKernel) == typeof(Q4_KKernel) || typeof(TKernel) == typeof(Q6_KKernel));

    /// <summary>
    /// The smallest leftover worth a padded group: one group pass costs about as much as four tokens through the fast
    /// one-row Q4_K / Q6_K kernels, and about as much as 1.5 tokens through the generic Q5_K one.
    /// </summary>
    public static int PadFrom<TKernel>(int width) where TKernel : struct, IDotKernel => FastTail<TKernel>(width) ? 5 : 2;

    /// <summary>
    /// Groups for <paramref name="n"/> tokens: the full ones, plus (when <paramref name="padded"/>) a last partial group
    /// of <paramref name="padFrom"/> or more tokens, filled up with copies of the last token. Fewer leftover tokens stay
    /// with the single-token kernels, which cost less than a whole group pass.
    /// </summary>
    public static int GroupCount(int n, bool padded, int padFrom) => padded && n % GroupTokens >= padFrom ? n / GroupTokens + 1 : n / GroupTokens;

    /// <summary>
    /// Rearranges the Q8_K activation rows (ggml layout, <paramref name="actRow"/> bytes apart) of tokens 8g .. 8g+7 into
    /// group g of <paramref name="groups"/> for g in [<paramref name="firstGroup"/>, <paramref name="endGroup"/>), in the
    /// layout of the Q4_K / Q5_K kernel (<paramref name="q6"/> false) or the Q6_K kernel. Token indices past the last of
    /// the <paramref name="n"/> tokens repeat the last one (a padded group).
    /// </summary>
    public static void BuildGroups(bool q6, byte* act, long actRow, int n, int nb, byte* groups, int firstGroup, int endGroup)
    {
        long groupStride = (long)nb * GroupBlockBytes;
        for (int g = firstGroup; g < endGroup; g++)
        {
            byte* dst = groups + g * groupStride;
            for (int b = 0; b < nb; b++, dst += GroupBlockBytes)
            {
                for (int t = 0; t < GroupTokens; t++)
                {
                    byte* y = act + (long)Math.Min(GroupTokens * g + t, n - 1) * actRow + (long)b * KQuant.Q8K;
                    byte* q = y + 4;
                    byte* o = dst + 256 * t;
                    short* bs = (short*)(y + 260);
                    float d = KQuant.D(y);
                    if (q6)
                    {
                        // Chunk order (0,4) (1,5) (2,6) (3,7): chunk k of each 128-value half side by side.
                        for (int k = 0; k < 4; k++)
                        {
                            Vector256.Store(Vector256.Load(q + 32 * k), o + 64 * k);
                            Vector256.Store(Vector256.Load(q + 128 + 32 * k), o + 64 * k + 32);
                        }
                        Vector256.Store(Vector256.Load(bs), (short*)(dst + Q6BlockSums) + 16 * t);
                        Vector256.Store(Vector256.Create(d), (float*)(dst + Q6MainScale) + 8 * t);
                        continue;
                    }
                    // Chunk order (0,2) (1,3) (4,6) (5,7): the low / high nibbles of qs[0..63] and qs[64..127].
                    Vector256.Store(Vector256.Load(q + 0), o);
                    Vector256.Store(Vector256.Load(q + 64), o + 32);
                    Vector256.Store(Vector256.Load(q + 32), o + 64);
                    Vector256.Store(Vector256.Load(q + 96), o + 96);
                    Vector256.Store(Vector256.Load(q + 128), o + 128);
                    Vector256.Store(Vector256.Load(q + 192), o + 160);
                    Vector256.Store(Vector256.Load(q + 160), o + 192);
                    Vector256.Store(Vector256.Load(q + 224), o + 224);

                    // Pair sums of the 16-value block sums: one per 32-value sub-block (what ggml's min term multiplies).
                    short* ps = (short*)(dst + Q4PairSums) + 8 * t;
                    for (int j = 0; j < 8; j++)
                        ps[j] = (short)(bs[2 * j] + bs[2 * j + 1]);
                    Vector256.Store(Vector256.Create(d), (float*)(dst + Q4MainScale) + 8 * t);
                    Vector128.Store(Vector128.Create(-d), (float*)(dst + Q4MinScale) + 4 * t);
                }
            }
        }
    }

    /// <summary>
    /// The eight ggml lanes of two tokens side by side from their 16-lane sums: [lower half of sa | lower half of sb] +
    /// [upper half of sa | upper half of sb].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<int> Fold(Vector512<int> sa, Vector512<int> sb) =>
        Avx512F.Shuffle4x128(sa, sb, 0x44) + Avx512F.Shuffle4x128(sa, sb, 0xEE);

    /// <summary>acc += (d_w * d_y) * float(lanes), for two tokens side by side (d_y from the group layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Accumulate(Vector512<float> acc, Vector512<int> lanes, float dw, byte* dy)
    {
        Vector512<float> d = Vector512.Create(dw) * Vector512.LoadAligned((float*)dy);
        return Avx512F.FusedMultiplyAdd(d, Vector512.ConvertToSingle(lanes), acc);
    }

    /// <summary>Broadcasts selected bytes of <paramref name="src"/> into 32 sign- or zero-extended 16-bit lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<short> Spread(Vector256<byte> src, Vector256<byte> index, bool signed) => signed
        ? Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(src, index).AsSByte())
        : Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(src, index)).AsInt16();
}

/// <summary>Grouped Q4_K prefill kernel (see <see cref="KQuantGroups"/>).</summary>
internal static unsafe class Q4KGroup
{
    // vpermb indices into the 16 unpacked bytes (scales 0-7, mins 0-7): the scales of sub-blocks (0,2), (1,3), (4,6),
    // (5,7), sixteen copies each, and the eight mins four times over.
    private static readonly Vector256<byte> IdxA = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2);
    private static readonly Vector256<byte> IdxB = Vector256.Create((byte)1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3);
    private static readonly Vector256<byte> IdxC = Vector256.Create((byte)4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6);
    private static readonly Vector256<byte> IdxD = Vector256.Create((byte)5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7);
    private static readonly Vector256<byte> IdxM = Vector256.Create((byte)8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);

    /// <summary>Marker for <see cref="DotGroup{TBits}"/>: Q4_K weights.</summary>
    public struct Four;

    /// <summary>Marker for <see cref="DotGroup{TBits}"/>: Q5_K weights (a fifth bit per value in qh).</summary>
    public struct Five;

    /// <summary>
    /// One Q4_K (<typeparamref name="TBits"/> = <see cref="Four"/>) or Q5_K (<see cref="Five"/>) weight row against one
    /// group of eight tokens (layout of <see cref="KQuantGroups.BuildGroups"/>): result[0..7].
    /// </summary>
    // Compiled fully optimized at the first call: one call runs only a row's blocks, too few for on-stack replacement,
    // so the unoptimized first tier would otherwise run whole first prompts (see PrefillTileKernels).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotGroup<TBits>(byte* x, byte* group, int nb, float* result, long ahead = 0) where TBits : struct
    {
        bool five = typeof(TBits) == typeof(Five);
        int blockBytes = five ? 176 : 144, qsOffset = five ? 48 : 16;
        Vector512<float> acc01 = default, acc23 = default, acc45 = default, acc67 = default;
        Vector512<float> accm0 = default, accm1 = default;
        Vector512<byte> m4 = Vector512.Create((byte)0x0F);
        Vector256<byte> idxA = IdxA, idxB = IdxB, idxC = IdxC, idxD = IdxD, idxM = IdxM;

        for (int i = 0; i < nb; i++, x += blockBytes, group += KQuantGroups.GroupBlockBytes)
        {
            if (ahead != 0)
            {
                // the next row's matching super-block: MoE experts stream their weights from DRAM once per call
                Sse.Prefetch0(x + ahead);
                Sse.Prefetch0(x + ahead + 64);
                Sse.Prefetch0(x + ahead + blockBytes - 1);
            }
            float dw = Fp16.ToFloat(x), dmw = Fp16.ToFloat(x + 2);
            Vector256<byte> sm = ScalesMins(x + 4).ToVector256Unsafe();
            Vector512<short> sA = KQuantGroups.Spread(sm, idxA, signed: false);
            Vector512<short> sB = KQuantGroups.Spread(sm, idxB, signed: false);
            Vector512<short> sC = KQuantGroups.Spread(sm, idxC, signed: false);
            Vector512<short> sD = KQuantGroups.Spread(sm, idxD, signed: false);
            Vector512<short> mins = KQuantGroups.Spread(sm, idxM, signed: false);

            Vector512<byte> b0 = Vector512.Load(x + qsOffset), b1 = Vector512.Load(x + qsOffset + 64);
            Vector512<byte> l0 = b0 & m4, h0 = Simd.Shr(b0, 4), l1 = b1 & m4, h1 = Simd.Shr(b1, 4);
            if (five)
            {
                // Bit c of qh[v] is the fifth bit of value v of sub-block c; the register halves hold sub-blocks (c, c+2).
                Vector256<byte> h = Vector256.Load(x + 16);
                Vector512<byte> hb = Simd.Join(h, Simd.Shr(h, 2)), one = Vector512.Create((byte)1);
                l0 |= KQuant.Shl(hb & one, 4);
                h0 |= KQuant.Shl(Simd.Shr(hb, 1) & one, 4);
                l1 |= KQuant.Shl(Simd.Shr(hb, 4) & one, 4);
                h1 |= KQuant.Shl(Simd.Shr(hb, 5) & one, 4);
            }

            Vector512<int> s0 = Sums(group + 0 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s1 = Sums(group + 1 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc01 = KQuantGroups.Accumulate(acc01, KQuantGroups.Fold(s0, s1), dw, group + KQuantGroups.Q4MainScale);
            Vector512<int> s2 = Sums(group + 2 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s3 = Sums(group + 3 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc23 = KQuantGroups.Accumulate(acc23, KQuantGroups.Fold(s2, s3), dw, group + KQuantGroups.Q4MainScale + 64);
            Vector512<int> s4 = Sums(group + 4 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s5 = Sums(group + 5 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc45 = KQuantGroups.Accumulate(acc45, KQuantGroups.Fold(s4, s5), dw, group + KQuantGroups.Q4MainScale + 128);
            Vector512<int> s6 = Sums(group + 6 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s7 = Sums(group + 7 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc67 = KQuantGroups.Accumulate(acc67, KQuantGroups.Fold(s6, s7), dw, group + KQuantGroups.Q4MainScale + 192);

            // Min terms of four tokens per register: lane k of token t = m[2k]*p[2k] + m[2k+1]*p[2k+1] (Q4_K keeps these
            // four lanes; Q5_K adds them into one integer per token, repeated over the token's four lanes).
            Vector512<float> vdm = Vector512.Create(dmw);
            Vector512<int> p0 = Simd.MAdd(mins, Vector512.LoadAligned((short*)(group + KQuantGroups.Q4PairSums)));
            Vector512<int> p1 = Simd.MAdd(mins, Vector512.LoadAligned((short*)(group + KQuantGroups.Q4PairSums + 64)));
            if (five)
            {
                p0 = LaneTotals(p0);
                p1 = LaneTotals(p1);
            }
            accm0 = Avx512F.FusedMultiplyAdd(vdm * Vector512.LoadAligned((float*)(group + KQuantGroups.Q4MinScale)), Vector512.ConvertToSingle(p0), accm0);
            accm1 = Avx512F.FusedMultiplyAdd(vdm * Vector512.LoadAligned((float*)(group + KQuantGroups.Q4MinScale + 64)), Vector512.ConvertToSingle(p1), accm1);
        }
        if (five)
        {
            result[0] = Simd.HSum8(acc01.GetLower()) + accm0[0];
            result[1] = Simd.HSum8(acc01.GetUpper()) + accm0[4];
            result[2] = Simd.HSum8(acc23.GetLower()) + accm0[8];
            result[3] = Simd.HSum8(acc23.GetUpper()) + accm0[12];
            result[4] = Simd.HSum8(acc45.GetLower()) + accm1[0];
            result[5] = Simd.HSum8(acc45.GetUpper()) + accm1[4];
            result[6] = Simd.HSum8(acc67.GetLower()) + accm1[8];
            result[7] = Simd.HSum8(acc67.GetUpper()) + accm1[12];
            return;
        }
        Finish(acc01.GetLower(), accm0.GetLower().GetLower(), result + 0);
        Finish(acc01.GetUpper(), accm0.GetLower().GetUpper(), result + 1);
        Finish(acc23.GetLower(), accm0.GetUpper().GetLower(), result + 2);
        Finish(acc23.GetUpper(), accm0.GetUpper().GetUpper(), result + 3);
        Finish(acc45.GetLower(), accm1.GetLower().GetLower(), result + 4);
        Finish(acc45.GetUpper(), accm1.GetLower().GetUpper(), result + 5);
        Finish(acc67.GetLower(), accm1.GetUpper().GetLower(), result + 6);
        Finish(acc67.GetUpper(), accm1.GetUpper().GetUpper(), result + 7);
    }

    /// <summary>The 16 lane sums of one token (lanes 0-7: sub-blocks 0,1,4,5; lanes 8-15: sub-blocks 2,3,6,7).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sums(byte* a, Vector512<byte> l0, Vector512<byte> h0, Vector512<byte> l1, Vector512<byte> h1,
        Vector512<short> sA, Vector512<short> sB, Vector512<short> sC, Vector512<short> sD)
    {
        Vector512<int> p0 = Simd.MAdd(Simd.MulPairs(l0, Vector512.LoadAligned((sbyte*)a)), sA);
        Vector512<int> p1 = Simd.MAdd(Simd.MulPairs(h0, Vector512.LoadAligned((sbyte*)(a + 64))), sB);
        Vector512<int> p2 = Simd.MAdd(Simd.MulPairs(l1, Vector512.LoadAligned((sbyte*)(a + 128))), sC);
        Vector512<int> p3 = Simd.MAdd(Simd.MulPairs(h1, Vector512.LoadAligned((sbyte*)(a + 192))), sD);
        return (p0 + p1) + (p2 + p3);
    }

    /// <summary>Every 32-bit lane replaced by the total of its 128-bit group (exact integer sums).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> LaneTotals(Vector512<int> p)
    {
        p += Avx512F.Shuffle(p, 0b10_11_00_01);
        return p + Avx512F.Shuffle(p, 0b01_00_11_10);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<float> acc, Vector128<float> accm, float* result) =>
        *result = Simd.HSum8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));

    /// <summary>The eight 6-bit scales then the eight 6-bit mins of a Q4_K / Q5_K super-block (see <see cref="KQuant.ScalesMins"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<byte> ScalesMins(byte* s)
    {
        uint s0 = Unsafe.ReadUnaligned<uint>(s), s1 = Unsafe.ReadUnaligned<uint>(s + 4), s2 = Unsafe.ReadUnaligned<uint>(s + 8);
        return Vector128.Create(
            s0 & 0x3f3f3f3fu,
            (s2 & 0x0f0f0f0fu) | (((s0 >> 6) & 0x03030303u) << 4),
            s1 & 0x3f3f3f3fu,
            ((s2 >> 4) & 0x0f0f0f0fu) | (((s1 >> 6) & 0x03030303u) << 4)).AsByte();
    }
}

/// <summary>Grouped Q6_K prefill kernel (see <see cref="KQuantGroups"/>).</summary>
internal static unsafe class Q6KGroup
{
    // vpermb indices into the 16 scale bytes: for chunk k the scales of its two 16-value halves and those of chunk 4+k,
    // eight copies each.
    private static readonly Vector256<byte> Idx0 = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 8, 8, 8, 8, 8, 8, 8, 8, 9, 9, 9, 9, 9, 9, 9, 9);
    private static readonly Vector256<byte> Idx1 = Vector256.Create((byte)2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 10, 10, 10, 10, 10, 10, 10, 10, 11, 11, 11, 11, 11, 11, 11, 11);
    private static readonly Vector256<byte> Idx2 = Vector256.Create((byte)4, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 12, 12, 12, 12, 12, 12, 12, 12, 13, 13, 13, 13, 13, 13, 13, 13);
    private static readonly Vector256<byte> Idx3 = Vector256.Create((byte)6, 6, 6, 6, 6, 6, 6, 6, 7, 7, 7, 7, 7, 7, 7, 7, 14, 14, 14, 14, 14, 14, 14, 14, 15, 15, 15, 15, 15, 15, 15, 15);

    /// <summary>One Q6_K weight row against one group of eight tokens (layout of <see cref="KQuantGroups.BuildGroups"/>): result[0..7].</summary>
    // Compiled fully optimized at the first call: one call runs only a row's blocks, too few for on-stack replacement,
    // so the unoptimized first tier would otherwise run whole first prompts (see PrefillTileKernels).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void DotGroup(byte* x, byte* group, int nb, float* result, long ahead = 0)
    {
        Vector512<float> acc01 = default, acc23 = default, acc45 = default, acc67 = default;
        Vector512<byte> m4 = Vector512.Create((byte)0x0F), m3 = Vector512.Create((byte)3);
        Vector256<byte> idx0 = Idx0, idx1 = Idx1, idx2 = Idx2, idx3 = Idx3;
        for (int i = 0; i < nb; i++, x += 210, group += KQuantGroups.GroupBlockBytes)
        {
            if (ahead != 0)
            {
                Sse.Prefetch0(x + ahead);
                Sse.Prefetch0(x + ahead + 64);
                Sse.Prefetch0(x + ahead + 128);
                Sse.Prefetch0(x + ahead + 209);
            }
            float dw = Fp16.ToFloat(x + 208);
            Vector256<byte> sc = Vector128.Load(x + 192).ToVector256Unsafe();
            Vector512<short> s0 = KQuantGroups.Spread(sc, idx0, signed: true), s1 = KQuantGroups.Spread(sc, idx1, signed: true);
            Vector512<short> s2 = KQuantGroups.Spread(sc, idx2, signed: true), s3 = KQuantGroups.Spread(sc, idx3, signed: true);
            // The sixteen scales as 16-bit lanes, twice: the -32 offset of two tokens is one pmaddwd with their block sums.
            Vector256<short> sc16 = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(x + 192)));
            Vector512<short> scales = Simd.Join(sc16, sc16);

            Vector512<byte> q1 = Simd.Join(Vector256.Load(x), Vector256.Load(x + 64));
            Vector512<byte> q2 = Simd.Join(Vector256.Load(x + 32), Vector256.Load(x + 96));
            Vector512<byte> h = Vector512.Load(x + 128);
            Vector512<byte> v0 = (q1 & m4) | KQuant.Shl(h & m3, 4);
            Vector512<byte> v1 = (q2 & m4) | KQuant.Shl(Simd.Shr(h, 2) & m3, 4);
            Vector512<byte> v2 = Simd.Shr(q1, 4) | KQuant.Shl(Simd.Shr(h, 4) & m3, 4);
            Vector512<byte> v3 = Simd.Shr(q2, 4) | KQuant.Shl(Simd.Shr(h, 6), 4);

            byte* bsums = group + KQuantGroups.Q6BlockSums;
            byte* dy = group + KQuantGroups.Q6MainScale;
            acc01 = KQuantGroups.Accumulate(acc01, Lanes(group, 0, v0, v1, v2, v3, s0, s1, s2, s3, scales, bsums), dw, dy);
            acc23 = KQuantGroups.Accumulate(acc23, Lanes(group, 2, v0, v1, v2, v3, s0, s1, s2, s3, scales, bsums + 64), dw, dy + 64);
            acc45 = KQuantGroups.Accumulate(acc45, Lanes(group, 4, v0, v1, v2, v3, s0, s1, s2, s3, scales, bsums + 128), dw, dy + 128);
            acc67 = KQuantGroups.Accumulate(acc67, Lanes(group, 6, v0, v1, v2, v3, s0, s1, s2, s3, scales, bsums + 192), dw, dy + 192);
        }
        result[0] = Simd.HSum8(acc01.GetLower()); result[1] = Simd.HSum8(acc01.GetUpper());
        result[2] = Simd.HSum8(acc23.GetLower()); result[3] = Simd.HSum8(acc23.GetUpper());
        result[4] = Simd.HSum8(acc45.GetLower()); result[5] = Simd.HSum8(acc45.GetUpper());
        result[6] = Simd.HSum8(acc67.GetLower()); result[7] = Simd.HSum8(acc67.GetUpper());
    }

    /// <summary>The eight ggml lanes of tokens t and t+1 side by side, -32 offsets subtracted.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Lanes(byte* group, int t, Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3, Vector512<short> scales, byte* bsums)
    {
        Vector512<int> a = Sums(group + 256 * t, v0, v1, v2, v3, s0, s1, s2, s3);
        Vector512<int> b = Sums(group + 256 * (t + 1), v0, v1, v2, v3, s0, s1, s2, s3);
        Vector512<int> offset = Simd.MAdd(Vector512.LoadAligned((short*)bsums), scales) << 5;
        return KQuantGroups.Fold(a, b) - offset;
    }

    /// <summary>The 16 lane sums of one token (lanes 0-7: first 128 values; lanes 8-15: last 128), offset not applied.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Sums(byte* a, Vector512<byte> v0, Vector512<byte> v1, Vector512<byte> v2, Vector512<byte> v3,
        Vector512<short> s0, Vector512<short> s1, Vector512<short> s2, Vector512<short> s3)
    {
        Vector512<int> p0 = Simd.MAdd(Simd.MulPairs(v0, Vector512.LoadAligned((sbyte*)a)), s0);
        Vector512<int> p1 = Simd.MAdd(Simd.MulPairs(v1, Vector512.LoadAligned((sbyte*)(a + 64))), s1);
        Vector512<int> p2 = Simd.MAdd(Simd.MulPairs(v2, Vector512.LoadAligned((sbyte*)(a + 128))), s2);
        Vector512<int> p3 = Simd.MAdd(Simd.MulPairs(v3, Vector512.LoadAligned((sbyte*)(a + 192))), s3);
        return (p0 + p1) + (p2 + p3);
    }
}
