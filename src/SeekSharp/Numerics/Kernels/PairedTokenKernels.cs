using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Prefill kernel for Q8_0 / Q4_0 / Q5_0 weights on the 512-bit path: two tokens share one 512-bit register.
/// </summary>
/// <remarks>
/// ggml's x86 vec_dot for these types keeps eight float lanes per (row, token) and, for every 32-value block in order,
/// adds (d_w * d_a) * (integer sum of four products) into each lane, then reduces the eight lanes. The single-token
/// 512-bit kernel packs two consecutive blocks of one token into a register, which forces two 256-bit FMAs per pair of
/// blocks. Here the two halves of a register hold the same block of two different tokens instead, so one 512-bit
/// sign/multiply/convert/FMA sequence advances two tokens by one block with each token's lanes seeing exactly the
/// operations of the single-token kernel (bit-identical results). The weight block is unpacked and its sign taken once
/// for eight tokens. The activations are first rearranged (see <see cref="BuildPairs"/>) so each step is one aligned
/// 64-byte load of the two tokens' quants plus one load of their two scales already widened to float.
/// With <see cref="KernelSettings.TiledPrefill"/> on (the default) and AVX-512 VBMI present, <see cref="MatMul"/> runs
/// the faster row-tiled kernels in <see cref="PrefillTileKernels"/> instead; this one remains the fallback.
/// </remarks>
internal static unsafe class PairedTokenKernels
{
    /// <summary>Bytes per block in the paired layout: 2 x 32 quants, then 8 copies of each token's scale as float.</summary>
    public const int PairBlockBytes = 128;

    public static bool Applies<TKernel>(int width) where TKernel : struct, IDotKernel =>
        KernelSettings.WidePrefill && width >= 512 && (typeof(TKernel) == typeof(Q8_0Kernel) || typeof(TKernel) == typeof(Q4_0Kernel) || typeof(TKernel) == typeof(Q5_0Kernel));

    /// <summary>
    /// Rearranges Q8_0 activation rows (ggml layout, <paramref name="actRow"/> bytes apart) of tokens 2p and 2p+1 into
    /// pair p of <paramref name="pairs"/>: per block, the 32 quants of each token, then each token's scale 8 times.
    /// </summary>
    public static void BuildPairs(byte* act, long actRow, int nb, byte* pairs, int firstPair, int endPair)
    {
        long pairStride = (long)nb * PairBlockBytes;
        for (int p = firstPair; p < endPair; p++)
        {
            byte* a0 = act + 2L * p * actRow, a1 = a0 + actRow;
            byte* dst = pairs + p * pairStride;
            for (int b = 0; b < nb; b++, a0 += 34, a1 += 34, dst += PairBlockBytes)
            {
                Vector256.Store(Vector256.Load(a0 + 2), dst);
                Vector256.Store(Vector256.Load(a1 + 2), dst + 32);
                Vector256.Store(Vector256.Create(Fp16.ToFloat(a0)), (float*)(dst + 64));
                Vector256.Store(Vector256.Create(Fp16.ToFloat(a1)), (float*)(dst + 96));
            }
        }
    }

    /// <summary>One weight row against four token pairs (eight tokens) in the paired layout; result[2p], result[2p+1].</summary>
    public static void Dot4Pairs<T>(byte* x, byte* pairs, long pairStride, int nb, float* result) where T : struct, IDotKernel
    {
        int bs = Size<T>();
        byte* p0 = pairs, p1 = pairs + pairStride, p2 = pairs + 2 * pairStride, p3 = pairs + 3 * pairStride;
        Vector512<float> acc0 = default, acc1 = default, acc2 = default, acc3 = default;
        for (int b = 0; b < nb; b++, x += bs, p0 += PairBlockBytes, p1 += PairBlockBytes, p2 += PairBlockBytes, p3 += PairBlockBytes)
        {
            Vector256<sbyte> w = LegacyMulti.Weights256<T>(x);
            Vector512<sbyte> ww = Vector512.Create(w, w);
            Vector512<byte> aw = Avx512BW.Abs(ww);
            Vector512<sbyte> neg = Vector512.LessThan(ww, Vector512<sbyte>.Zero);
            Vector512<float> dw = Vector512.Create(Fp16.ToFloat(x));
            acc0 = Step(acc0, p0, aw, neg, dw);
            acc1 = Step(acc1, p1, aw, neg, dw);
            acc2 = Step(acc2, p2, aw, neg, dw);
            acc3 = Step(acc3, p3, aw, neg, dw);
        }
        result[0] = Simd.HSum8(acc0.GetLower()); result[1] = Simd.HSum8(acc0.GetUpper());
        result[2] = Simd.HSum8(acc1.GetLower()); result[3] = Simd.HSum8(acc1.GetUpper());
        result[4] = Simd.HSum8(acc2.GetLower()); result[5] = Simd.HSum8(acc2.GetUpper());
        result[6] = Simd.HSum8(acc3.GetLower()); result[7] = Simd.HSum8(acc3.GetUpper());
    }

    /// <summary>One weight row against one token pair; result[0], result[1].</summary>
    public static void Dot1Pair<T>(byte* x, byte* pair, int nb, float* result) where T : struct, IDotKernel
    {
        int bs = Size<T>();
        Vector512<float> acc = default;
        for (int b = 0; b < nb; b++, x += bs, pair += PairBlockBytes)
        {
            Vector512<sbyte> ww = Vector512.Create(LegacyMulti.Weights256<T>(x), LegacyMulti.Weights256<T>(x));
            acc = Step(acc, pair, Avx512BW.Abs(ww), Vector512.LessThan(ww, Vector512<sbyte>.Zero), Vector512.Create(Fp16.ToFloat(x)));
        }
        result[0] = Simd.HSum8(acc.GetLower());
        result[1] = Simd.HSum8(acc.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Step(Vector512<float> acc, byte* p, Vector512<byte> aw, Vector512<sbyte> neg, Vector512<float> dw)
    {
        // Sign trick as in ggml: |w| * (a with w's sign), pairwise to int16 (no saturation for |values| <= 127), then
        // to int32 sums of four neighbours: lane l of each half covers values 4l..4l+3 of that token's block.
        Vector512<sbyte> a = Vector512.LoadAligned((sbyte*)p);
        Vector512<sbyte> sa = Vector512.ConditionalSelect(neg, -a, a);
        Vector512<float> sums = Vector512.ConvertToSingle(Simd.MAdd(Simd.MulPairs(aw, sa), Vector512<short>.One));
        Vector512<float> d = dw * Vector512.LoadAligned((float*)(p + 64)); // d_w * d_a, the product the single-token kernel forms
        return Avx512F.FusedMultiplyAdd(d, sums, acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Size<T>() => LegacyDot.Size<T>();
}
