using System.Runtime.Intrinsics;

namespace SeekSharp.Numerics;

/// <summary>
/// Q2_K in llama.cpp's repacked order (its AVX-512 build repacks Q2_K weights of a height that is a multiple of 8 and
/// multiplies them with ggml_gemv/gemm_q2_K_8x8_q8_K). Per (row, token) and super-block it takes the exact integer sums
/// isum = sum_k sc_k * (q_k . a_k) and imin = sum_k m_k * bsum_k over a group of the 16 sub-blocks, then one FMA into
/// each of two accumulators: acc = fma(isum, fl(d * d_a), acc), accMin = fma(imin, fl(dmin * d_a), accMin); the result
/// is acc - accMin. gemv (decode, the last n % 4 tokens of a batch, MoE experts) takes all 16 sub-blocks as one group;
/// gemm (the first n - n % 4 tokens) takes sub-blocks 0-7 and 8-15 as two. The order is pinned against the native
/// library in RepackOrderTests. The arithmetic needs no interleaving, so the rows stay as they are in the file: the
/// "packed" matrix is the plain one, and groups of <see cref="GroupRows"/> rows are only the unit of work.
/// </summary>
internal static unsafe class RepackedQ2_K
{
    public const int GroupRows = 8;
    private const int BlockBytes = 84; // scales[16] (low nibble: scale, high: min), qs[64], d, dmin

    /// <summary>
    /// y[t * yStride + r] for t in [0, n) and r in [groupStart * 8, min(rows, groupEnd * 8)), activations as
    /// block_q8_K rows at act + t * actRow.
    /// </summary>
    public static void Multiply(byte* w, int rows, int cols, byte* act, long actRow, int n,
        float* y, long yStride, int groupStart, int groupEnd, bool gemmGrouping, int width)
    {
        long rowBytes = cols / 256 * BlockBytes;
        int r1 = Math.Min(rows, groupEnd * GroupRows);
        for (int r = groupStart * GroupRows; r < r1; r++)
            for (int t = 0; t < n; t++)
                y[t * yStride + r] = Dot(w + r * rowBytes, act + t * actRow, cols, gemmGrouping, width);
    }

    /// <summary>One row against one activation row in the repacked order.</summary>
    public static float Dot(byte* x, byte* y, int cols, bool gemmGrouping, int width)
    {
        int nb = cols / 256;
        float acc = 0f, accMin = 0f;
        int* mins = stackalloc int[8];
        byte* m = stackalloc byte[16];
        for (int i = 0; i < nb; i++, x += BlockBytes, y += KQuant.Q8K)
        {
            float da = KQuant.D(y);
            float d = Fp16.ToFloat(x + 80) * da, dmin = Fp16.ToFloat(x + 82) * da;
            // Mins: lane l = m[2l] * bsum[2l] + m[2l+1] * bsum[2l+1]; lanes 0-3 cover the first 128 values.
            for (int k = 0; k < 16; k++) m[k] = (byte)(x[k] >> 4);
            KQuant.WeightedBsums((sbyte*)m, (short*)(y + 260), mins);
            int min0 = mins[0] + mins[1] + mins[2] + mins[3], min1 = mins[4] + mins[5] + mins[6] + mins[7];
            (int sum0, int sum1) = HalfSums(x, y, width);
            if (gemmGrouping)
            {
                acc = MathF.FusedMultiplyAdd(sum0, d, acc);
                accMin = MathF.FusedMultiplyAdd(min0, dmin, accMin);
                acc = MathF.FusedMultiplyAdd(sum1, d, acc);
                accMin = MathF.FusedMultiplyAdd(min1, dmin, accMin);
            }
            else
            {
                acc = MathF.FusedMultiplyAdd(sum0 + sum1, d, acc);
                accMin = MathF.FusedMultiplyAdd(min0 + min1, dmin, accMin);
            }
        }
        return acc - accMin;
    }

    /// <summary>sum_k sc_k * (q_k . a_k) over the first and over the second 128 values of one super-block (exact).</summary>
    private static (int, int) HalfSums(byte* x, byte* y, int width)
    {
        if (width >= 512)
        {
            Vector512<int> s = Q2_KKernel.Sums512(x, y);
            return (Vector256.Sum(s.GetLower()), Vector256.Sum(s.GetUpper()));
        }
        if (width >= 256)
            return (Vector256.Sum(Q2_KKernel.Sums256(x, y, 0)), Vector256.Sum(Q2_KKernel.Sums256(x, y, 1)));
        if (width >= 128)
        {
            Q2_KKernel.Sums128(x, y, 0, out Vector128<int> a0, out Vector128<int> a1);
            Q2_KKernel.Sums128(x, y, 1, out Vector128<int> b0, out Vector128<int> b1);
            return (Vector128.Sum(a0 + a1), Vector128.Sum(b0 + b1));
        }
        byte* sc = x;
        byte* qs = x + 16;
        int h0 = 0, h1 = 0;
        sbyte* q8 = (sbyte*)(y + 4);
        for (int v = 0; v < 256; v++)
        {
            int q = (qs[32 * (v >> 7) + (v & 31)] >> (2 * ((v >> 5) & 3))) & 3;
            int p = (sc[v >> 4] & 15) * q * q8[v];
            if (v < 128) h0 += p; else h1 += p;
        }
        return (h0, h1);
    }
}
