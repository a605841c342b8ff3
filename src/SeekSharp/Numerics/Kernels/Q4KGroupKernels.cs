using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Prefill kernel for Q4_K weights on the 512-bit path: one weight row against a group of eight tokens whose Q8_K
/// activations were rearranged once per call (<see cref="BuildGroups"/>).
/// </summary>
/// <remarks>
/// ggml's Q4_K vec_dot keeps, per (row, token), eight float lanes fed once per 256-value super-block with
/// fma(d_y * d_w, float(integer lane sums), acc) and four float lanes fed with fma(-d_y * dmin_w, float(min terms), acc_m).
/// Those float operations are fixed by bit-identity; the integer sums are not, so this kernel computes them with fewer
/// instructions than <see cref="Q45KMulti"/>:
/// <list type="bullet">
/// <item>the activation chunks are stored in the order the weight nibbles come out of a 64-byte load, so every
/// multiply takes its activations straight from memory (no per-row 256-bit joins);</item>
/// <item>the pair sums of the block sums (what the min terms need) and the activation scales are precomputed per token,
/// already broadcast to the lanes that use them;</item>
/// <item>two tokens share one 512-bit float accumulator (eight lanes each) and four tokens share one min accumulator
/// (four lanes each), so the convert / multiply / FMA sequence runs once per two (four) tokens, with each lane seeing
/// exactly the operations of the single-token kernel;</item>
/// <item>the weight nibbles, scales and mins are unpacked once per super-block for all eight tokens.</item>
/// </list>
/// </remarks>
internal static unsafe class Q4KGroupKernels
{
    /// <summary>Tokens per group.</summary>
    public const int GroupTokens = 8;

    // Per super-block and group: 8 x 256 activation bytes, 2 x 64 bytes of pair sums (int16, tokens 0-3 then 4-7),
    // 4 x 64 bytes of d_y for the main lanes (tokens 2k and 2k+1, eight copies each), 2 x 64 bytes of -d_y for the
    // min lanes (tokens 0-3 then 4-7, four copies each).
    private const int QsBytes = GroupTokens * 256;
    private const int PairSumsOffset = QsBytes;
    private const int MainScaleOffset = PairSumsOffset + 128;
    private const int MinScaleOffset = MainScaleOffset + 256;

    /// <summary>Bytes per super-block per group in the rearranged layout.</summary>
    public const int GroupBlockBytes = MinScaleOffset + 128;

    /// <summary>True when the grouped kernel runs for <paramref name="n"/> tokens at vector width <paramref name="width"/>.</summary>
    public static bool Applies(int width, int n) => KernelSettings.GroupedKQuantPrefill && width >= 512 && n >= GroupTokens;

    /// <summary>
    /// Rearranges the Q8_K activation rows (ggml layout, <paramref name="actRow"/> bytes apart) of tokens
    /// 8g .. 8g+7 into group g of <paramref name="groups"/> for g in [<paramref name="firstGroup"/>, <paramref name="endGroup"/>).
    /// </summary>
    public static void BuildGroups(byte* act, long actRow, int nb, byte* groups, int firstGroup, int endGroup)
    {
        long groupStride = (long)nb * GroupBlockBytes;
        for (int g = firstGroup; g < endGroup; g++)
        {
            byte* dst = groups + g * groupStride;
            for (int b = 0; b < nb; b++, dst += GroupBlockBytes)
            {
                for (int t = 0; t < GroupTokens; t++)
                {
                    byte* y = act + (long)(GroupTokens * g + t) * actRow + (long)b * KQuant.Q8K;
                    byte* q = y + 4;
                    byte* o = dst + 256 * t;
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
                    short* bs = (short*)(y + 260);
                    short* ps = (short*)(dst + PairSumsOffset) + 8 * t;
                    for (int j = 0; j < 8; j++)
                        ps[j] = (short)(bs[2 * j] + bs[2 * j + 1]);

                    float d = KQuant.D(y);
                    Vector256.Store(Vector256.Create(d), (float*)(dst + MainScaleOffset) + 8 * t);
                    Vector128.Store(Vector128.Create(-d), (float*)(dst + MinScaleOffset) + 4 * t);
                }
            }
        }
    }

    /// <summary>One Q4_K weight row against one group of eight tokens: result[0..7].</summary>
    public static void DotGroup(byte* x, byte* group, int nb, float* result)
    {
        Vector512<float> acc01 = default, acc23 = default, acc45 = default, acc67 = default;
        Vector512<float> accm0 = default, accm1 = default;
        Vector512<byte> m4 = Vector512.Create((byte)0x0F);
        // vpermb indices: scale bytes of sub-blocks (0,2), (1,3), (4,6), (5,7), sixteen copies each, and the eight mins
        // four times over; zero-extended to 16-bit lanes below.
        Vector256<byte> idxA = Simd.Join(Vector128.Create((byte)0), Vector128.Create((byte)2));
        Vector256<byte> idxB = Simd.Join(Vector128.Create((byte)1), Vector128.Create((byte)3));
        Vector256<byte> idxC = Simd.Join(Vector128.Create((byte)4), Vector128.Create((byte)6));
        Vector256<byte> idxD = Simd.Join(Vector128.Create((byte)5), Vector128.Create((byte)7));
        Vector256<byte> idxM = Vector256.Create((byte)8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15,
            8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);

        for (int i = 0; i < nb; i++, x += 144, group += GroupBlockBytes)
        {
            float dw = Fp16.ToFloat(x), dmw = Fp16.ToFloat(x + 2);
            Vector256<byte> sm = ScalesMins(x + 4).ToVector256Unsafe();
            Vector512<short> sA = Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(sm, idxA)).AsInt16();
            Vector512<short> sB = Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(sm, idxB)).AsInt16();
            Vector512<short> sC = Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(sm, idxC)).AsInt16();
            Vector512<short> sD = Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(sm, idxD)).AsInt16();
            Vector512<short> mins = Avx512BW.ConvertToVector512Int16(Avx512Vbmi.VL.PermuteVar32x8(sm, idxM)).AsInt16();

            Vector512<byte> b0 = Vector512.Load(x + 16), b1 = Vector512.Load(x + 80);
            Vector512<byte> l0 = b0 & m4, h0 = Simd.Shr(b0, 4), l1 = b1 & m4, h1 = Simd.Shr(b1, 4);

            Vector512<int> s0 = Sums(group + 0 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s1 = Sums(group + 1 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc01 = Main(acc01, s0, s1, dw, group + MainScaleOffset);
            Vector512<int> s2 = Sums(group + 2 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s3 = Sums(group + 3 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc23 = Main(acc23, s2, s3, dw, group + MainScaleOffset + 64);
            Vector512<int> s4 = Sums(group + 4 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s5 = Sums(group + 5 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc45 = Main(acc45, s4, s5, dw, group + MainScaleOffset + 128);
            Vector512<int> s6 = Sums(group + 6 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            Vector512<int> s7 = Sums(group + 7 * 256, l0, h0, l1, h1, sA, sB, sC, sD);
            acc67 = Main(acc67, s6, s7, dw, group + MainScaleOffset + 192);

            // Min terms of four tokens per register: lane k of token t = m[2k]*p[2k] + m[2k+1]*p[2k+1].
            Vector512<float> vdm = Vector512.Create(dmw);
            accm0 = Avx512F.FusedMultiplyAdd(vdm * Vector512.LoadAligned((float*)(group + MinScaleOffset)),
                Vector512.ConvertToSingle(Simd.MAdd(mins, Vector512.LoadAligned((short*)(group + PairSumsOffset)))), accm0);
            accm1 = Avx512F.FusedMultiplyAdd(vdm * Vector512.LoadAligned((float*)(group + MinScaleOffset + 64)),
                Vector512.ConvertToSingle(Simd.MAdd(mins, Vector512.LoadAligned((short*)(group + PairSumsOffset + 64)))), accm1);
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

    /// <summary>acc += (d_w * d_y) * float(eight folded lane sums), for two tokens side by side.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Main(Vector512<float> acc, Vector512<int> sa, Vector512<int> sb, float dw, byte* dy)
    {
        // [lower half of sa | lower half of sb] + [upper half of sa | upper half of sb]: the eight ggml lanes per token.
        Vector512<int> folded = Avx512F.Shuffle4x128(sa, sb, 0x44) + Avx512F.Shuffle4x128(sa, sb, 0xEE);
        Vector512<float> d = Vector512.Create(dw) * Vector512.LoadAligned((float*)dy);
        return Avx512F.FusedMultiplyAdd(d, Vector512.ConvertToSingle(folded), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Vector256<float> acc, Vector128<float> accm, float* result) =>
        *result = Simd.HSum8(acc) + ((accm[0] + accm[2]) + (accm[1] + accm[3]));

    /// <summary>The eight 6-bit scales then the eight 6-bit mins of a Q4_K super-block (see <see cref="KQuant.ScalesMins"/>).</summary>
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
