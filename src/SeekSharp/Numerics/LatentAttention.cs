using System.Runtime.InteropServices;

namespace SeekSharp.Numerics;

/// <summary>
/// Attention of one query head over a latent (MLA) cache with f16 rows, in ggml's exact operation order. llama.cpp runs
/// absorbed MLA as plain matrix products on the f16 cache: scores = K·q with q rounded to f16, softmax, probabilities
/// rounded to f16, output = Vᵀ·p with V the first <c>valueLength</c> values of each row, transposed. Both products go
/// through ggml's f16 dot (one token: four 16-lane accumulators over 64-value steps) or, for a batch of tokens,
/// llamafile's tinyBLAS (one 16-lane accumulator); the cache length ggml attends over is padded with masked positions,
/// which contribute exact zeros, so padding the positions to a multiple of 64 with zeros reproduces its sums bit for bit.
/// </summary>
public static unsafe class LatentAttention
{
    /// <summary>Positions a head attends over once padded as ggml pads its KV length.</summary>
    public static int PaddedLength(int count) => (count + 63) & ~63;

    /// <summary>
    /// Copies the latent part (first <paramref name="valueLength"/> values) of rows 0..count-1 into
    /// <paramref name="vt"/>[d·stride + j], zero-filling positions count..stride-1 (stride = <see cref="PaddedLength"/>).
    /// </summary>
    public static void TransposeLatent(ReadOnlySpan<Half> rows, int rowStride, int valueLength, int count, Span<Half> vt)
    {
        int stride = PaddedLength(count);
        if (vt.Length < valueLength * stride) throw new ArgumentException("transposed latent buffer too small", nameof(vt));
        for (int d = 0; d < valueLength; d++)
        {
            var col = vt.Slice(d * stride, stride);
            for (int j = 0; j < count; j++) col[j] = rows[j * rowStride + d];
            col[count..].Clear();
        }
    }

    /// <param name="q">Query head: latent part then RoPE part, as the cached rows.</param>
    /// <param name="rows">Cached rows, <paramref name="rowStride"/> apart.</param>
    /// <param name="vt">Transposed latent from <see cref="TransposeLatent"/> over <paramref name="total"/> positions.</param>
    /// <param name="count">Positions this query attends (causal: 0..count-1), at most <paramref name="total"/>.</param>
    /// <param name="batched">True when llama.cpp evaluates the product for several tokens at once (tinyBLAS order).</param>
    /// <param name="scores">Scratch of at least <see cref="PaddedLength"/>(total) floats.</param>
    public static void HeadF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> rows, int rowStride, ReadOnlySpan<Half> vt, int total,
        int valueLength, int count, float scale, bool batched, Span<float> scores, Span<float> output) =>
        HeadF16(q, rows, rowStride, vt, PaddedLength(total), total, valueLength, count, scale, batched, scores, output);

    /// <summary>As above with the transposed values' columns <paramref name="vtStride"/> apart (at least
    /// <see cref="PaddedLength"/>(total)); each column's positions from <paramref name="total"/> to the padded length
    /// must hold zeros, as <see cref="TransposeLatent"/> leaves them.</summary>
    public static void HeadF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> rows, int rowStride, ReadOnlySpan<Half> vt, int vtStride,
        int total, int valueLength, int count, float scale, bool batched, Span<float> scores, Span<float> output)
    {
        int k = q.Length;
        if (k > Attention.MaxHeadLength) throw new ArgumentOutOfRangeException(nameof(q), "query head too long");
        int stride = PaddedLength(total);
        if (vtStride < stride || (long)(valueLength - 1) * vtStride + stride > vt.Length)
            throw new ArgumentException("transposed values too small", nameof(vt));
        if (scores.Length < stride) throw new ArgumentException("scores buffer too small", nameof(scores));
        int width = KernelSettings.Width;
        float* qf = stackalloc float[k];
        for (int i = 0; i < k; i++) qf[i] = (float)(Half)q[i];
        bool sgemmK = batched && k % 16 == 0;
        fixed (Half* r = rows)
        fixed (Half* v = vt)
        fixed (float* p = scores)
        {
            float* four = stackalloc float[4];
            int j = 0;
            if (sgemmK)
            {
                // Four keys per pass (independent FMA chains), each key's dot exactly SgemmDot.Dot's.
                for (; j + 4 <= count; j += 4)
                {
                    SgemmDot.Dot4Rows<Half, float>(r + (long)j * rowStride, rowStride, qf, k, width, four);
                    p[j] = four[0] * scale; p[j + 1] = four[1] * scale; p[j + 2] = four[2] * scale; p[j + 3] = four[3] * scale;
                }
            }
            for (; j < count; j++)
            {
                Half* row = r + (long)j * rowStride;
                float dot = sgemmK ? SgemmDot.Dot<Half, float>(row, qf, k, width) : FloatDot.Dot64<Half>(row, qf, k, width);
                p[j] = dot * scale;
            }
            // ggml's row spans the padded cache length: masked positions are exact zeros after the exp
            int row16 = (count + 15) & ~15;
            for (j = count; j < row16; j++) p[j] = float.NegativeInfinity;
            GgmlExp.SoftmaxInPlace(scores[..row16]);
            for (j = 0; j < count; j++) p[j] = (float)(Half)p[j];
            for (j = count; j < stride; j++) p[j] = 0f;
            int d = 0;
            if (batched)
            {
                for (; d + 4 <= valueLength; d += 4)
                {
                    SgemmDot.Dot4Rows<Half, float>(v + (long)d * vtStride, vtStride, p, stride, width, four);
                    output[d] = four[0]; output[d + 1] = four[1]; output[d + 2] = four[2]; output[d + 3] = four[3];
                }
            }
            for (; d < valueLength; d++)
            {
                Half* col = v + (long)d * vtStride;
                output[d] = batched ? SgemmDot.Dot<Half, float>(col, p, stride, width) : FloatDot.Dot64<Half>(col, p, stride, width);
            }
        }
    }
}
