using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// Process-wide switches for the compute kernels. Tests lower <see cref="MaxVectorWidth"/> to force each code path
/// in-process; the DOTNET_EnableAVX512F=0 / DOTNET_EnableAVX2=0 environment variables lower the hardware width the same way.
/// </summary>
internal static class KernelSettings
{
    /// <summary>Widest vector path the kernels may use: 512, 256, 128 or 0 (scalar).</summary>
    public static volatile int MaxVectorWidth = 512;

    /// <summary>
    /// When false the 128-bit path uses only cross-platform <see cref="Vector128"/> operations (what ARM and other
    /// targets without SSSE3 run) instead of SSSE3 helpers, so that code is also tested on x86.
    /// </summary>
    public static volatile bool UseX86Helpers128 = true;

    /// <summary>
    /// When false, prefill uses the four-token kernels instead of the eight-token ones (the paired-token Q8_0/Q4_0/Q5_0
    /// kernel in <see cref="PairedTokenKernels"/> and the eight-chain float sgemm-order kernel); all are bit-identical,
    /// tests flip this to cover both.
    /// </summary>
    public static volatile bool WidePrefill = true;

    /// <summary>
    /// When true (and <see cref="WidePrefill"/> is on), the 512-bit Q8_0/Q4_0/Q5_0 prefill runs the row-tiled kernels in
    /// <see cref="PrefillTileKernels"/> (two weight rows x up to sixteen tokens per pass, activation negations or offset
    /// sums precomputed once per call; needs AVX-512 VBMI) instead of one row x eight tokens in
    /// <see cref="PairedTokenKernels"/>; bit-identical, tests flip this to cover both.
    /// </summary>
    public static volatile bool TiledPrefill = true;

    /// <summary>
    /// When true, the row-tiled prefill runs a token group of any pair count (one to eight) in one kernel call, and an odd
    /// last token as a pair with a copy of itself; when false, a group's pairs go eight, four, two, then one at a time
    /// and an odd last token runs through the single-token kernel (a MoE expert fed a dozen tokens then unpacks each
    /// weight block two or three times); bit-identical, tests flip this to cover both.
    /// </summary>
    public static volatile bool WholeGroupTiles = true;

    /// <summary>
    /// When true, grouped K-quant prefill (<see cref="KQuantGroups"/>) handles the tokens past the last full group of
    /// eight the cheap way: Q4_K / Q6_K leftovers run through the one-row decode kernels, and from five leftovers (Q5_K:
    /// two) they form a group padded with copies of the last token, whose results are dropped (one grouped pass costs
    /// about four fast one-row passes, and less than the four-token kernel on four tokens), so a MoE expert fed a dozen
    /// tokens no longer runs its last four through the four-token kernel; when false such tokens go through the
    /// four-token and single-token kernels; bit-identical, tests flip this to cover both.
    /// </summary>
    public static volatile bool PaddedKQuantGroups = true;

    /// <summary>
    /// When true, the row-tiled and grouped prefill kernels prefetch the next weight rows while they work on the current
    /// ones: a MoE expert's matrix is streamed from DRAM once per call with only a dozen tokens of work per weight byte,
    /// too little to hide the misses the hardware prefetcher leaves. No effect on results (A/B switch for measurements).
    /// </summary>
    public static volatile bool PrefetchTiles = true;

    /// <summary>
    /// When true, decode (one token) runs the two-row Q4_K/Q6_K kernels in <see cref="KQuantDecode"/> (one activation
    /// load per two rows: about 2x faster while the weights sit in cache, but two interleaved streams are slower than one
    /// once they come from DRAM, so it is off by default); bit-identical, tests flip this to cover both.
    /// </summary>
    public static volatile bool RowPairedDecode = false;

    /// <summary>
    /// When false, decode runs the generic one-row Q4_K/Q6_K kernels (<see cref="Q45K"/>, <see cref="Q6_KKernel"/>)
    /// instead of the register-only 512-bit ones in <see cref="KQuantDecode"/>; bit-identical, tests flip this.
    /// </summary>
    public static volatile bool FastKQuantDecode = true;

    /// <summary>
    /// When false, <see cref="MatMul.MultiplyShared(ReadOnlySpan{float}, int, Threading.WorkerPool, in WeightMatrix, Span{float}, in WeightMatrix, Span{float}, in WeightMatrix, Span{float})"/>
    /// makes separate <see cref="MatMul.Multiply"/> calls instead of one fused decode loop; tests flip this.
    /// </summary>
    public static volatile bool SharedDecode = true;

    /// <summary>
    /// When false, Q4_K / Q5_K / Q6_K prefill runs the four-token kernels (<see cref="Q45KMulti"/>, <see cref="Q6KMulti"/>) instead
    /// of the eight-token grouped ones in <see cref="KQuantGroups"/>; bit-identical, tests flip this to cover both.
    /// </summary>
    public static volatile bool GroupedKQuantPrefill = true;

    /// <summary>
    /// When false, decode runs the one-row Q4_0/Q5_0/Q8_0/Q4_1/Q5_1 kernels instead of the multi-row ones in
    /// <see cref="LegacyDecode"/> (four rows per pass over the activations); bit-identical, tests flip this.
    /// </summary>
    public static volatile bool MultiRowDecode = true;

    /// <summary>
    /// When false, Q6_K decode runs the one-row kernel (<see cref="KQuantDecode.Q6K1"/>) instead of the four-row one
    /// (<see cref="KQuantDecode.Q6K4"/>); bit-identical, tests flip this.
    /// </summary>
    public static volatile bool MultiRowKQuantDecode = true;

    /// <summary>
    /// When false, F16 decode runs <see cref="FloatDot.Dot64{T}"/> per row instead of four rows per pass
    /// (<see cref="FloatDot.Dot64Rows4{T}"/>: one activation load for four rows, next rows prefetched; single-thread
    /// 1.1-1.35x, except about 1.0x on 896-wide rows from DRAM); bit-identical, tests flip this. F32 always runs one row.
    /// </summary>
    public static volatile bool MultiRowFloatDecode = true;

    /// <summary>
    /// When false, DeepSeek2Transformer runs its per-head MLA products and per-expert MoE products as separate
    /// <see cref="MatMul.Multiply"/> calls instead of batched ones (<see cref="MatMul.MultiplyBatched"/>); bit-identical,
    /// tests flip this.
    /// </summary>
    public static volatile bool BatchedMatMul = true;

    /// <summary>The widest path this machine runs: 512 needs AVX-512 F+BW, 256 needs AVX2+FMA.</summary>
    public static int HardwareWidth { get; } =
        Vector512.IsHardwareAccelerated && Avx512F.IsSupported && Avx512BW.IsSupported && Fma.IsSupported ? 512 :
        Avx2.IsSupported && Fma.IsSupported ? 256 :
        Vector128.IsHardwareAccelerated ? 128 : 0;

    /// <summary>The path a kernel call takes now: the smaller of the hardware width and <see cref="MaxVectorWidth"/>.</summary>
    public static int Width
    {
        get
        {
            int max = MaxVectorWidth;
            int hw = HardwareWidth;
            int w = max < hw ? max : hw;
            return w >= 512 ? 512 : w >= 256 ? 256 : w >= 128 ? 128 : 0;
        }
    }
}
