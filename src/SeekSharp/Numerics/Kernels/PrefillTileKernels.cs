using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Row-tiled prefill kernels for Q8_0 / Q4_0 / Q5_0 weights on the 512-bit path: two weight rows against one to eight
/// token pairs (up to sixteen tokens) per pass, two tokens per 512-bit register. Any pair count has its own
/// instantiation, so a mixture-of-experts expert fed a dozen tokens unpacks each weight block once, not once per
/// power-of-two piece of its token count.
/// </summary>
/// <remarks>
/// The float operations per (row, token) are exactly those of the single-token kernels: for every 32-value block in
/// order, lane l (l = 0..7) of the token's accumulator gets fma(d_w * d_a, (float)S_l, acc_l), where S_l is the exact
/// integer sum of the products of values 4l..4l+3; the eight lanes are reduced with ggml's hsum at the end. Only the
/// integer arithmetic that yields S_l differs, and integers are exact, so results are bit-identical:
/// <list type="bullet">
/// <item>Q8_0: ggml's sign trick |w| * (a with w's sign) needs -a per token; the tile layout stores -a next to a (built
/// once per call), so moving the sign costs one mask blend per (row, token pair) instead of a negate and a blend.</item>
/// <item>Q4_0 / Q5_0: the stored values u = w + 8 (or + 16) are small non-negative bytes, so u * a needs no sign trick
/// at all (pair sums stay far inside int16): S_l = sum(u * a) - off * sum(a) over the lane's four values, with
/// off * sum(a) precomputed per token in the tile layout.</item>
/// </list>
/// The two tokens of a pair are interleaved by 4-byte groups (lane 2l = first token's lane l, 2l+1 = second's), so a
/// pair's two scale products are one 64-bit pattern: d_w * d_a is formed for sixteen tokens with one multiply per row
/// and block, and each pair reads its two products with a broadcast load instead of a multiply of its own. Each
/// activation load serves two rows and each weight unpack serves eight token pairs. Measured against
/// <see cref="PairedTokenKernels"/> (single thread, n = 128): about 0.8x the time for Q8_0 and Q4_0, 0.7x for Q5_0.
/// </remarks>
internal static unsafe class PrefillTileKernels
{
    /// <summary>
    /// Bytes per block of one token pair in the tile layout: the two tokens' 32 quants interleaved by 4-byte groups
    /// (64 B), then, interleaved the same way, either their negations (Q8_0 weights) or off * (sums of each 4-byte group)
    /// as int32 (Q4_0 / Q5_0). The activation scales are kept apart (see <see cref="BuildPairs{T}"/>).
    /// </summary>
    public const int TileBlockBytes = 128;

    /// <summary>True when the tiled kernels run for <typeparamref name="TKernel"/> at <paramref name="width"/>.</summary>
    public static bool Applies<TKernel>(int width) where TKernel : struct, IDotKernel =>
        KernelSettings.TiledPrefill && PairedTokenKernels.Applies<TKernel>(width) && Avx512Vbmi.IsSupported;

    /// <summary>Offset making the stored Q4_0 / Q5_0 values signed (0 for Q8_0, whose bytes are already signed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Offset<T>() => typeof(T) == typeof(Q8_0Kernel) ? 0 : LegacyDot.HasHighBit<T>() ? 16 : 8;

    /// <summary>
    /// Rearranges Q8_0 activation rows (ggml layout, <paramref name="actRow"/> bytes apart) of tokens 2p and 2p+1 into
    /// pair p of <paramref name="tiles"/> (see <see cref="TileBlockBytes"/>) for weights of type <typeparamref name="T"/>,
    /// and writes the tokens' scales as floats to <paramref name="scales"/>[b * <paramref name="scaleStride"/> + t]. With an
    /// odd token count <paramref name="n"/>, the last pair holds the last token twice (the copy's results are dropped), so
    /// an odd token runs through the tile kernel with the others instead of a separate single-token pass over the rows.
    /// </summary>
    /// <remarks>
    /// Interleaving the two tokens by 4-byte groups makes 32-bit lane 2l of a product hold token 2p's lane l and lane
    /// 2l+1 token 2p+1's, so the pair's two block scales form one 64-bit pattern that a broadcast load repeats across
    /// the register: the kernels multiply d_w by all the group's d_a at once instead of once per (row, pair).
    /// </remarks>
    public static void BuildPairs<T>(byte* act, long actRow, int n, int nb, byte* tiles, float* scales, int scaleStride, int firstPair, int endPair)
    {
        long pairStride = (long)nb * TileBlockBytes;
        int off = Offset<T>();
        for (int p = firstPair; p < endPair; p++)
        {
            byte* a0 = act + 2L * p * actRow, a1 = 2 * p + 1 < n ? a0 + actRow : a0;
            byte* dst = tiles + p * pairStride;
            float* sc = scales + 2 * p;
            for (int b = 0; b < nb; b++, a0 += 34, a1 += 34, dst += TileBlockBytes, sc += scaleStride)
            {
                Vector256<sbyte> q0 = Vector256.Load((sbyte*)(a0 + 2)), q1 = Vector256.Load((sbyte*)(a1 + 2));
                Interleave(q0.AsInt32(), q1.AsInt32(), (int*)dst);
                if (off == 0)
                    Interleave((-q0).AsInt32(), (-q1).AsInt32(), (int*)(dst + 64));
                else
                    Interleave(LaneSums(q0) * off, LaneSums(q1) * off, (int*)(dst + 64));
                sc[0] = Fp16.ToFloat(a0);
                sc[1] = Fp16.ToFloat(a1);
            }
        }
    }

    /// <summary>dst[2l] = x[l], dst[2l+1] = y[l] for l = 0..7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Interleave(Vector256<int> x, Vector256<int> y, int* dst)
    {
        Vector256<int> lo = Avx2.UnpackLow(x, y), hi = Avx2.UnpackHigh(x, y); // per 128-bit lane: x0 y0 x1 y1 | x2 y2 x3 y3
        Avx2.Permute2x128(lo, hi, 0x20).Store(dst);
        Avx2.Permute2x128(lo, hi, 0x31).Store(dst + 8);
    }

    /// <summary>Lane l = q[4l] + q[4l+1] + q[4l+2] + q[4l+3] (exact).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> LaneSums(Vector256<sbyte> q)
    {
        Vector256<short> lo = Vector256.WidenLower(q), hi = Vector256.WidenUpper(q);
        Vector256<int> s = Avx2.MultiplyAddAdjacent(lo, Vector256<short>.One); // pairs 0..7 (values 0..15), per 128-bit lane
        Vector256<int> t = Avx2.MultiplyAddAdjacent(hi, Vector256<short>.One); // pairs 8..15
        // Adjacent pair sums -> sums of four, in value order.
        return Avx2.Permute4x64(Avx2.HorizontalAdd(s, t).AsInt64(), 0b11_01_10_00).AsInt32();
    }

    /// <summary>Floats of scratch the kernels need (<c>d</c> argument of <see cref="Dot{T, TPairs}"/>).</summary>
    public const int ScratchFloats = 32;

    /// <summary>
    /// Rows <paramref name="x0"/> and <paramref name="x1"/> against <typeparamref name="TPairs"/> consecutive token pairs
    /// of the tile layout starting at <paramref name="pairs"/>, whose scales start at <paramref name="scales"/>:
    /// r0[k] / r1[k] = row · token k. <paramref name="d"/> is scratch for <see cref="ScratchFloats"/> floats.
    /// </summary>
    /// <remarks>
    /// Per block, d_w * d_a is formed for all the tokens with one vector multiply per row and stored;
    /// each pair then reads its two products as one 64-bit broadcast. The pair count is a type argument so each
    /// instantiation keeps only the accumulators it uses (2 x 8 pairs: 16 of the 32 vector registers).
    /// </remarks>
    // Fully optimized from the first call: a call runs only nb loop iterations, too few for on-stack replacement, so a
    // tiered (unoptimized first) kernel ran several times slower through a whole first prompt. MatMul converts the
    // activations (touching Fp16's table) before the first call, so the JIT sees that class initialized.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot<T, TPairs>(byte* x0, byte* x1, byte* pairs, long pairStride, float* scales, int scaleStride, int nb,
        float* d, float* r0, float* r1)
        where T : struct, IDotKernel where TPairs : struct, IPairCount
    {
        int np = TPairs.Count;
        int bs = LegacyDot.Size<T>();
        long ps = pairStride;
        byte* p0 = pairs, p4 = pairs + 4 * ps;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default, c04 = default, c05 = default, c06 = default, c07 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default, c14 = default, c15 = default, c16 = default, c17 = default;
        long ahead = KernelSettings.PrefetchTiles ? 2 * (x1 - x0) : 0;
        for (int b = 0; b < nb; b++, x0 += bs, x1 += bs, scales += scaleStride, p0 += TileBlockBytes, p4 += TileBlockBytes)
        {
            if (ahead != 0)
            {
                Sse.Prefetch0(x0 + ahead);
                Sse.Prefetch0(x1 + ahead);
            }
            // d[k] = d_w(row 0) * d_a(token k), d[16 + k] = d_w(row 1) * d_a(token k).
            float dw0 = Fp16.ToFloat(x0), dw1 = Fp16.ToFloat(x1);
            if (np == 1)
            {
                // One 8-byte store per row, so the 8-byte broadcast load below is forwarded from it (two 4-byte
                // stores would stall the load until they reach the cache).
                Vector128<float> da = Vector128.CreateScalar(*(double*)scales).AsSingle();
                *(double*)d = (Vector128.Create(dw0) * da).AsDouble().ToScalar();
                *(double*)(d + 16) = (Vector128.Create(dw1) * da).AsDouble().ToScalar();
            }
            else if (np == 2)
            {
                Vector128<float> da = Vector128.Load(scales);
                (Vector128.Create(dw0) * da).Store(d);
                (Vector128.Create(dw1) * da).Store(d + 16);
            }
            else if (np <= 4)
            {
                // three pairs read two scales past the group: the layout keeps 64 bytes of slack after the table
                Vector256<float> da = Vector256.Load(scales);
                (Vector256.Create(dw0) * da).Store(d);
                (Vector256.Create(dw1) * da).Store(d + 16);
            }
            else
            {
                Vector512<float> da = Vector512.Load(scales);
                (Vector512.Create(dw0) * da).Store(d);
                (Vector512.Create(dw1) * da).Store(d + 16);
            }
            if (typeof(T) == typeof(Q8_0Kernel))
            {
                Vector512<sbyte> w0 = Signed512(x0), w1 = Signed512(x1);
                Vector512<byte> u0 = Avx512BW.Abs(w0), u1 = Avx512BW.Abs(w1);
                Vector512<sbyte> n0 = Vector512.LessThan(w0, Vector512<sbyte>.Zero), n1 = Vector512.LessThan(w1, Vector512<sbyte>.Zero);
                Signed2(ref c00, ref c10, p0, u0, n0, u1, n1, d);
                if (np > 1) Signed2(ref c01, ref c11, p0 + ps, u0, n0, u1, n1, d + 2);
                if (np > 2) Signed2(ref c02, ref c12, p0 + 2 * ps, u0, n0, u1, n1, d + 4);
                if (np > 3) Signed2(ref c03, ref c13, p0 + 3 * ps, u0, n0, u1, n1, d + 6);
                if (np > 4) Signed2(ref c04, ref c14, p4, u0, n0, u1, n1, d + 8);
                if (np > 5) Signed2(ref c05, ref c15, p4 + ps, u0, n0, u1, n1, d + 10);
                if (np > 6) Signed2(ref c06, ref c16, p4 + 2 * ps, u0, n0, u1, n1, d + 12);
                if (np > 7) Signed2(ref c07, ref c17, p4 + 3 * ps, u0, n0, u1, n1, d + 14);
            }
            else
            {
                Vector512<byte> u0 = Unsigned512<T>(x0), u1 = Unsigned512<T>(x1);
                Unsigned2(ref c00, ref c10, p0, u0, u1, d);
                if (np > 1) Unsigned2(ref c01, ref c11, p0 + ps, u0, u1, d + 2);
                if (np > 2) Unsigned2(ref c02, ref c12, p0 + 2 * ps, u0, u1, d + 4);
                if (np > 3) Unsigned2(ref c03, ref c13, p0 + 3 * ps, u0, u1, d + 6);
                if (np > 4) Unsigned2(ref c04, ref c14, p4, u0, u1, d + 8);
                if (np > 5) Unsigned2(ref c05, ref c15, p4 + ps, u0, u1, d + 10);
                if (np > 6) Unsigned2(ref c06, ref c16, p4 + 2 * ps, u0, u1, d + 12);
                if (np > 7) Unsigned2(ref c07, ref c17, p4 + 3 * ps, u0, u1, d + 14);
            }
        }
        // (unused accumulators are zero; their results land in r0 / r1 past 2 * np and are not read)
        Reduce(np, c00, c01, c02, c03, c04, c05, c06, c07, r0);
        Reduce(np, c10, c11, c12, c13, c14, c15, c16, c17, r1);
    }

    /// <summary>
    /// ggml's hsum of every token of up to eight interleaved accumulators (tokens 2k, 2k+1 in accumulator k), written
    /// to r[0 .. 2 * np) (r holds 16 floats; up to np = 4 only r[0..7] is written).
    /// </summary>
    /// <remarks>
    /// Per token, ggml adds the upper four lanes to the lower four (s_i = l_i + l_{i+4}), then (s_0 + s_2) + (s_1 + s_3).
    /// The same additions, operand for operand, run here on all the tokens at once: the lane halves of two accumulators
    /// are added in one register, then the s_0 / s_2 and s_1 / s_3 pairs of four accumulators, then the two partial sums.
    /// Replaces a permute and two scalar hsums per accumulator.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Reduce(int np, Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        Vector512<float> a4, Vector512<float> a5, Vector512<float> a6, Vector512<float> a7, float* r)
    {
        Vector512<int> gather = Vector512.Create(0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29);
        Vector512<float> w0 = Finish(Halves(Fold(a0, a1), Fold(a2, a3)));
        if (np <= 4)
        {
            Avx512F.PermuteVar16x32(w0, gather).GetLower().Store(r);
            return;
        }
        Vector512<float> w1 = Finish(Halves(Fold(a4, a5), Fold(a6, a7)));
        Avx512F.PermuteVar16x32x2(w0, gather, w1).Store(r);
    }

    /// <summary>[lower 256 bits of a + upper 256 bits of a | the same for b]: s_i = l_i + l_{i+4} of a's and b's tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Fold(Vector512<float> a, Vector512<float> b) =>
        Avx512F.Shuffle4x128(a, b, 0x44) + Avx512F.Shuffle4x128(a, b, 0xEE);

    /// <summary>Per 128-bit lane (one accumulator, taken from two folds): (s_0 + s_2, s_0 + s_2, s_1 + s_3, s_1 + s_3) of
    /// its two tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Halves(Vector512<float> x, Vector512<float> y) =>
        Avx512F.Shuffle4x128(x, y, 0x88) + Avx512F.Shuffle4x128(x, y, 0xDD);

    /// <summary>Per 128-bit lane: the two tokens' (s_0 + s_2) + (s_1 + s_3) in its first two floats.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Finish(Vector512<float> z) => z + Avx512F.Permute4x32(z, 0x4E);

    /// <summary>The pair's d_w * d_a (two floats at <paramref name="d"/>) repeated over the register.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> PairScale(float* d) => Vector512.Create(*(double*)d).AsSingle();

    /// <summary>One token pair, two rows of signed (Q8_0) weights given as |w| and w &lt; 0; row scales at d and d + 16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Signed2(ref Vector512<float> c0, ref Vector512<float> c1, byte* p,
        Vector512<byte> u0, Vector512<sbyte> n0, Vector512<byte> u1, Vector512<sbyte> n1, float* d)
    {
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p), na = Vector512.LoadAligned((sbyte*)(p + 64));
        // BlendVariable keeps the sign masks in mask registers (one vpblendmb per row); ConditionalSelect went through a
        // vector mask and a ternary op plus a copy.
        Vector512<int> s0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u0, Avx512BW.BlendVariable(a, na, n0)), Vector512<short>.One);
        Vector512<int> s1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u1, Avx512BW.BlendVariable(a, na, n1)), Vector512<short>.One);
        c0 = Avx512F.FusedMultiplyAdd(PairScale(d), Vector512.ConvertToSingle(s0), c0);
        c1 = Avx512F.FusedMultiplyAdd(PairScale(d + 16), Vector512.ConvertToSingle(s1), c1);
    }

    /// <summary>One token pair, two rows of offset (Q4_0 / Q5_0) weights given as their stored unsigned values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unsigned2(ref Vector512<float> c0, ref Vector512<float> c1, byte* p, Vector512<byte> u0, Vector512<byte> u1, float* d)
    {
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p);
        Vector512<int> corr = Vector512.LoadAligned((int*)(p + 64));
        Vector512<int> s0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u0, a), Vector512<short>.One) - corr;
        Vector512<int> s1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u1, a), Vector512<short>.One) - corr;
        c0 = Avx512F.FusedMultiplyAdd(PairScale(d), Vector512.ConvertToSingle(s0), c0);
        c1 = Avx512F.FusedMultiplyAdd(PairScale(d + 16), Vector512.ConvertToSingle(s1), c1);
    }

    /// <summary>A Q8_0 block's 32 values with every 4-byte group doubled (the interleaved pair layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<sbyte> Signed512(byte* blk) =>
        Avx512F.PermuteVar16x32(Vector256.Load((int*)(blk + 2)).ToVector512Unsafe(), Vector512.Create(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7)).AsSByte();

    /// <summary>A Q4_0 / Q5_0 block's 32 stored values (0..15 / 0..31) with every 4-byte group doubled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Unsigned512<T>(byte* blk)
    {
        bool five = LegacyDot.HasHighBit<T>();
        // Values 4l..4l+3 are the low nibbles of nibble bytes 4l..4l+3 for l < 4 and the high nibbles of bytes
        // 4(l-4).. for l >= 4: shuffle those bytes into place in every 128-bit lane, then shift the upper half down by 4.
        Vector512<byte> q = Avx512F.BroadcastVector128ToVector512((uint*)(blk + (five ? 6 : 2))).AsByte();
        Vector512<byte> g = Avx512BW.Shuffle(q, Vector512.Create(
            (byte)0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15,
            0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15));
        Vector512<ushort> shift = Simd.Join(Vector256<ushort>.Zero, Vector256.Create((ushort)4));
        Vector512<byte> v = Avx512BW.ShiftRightLogicalVariable(g.AsUInt16(), shift).AsByte() & Vector512.Create((byte)0x0F);
        if (!five)
            return v;
        // The fifth bit of value j is bit j of qh: rotate the qh word so that bit lands on bit 4 of each byte (VBMI
        // multishift picks, for every byte, the 8 bits starting at its control offset, wrapping around the 64-bit word).
        Vector512<ulong> qh = Vector512.Create((ulong)Unsafe.ReadUnaligned<uint>(blk + 2));
        Vector512<byte> h = Avx512Vbmi.MultiShift(HighBitControl, qh);
        return Avx512F.TernaryLogic(v, h, Vector512.Create((byte)0x10), 0xF8); // v | (h & 0x10)
    }

    /// <summary>Byte j (value 4l + j % 4 with l = j / 8, see <see cref="Unsigned512{T}"/>): that value's index - 4, mod 64.</summary>
    private static Vector512<byte> HighBitControl
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(
            (byte)60, 61, 62, 63, 60, 61, 62, 63, 0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7, 8, 9, 10, 11, 8, 9, 10, 11,
            12, 13, 14, 15, 12, 13, 14, 15, 16, 17, 18, 19, 16, 17, 18, 19, 20, 21, 22, 23, 20, 21, 22, 23, 24, 25, 26, 27, 24, 25, 26, 27);
    }
}

/// <summary>A token-pair count as a type, so <see cref="PrefillTileKernels.Dot{T, TPairs}"/> is specialized per count.</summary>
internal interface IPairCount
{
    static abstract int Count { get; }
}

internal struct OnePair : IPairCount
{
    public static int Count => 1;
}

internal struct TwoPairs : IPairCount
{
    public static int Count => 2;
}

internal struct ThreePairs : IPairCount
{
    public static int Count => 3;
}

internal struct FourPairs : IPairCount
{
    public static int Count => 4;
}

internal struct FivePairs : IPairCount
{
    public static int Count => 5;
}

internal struct SixPairs : IPairCount
{
    public static int Count => 6;
}

internal struct SevenPairs : IPairCount
{
    public static int Count => 7;
}

internal struct EightPairs : IPairCount
{
    public static int Count => 8;
}
