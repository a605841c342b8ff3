using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Row-tiled prefill kernels for Q8_0 / Q4_0 / Q5_0 weights on the 512-bit path: two weight rows against four token pairs
/// (eight tokens) per pass, two tokens per 512-bit register as in <see cref="PairedTokenKernels"/>.
/// </summary>
/// <remarks>
/// The float operations per (row, token) are exactly those of the single-token kernels: for every 32-value block in
/// order, lane l (l = 0..7) of the token's accumulator gets fma(d_w * d_a, (float)S_l, acc_l), where S_l is the exact
/// integer sum of the products of values 4l..4l+3; the eight lanes are reduced with ggml's hsum at the end. Only the
/// integer arithmetic that yields S_l differs, and integers are exact, so results are bit-identical:
/// <list type="bullet">
/// <item>Q8_0: ggml's sign trick |w| * (a with w's sign) needs -a per token; the tile layout stores -a next to a (built
/// once per call), so moving the sign costs one blend per (row, token pair) instead of a negate and a blend.</item>
/// <item>Q4_0 / Q5_0: the stored values u = w + 8 (or + 16) are small non-negative bytes, so u * a needs no sign trick
/// at all (pair sums stay far inside int16): S_l = sum(u * a) - off * sum(a) over the lane's four values, with
/// off * sum(a) precomputed per token in the tile layout.</item>
/// </list>
/// Each activation load serves two rows and each weight unpack serves four token pairs.
/// </remarks>
internal static unsafe class PrefillTileKernels
{
    /// <summary>
    /// Bytes per block in the tile layout: the two tokens' 32 quants (64 B), then either their negations (Q8_0 weights)
    /// or off * (lane sums of the quants) as 2 x 8 int32 (Q4_0 / Q5_0), then 8 copies of each token's scale as float.
    /// </summary>
    public const int TileBlockBytes = 192;

    /// <summary>True when the tiled kernels run for <typeparamref name="TKernel"/> at <paramref name="width"/>.</summary>
    public static bool Applies<TKernel>(int width) where TKernel : struct, IDotKernel =>
        KernelSettings.TiledPrefill && PairedTokenKernels.Applies<TKernel>(width) &&
        (typeof(TKernel) != typeof(Q5_0Kernel) || Avx512Vbmi.IsSupported);

    /// <summary>Offset making the stored Q4_0 / Q5_0 values signed (0 for Q8_0, whose bytes are already signed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Offset<T>() => typeof(T) == typeof(Q4_0Kernel) ? 8 : typeof(T) == typeof(Q5_0Kernel) ? 16 : 0;

    /// <summary>
    /// Rearranges Q8_0 activation rows (ggml layout, <paramref name="actRow"/> bytes apart) of tokens 2p and 2p+1 into
    /// pair p of <paramref name="tiles"/> (see <see cref="TileBlockBytes"/>) for weights of type <typeparamref name="T"/>.
    /// </summary>
    public static void BuildPairs<T>(byte* act, long actRow, int nb, byte* tiles, int firstPair, int endPair)
    {
        long pairStride = (long)nb * TileBlockBytes;
        int off = Offset<T>();
        for (int p = firstPair; p < endPair; p++)
        {
            byte* a0 = act + 2L * p * actRow, a1 = a0 + actRow;
            byte* dst = tiles + p * pairStride;
            for (int b = 0; b < nb; b++, a0 += 34, a1 += 34, dst += TileBlockBytes)
            {
                Vector256<sbyte> q0 = Vector256.Load((sbyte*)(a0 + 2)), q1 = Vector256.Load((sbyte*)(a1 + 2));
                q0.Store((sbyte*)dst);
                q1.Store((sbyte*)(dst + 32));
                if (off == 0)
                {
                    (-q0).Store((sbyte*)(dst + 64));
                    (-q1).Store((sbyte*)(dst + 96));
                }
                else
                {
                    (LaneSums(q0) * off).Store((int*)(dst + 64));
                    (LaneSums(q1) * off).Store((int*)(dst + 96));
                }
                Vector256.Store(Vector256.Create(Fp16.ToFloat(a0)), (float*)(dst + 128));
                Vector256.Store(Vector256.Create(Fp16.ToFloat(a1)), (float*)(dst + 160));
            }
        }
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

    /// <summary>
    /// Rows <paramref name="x0"/> and <paramref name="x1"/> against four token pairs of the tile layout starting at
    /// <paramref name="pairs"/>: r0[k] / r1[k] = row · token k (k = 0..7).
    /// </summary>
    public static void Dot2x4<T>(byte* x0, byte* x1, byte* pairs, long pairStride, int nb, float* r0, float* r1)
        where T : struct, IDotKernel
    {
        int bs = LegacyDot.Size<T>();
        byte* p0 = pairs, p1 = pairs + pairStride, p2 = pairs + 2 * pairStride, p3 = pairs + 3 * pairStride;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        for (int b = 0; b < nb; b++, x0 += bs, x1 += bs, p0 += TileBlockBytes, p1 += TileBlockBytes, p2 += TileBlockBytes, p3 += TileBlockBytes)
        {
            Vector512<float> dw0 = Vector512.Create(Fp16.ToFloat(x0)), dw1 = Vector512.Create(Fp16.ToFloat(x1));
            if (typeof(T) == typeof(Q8_0Kernel))
            {
                Vector512<sbyte> w0 = Avx512F.BroadcastVector256ToVector512((long*)(x0 + 2)).AsSByte();
                Vector512<sbyte> w1 = Avx512F.BroadcastVector256ToVector512((long*)(x1 + 2)).AsSByte();
                Vector512<byte> u0 = Avx512BW.Abs(w0), u1 = Avx512BW.Abs(w1);
                Vector512<sbyte> n0 = Vector512.LessThan(w0, Vector512<sbyte>.Zero), n1 = Vector512.LessThan(w1, Vector512<sbyte>.Zero);
                Signed2(ref c00, ref c10, p0, u0, n0, dw0, u1, n1, dw1);
                Signed2(ref c01, ref c11, p1, u0, n0, dw0, u1, n1, dw1);
                Signed2(ref c02, ref c12, p2, u0, n0, dw0, u1, n1, dw1);
                Signed2(ref c03, ref c13, p3, u0, n0, dw0, u1, n1, dw1);
            }
            else
            {
                Vector512<byte> u0 = Unsigned512<T>(x0), u1 = Unsigned512<T>(x1);
                Unsigned2(ref c00, ref c10, p0, u0, dw0, u1, dw1);
                Unsigned2(ref c01, ref c11, p1, u0, dw0, u1, dw1);
                Unsigned2(ref c02, ref c12, p2, u0, dw0, u1, dw1);
                Unsigned2(ref c03, ref c13, p3, u0, dw0, u1, dw1);
            }
        }
        Store(c00, r0); Store(c01, r0 + 2); Store(c02, r0 + 4); Store(c03, r0 + 6);
        Store(c10, r1); Store(c11, r1 + 2); Store(c12, r1 + 4); Store(c13, r1 + 6);
    }

    /// <summary>Rows <paramref name="x0"/> and <paramref name="x1"/> against one token pair: r0[0..1], r1[0..1].</summary>
    public static void Dot2x1<T>(byte* x0, byte* x1, byte* pair, int nb, float* r0, float* r1)
        where T : struct, IDotKernel
    {
        int bs = LegacyDot.Size<T>();
        Vector512<float> c0 = default, c1 = default;
        for (int b = 0; b < nb; b++, x0 += bs, x1 += bs, pair += TileBlockBytes)
        {
            Vector512<float> dw0 = Vector512.Create(Fp16.ToFloat(x0)), dw1 = Vector512.Create(Fp16.ToFloat(x1));
            if (typeof(T) == typeof(Q8_0Kernel))
            {
                Vector512<sbyte> w0 = Avx512F.BroadcastVector256ToVector512((long*)(x0 + 2)).AsSByte();
                Vector512<sbyte> w1 = Avx512F.BroadcastVector256ToVector512((long*)(x1 + 2)).AsSByte();
                Signed2(ref c0, ref c1, pair, Avx512BW.Abs(w0), Vector512.LessThan(w0, Vector512<sbyte>.Zero), dw0,
                    Avx512BW.Abs(w1), Vector512.LessThan(w1, Vector512<sbyte>.Zero), dw1);
            }
            else
                Unsigned2(ref c0, ref c1, pair, Unsigned512<T>(x0), dw0, Unsigned512<T>(x1), dw1);
        }
        Store(c0, r0);
        Store(c1, r1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> acc, float* r)
    {
        r[0] = Simd.HSum8(acc.GetLower());
        r[1] = Simd.HSum8(acc.GetUpper());
    }

    /// <summary>One token pair, two rows of signed (Q8_0) weights given as |w| and w &lt; 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Signed2(ref Vector512<float> c0, ref Vector512<float> c1, byte* p,
        Vector512<byte> u0, Vector512<sbyte> n0, Vector512<float> dw0, Vector512<byte> u1, Vector512<sbyte> n1, Vector512<float> dw1)
    {
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p), na = Vector512.LoadAligned((sbyte*)(p + 64));
        Vector512<float> da = Vector512.LoadAligned((float*)(p + 128));
        Vector512<int> s0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u0, Vector512.ConditionalSelect(n0, na, a)), Vector512<short>.One);
        Vector512<int> s1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u1, Vector512.ConditionalSelect(n1, na, a)), Vector512<short>.One);
        c0 = Avx512F.FusedMultiplyAdd(dw0 * da, Vector512.ConvertToSingle(s0), c0);
        c1 = Avx512F.FusedMultiplyAdd(dw1 * da, Vector512.ConvertToSingle(s1), c1);
    }

    /// <summary>One token pair, two rows of offset (Q4_0 / Q5_0) weights given as their stored unsigned values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unsigned2(ref Vector512<float> c0, ref Vector512<float> c1, byte* p,
        Vector512<byte> u0, Vector512<float> dw0, Vector512<byte> u1, Vector512<float> dw1)
    {
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p);
        Vector512<int> corr = Vector512.LoadAligned((int*)(p + 64));
        Vector512<float> da = Vector512.LoadAligned((float*)(p + 128));
        Vector512<int> s0 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u0, a), Vector512<short>.One) - corr;
        Vector512<int> s1 = Avx512BW.MultiplyAddAdjacent(Avx512BW.MultiplyAddAdjacent(u1, a), Vector512<short>.One) - corr;
        c0 = Avx512F.FusedMultiplyAdd(dw0 * da, Vector512.ConvertToSingle(s0), c0);
        c1 = Avx512F.FusedMultiplyAdd(dw1 * da, Vector512.ConvertToSingle(s1), c1);
    }

    /// <summary>A Q4_0 / Q5_0 block's 32 stored values (0..15 / 0..31) in value order, in both 256-bit halves.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<byte> Unsigned512<T>(byte* blk)
    {
        bool five = typeof(T) == typeof(Q5_0Kernel);
        // The 16 nibble bytes in all four 128-bit lanes; lanes 1 and 3 shift down by 4 to take the high nibbles
        // (values 16..31 of the block).
        Vector512<ushort> q = Avx512F.BroadcastVector128ToVector512((uint*)(blk + (five ? 6 : 2))).AsUInt16();
        Vector256<ushort> half = Simd.Join(Vector128<ushort>.Zero, Vector128.Create((ushort)4));
        Vector512<ushort> shift = Simd.Join(half, half);
        Vector512<byte> v = Avx512BW.ShiftRightLogicalVariable(q, shift).AsByte();
        if (!five)
            return v & Vector512.Create((byte)0x0F);
        // Fifth bit of value j is bit j of qh: rotate the qh word so that bit lands on bit 4 of byte j (VBMI multishift
        // picks, for every byte, the 8 bits starting at its control offset, wrapping around the 64-bit word).
        Vector512<ulong> qh = Vector512.Create((ulong)Unsafe.ReadUnaligned<uint>(blk + 2));
        Vector512<byte> h = Avx512Vbmi.MultiShift(HighBitControl, qh);
        // (v & 0x0F) | (h & 0x10) in one ternary op after the nibble mask (0xF8: A | (B & C)).
        return Avx512F.TernaryLogic(v & Vector512.Create((byte)0x0F), h, Vector512.Create((byte)0x10), 0xF8);
    }

    /// <summary>Byte j: (j mod 32) - 4, mod 64 (see <see cref="Unsigned512{T}"/>).</summary>
    private static Vector512<byte> HighBitControl
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => Vector512.Create(
            (byte)60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27,
            60, 61, 62, 63, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27);
    }
}
