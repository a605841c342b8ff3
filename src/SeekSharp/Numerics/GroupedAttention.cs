using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Numerics;

/// <summary>
/// Batched (prefill) attention of the query heads that share one key/value head over an f16 cache: the same results as
/// one <see cref="LatentAttention.HeadF16"/> call per query head with batched = true, bit for bit, but the group's key
/// rows and transposed values are widened to f32 once per (token, group) instead of once per query head (or, through
/// <see cref="Widen"/> and <see cref="Group"/>, once per batch: deepseek2's MLA has a single KV head for all tokens).
/// </summary>
/// <remarks>
/// The widening is exact, and the tinyBLAS-order dot reads f32 and f16 operands alike (each f16 value converted, then
/// the same FMAs), so dotting the widened copies gives the f16 dots' results. Grouped-query models share each KV head
/// among several query heads (Qwen2.5-0.5B: 7, R1-Distill-Qwen-1.5B: 6), which is where the conversions went.
/// </remarks>
public static unsafe class GroupedAttention
{
    [ThreadStatic] private static float[]? t_keys;
    [ThreadStatic] private static float[]? t_values;
    [ThreadStatic] private static ushort[]? t_halves;
    [ThreadStatic] private static float[]? t_queries;
    [ThreadStatic] private static float[]? t_probs;

    /// <summary>True when <see cref="GroupF16"/> reproduces <see cref="LatentAttention.HeadF16"/> (tinyBLAS order).</summary>
    public static bool Applies(int keyLength, bool batched) => batched && keyLength % 16 == 0;

    /// <param name="queries">The group's query heads, <paramref name="groupSize"/> x keyLength values.</param>
    /// <param name="rows">Cached key rows of this KV head, <paramref name="rowStride"/> apart.</param>
    /// <param name="vt">This KV head's transposed values, columns <paramref name="vtStride"/> apart.</param>
    /// <param name="total">Positions in the cache after this batch (the padded length ggml attends over).</param>
    /// <param name="count">Positions these queries attend (causal: 0..count-1).</param>
    /// <param name="outputs">The group's outputs, <paramref name="groupSize"/> x <paramref name="valueLength"/> values.</param>
    public static void GroupF16(ReadOnlySpan<float> queries, int groupSize, ReadOnlySpan<Half> rows, int rowStride,
        ReadOnlySpan<Half> vt, int vtStride, int total, int valueLength, int count, float scale, Span<float> scores, Span<float> outputs)
    {
        int k = queries.Length / groupSize;
        if (!Applies(k, batched: true)) throw new ArgumentException("key length must be a multiple of 16", nameof(queries));
        if (k > Attention.MaxHeadLength) throw new ArgumentOutOfRangeException(nameof(queries), "query head too long");
        int stride = LatentAttention.PaddedLength(total);
        if (count > total || (long)(count - 1) * rowStride + k > rows.Length) throw new ArgumentException("key rows too small", nameof(rows));
        if (vtStride < stride || (long)(valueLength - 1) * vtStride + stride > vt.Length)
            throw new ArgumentException("transposed values too small", nameof(vt));
        if (scores.Length < stride) throw new ArgumentException("scores buffer too small", nameof(scores));
        if (outputs.Length < groupSize * valueLength) throw new ArgumentException("outputs too small", nameof(outputs));

        float[] keys = Scratch(ref t_keys, count * k);
        float[] values = Scratch(ref t_values, valueLength * stride);
        Widen(rows, rowStride, k, count, vt, vtStride, valueLength, total, keys, values);
        Group(queries, groupSize, keys, values, total, valueLength, count, scale, scores, outputs);
    }

    /// <summary>
    /// The widening <see cref="GroupF16"/> does: key rows 0..<paramref name="count"/>-1 (<paramref name="keyLength"/>
    /// values each) into <paramref name="keys"/>[j * keyLength ..], and the transposed values' columns, over
    /// <see cref="LatentAttention.PaddedLength"/>(<paramref name="total"/>) positions, into
    /// <paramref name="values"/>[d * padded ..]. All queries of a batch read the same prefix of the cache, so a caller
    /// can widen once per batch (up to its last position) and run <see cref="Group"/> per token.
    /// </summary>
    public static void Widen(ReadOnlySpan<Half> rows, int rowStride, int keyLength, int count, ReadOnlySpan<Half> vt, int vtStride,
        int valueLength, int total, Span<float> keys, Span<float> values)
    {
        int stride = LatentAttention.PaddedLength(total);
        if (count > total || (count > 0 && (long)(count - 1) * rowStride + keyLength > rows.Length) || keys.Length < count * keyLength)
            throw new ArgumentException("key rows or buffer too small", nameof(rows));
        if (vtStride < stride || (long)(valueLength - 1) * vtStride + stride > vt.Length || values.Length < valueLength * stride)
            throw new ArgumentException("transposed values or buffer too small", nameof(vt));
        var rowBits = System.Runtime.InteropServices.MemoryMarshal.Cast<Half, ushort>(rows);
        var vtBits = System.Runtime.InteropServices.MemoryMarshal.Cast<Half, ushort>(vt);
        for (int j = 0; j < count; j++)
            HalfPrecision.HalfToSingle(rowBits.Slice(j * rowStride, keyLength), keys.Slice(j * keyLength, keyLength));
        for (int d = 0; d < valueLength; d++)
            HalfPrecision.HalfToSingle(vtBits.Slice(d * vtStride, stride), values.Slice(d * stride, stride));
    }

    /// <summary>
    /// <see cref="GroupF16"/> on keys and values already widened by <see cref="Widen"/> (for <paramref name="total"/>
    /// positions and at least <paramref name="count"/> key rows).
    /// </summary>
    public static void Group(ReadOnlySpan<float> queries, int groupSize, ReadOnlySpan<float> keys, ReadOnlySpan<float> values,
        int total, int valueLength, int count, float scale, Span<float> scores, Span<float> outputs)
    {
        int k = queries.Length / groupSize;
        if (!Applies(k, batched: true)) throw new ArgumentException("key length must be a multiple of 16", nameof(queries));
        if (k > Attention.MaxHeadLength) throw new ArgumentOutOfRangeException(nameof(queries), "query head too long");
        int stride = LatentAttention.PaddedLength(total);
        if (count > total || keys.Length < count * k) throw new ArgumentException("keys too small", nameof(keys));
        if (values.Length < valueLength * stride) throw new ArgumentException("values too small", nameof(values));
        if (scores.Length < stride) throw new ArgumentException("scores buffer too small", nameof(scores));
        if (outputs.Length < groupSize * valueLength) throw new ArgumentException("outputs too small", nameof(outputs));
        if (t_halves == null || t_halves.Length < Math.Max(stride, k)) t_halves = new ushort[Math.Max(Math.Max(stride, k), 4096)];
        Span<ushort> halves = t_halves;

        int width = KernelSettings.Width;
        // the queries rounded to f16 (ggml converts them to the cache's type), vectorized: the same rounding as the
        // scalar cast
        float[] qs = Scratch(ref t_queries, groupSize * k);
        for (int g = 0; g < groupSize; g++)
        {
            HalfPrecision.SingleToHalf(queries.Slice(g * k, k), halves[..k]);
            HalfPrecision.HalfToSingle(halves[..k], qs.AsSpan(g * k, k));
        }
        float[] probs = Scratch(ref t_probs, groupSize * stride);
        float* four = stackalloc float[4];
        float* sixteen = stackalloc float[16];
        // On the 512-bit path four heads at a time run against four key rows / value rows: each row chunk loaded from L2
        // serves four heads (the rows are shared by the whole group, the per-head vectors are small), and every output
        // keeps its own FMA chain and reduction, so results are those of the per-head loop below, bit for bit.
        int quads = width >= 512 ? groupSize / 4 * 4 : 0;
        fixed (float* kf = keys)
        fixed (float* vf = values)
        fixed (float* qf = qs)
        fixed (float* pf = probs)
        {
            for (int g = 0; g < quads; g += 4)
            {
                int j = 0;
                for (; j + 4 <= count; j += 4)
                {
                    Dot4x4(kf + (long)j * k, k, qf + (long)g * k, k, k, sixteen);
                    for (int h = 0; h < 4; h++)
                        for (int r = 0; r < 4; r++)
                            pf[(long)(g + h) * stride + j + r] = sixteen[4 * h + r] * scale;
                }
                for (; j < count; j++)
                    for (int h = 0; h < 4; h++)
                        pf[(long)(g + h) * stride + j] = SgemmDot.Dot<float, float>(kf + (long)j * k, qf + (long)(g + h) * k, k, width) * scale;
            }
            for (int g = quads; g < groupSize; g++)
            {
                float* p = pf + (long)g * stride;
                int j = 0;
                for (; j + 4 <= count; j += 4)
                {
                    SgemmDot.Dot4Rows<float, float>(kf + (long)j * k, k, qf + (long)g * k, k, width, four);
                    p[j] = four[0] * scale; p[j + 1] = four[1] * scale; p[j + 2] = four[2] * scale; p[j + 3] = four[3] * scale;
                }
                for (; j < count; j++)
                    p[j] = SgemmDot.Dot<float, float>(kf + (long)j * k, qf + (long)g * k, k, width) * scale;
            }

            for (int g = 0; g < groupSize; g++)
            {
                float* p = pf + (long)g * stride;
                var row = probs.AsSpan(g * stride, stride);
                // ggml's row spans the padded cache length: masked positions are exact zeros after the exp
                int row16 = (count + 15) & ~15;
                for (int j = count; j < row16; j++) p[j] = float.NegativeInfinity;
                GgmlExp.SoftmaxInPlace(row[..row16]);
                // probabilities rounded to f16 (round to nearest even, exactly as the scalar cast), vectorized
                HalfPrecision.SingleToHalf(row[..count], halves[..count]);
                HalfPrecision.HalfToSingle(halves[..count], row[..count]);
                for (int j = count; j < stride; j++) p[j] = 0f;
            }

            for (int g = 0; g < quads; g += 4)
            {
                int d = 0;
                for (; d + 4 <= valueLength; d += 4)
                {
                    Dot4x4(vf + (long)d * stride, stride, pf + (long)g * stride, stride, stride, sixteen);
                    for (int h = 0; h < 4; h++)
                        for (int r = 0; r < 4; r++)
                            outputs[(g + h) * valueLength + d + r] = sixteen[4 * h + r];
                }
                for (; d < valueLength; d++)
                    for (int h = 0; h < 4; h++)
                        outputs[(g + h) * valueLength + d] = SgemmDot.Dot<float, float>(vf + (long)d * stride, pf + (long)(g + h) * stride, stride, width);
            }
            for (int g = quads; g < groupSize; g++)
            {
                float* p = pf + (long)g * stride;
                var o = outputs.Slice(g * valueLength, valueLength);
                int d = 0;
                for (; d + 4 <= valueLength; d += 4)
                {
                    SgemmDot.Dot4Rows<float, float>(vf + (long)d * stride, stride, p, stride, width, four);
                    o[d] = four[0]; o[d + 1] = four[1]; o[d + 2] = four[2]; o[d + 3] = four[3];
                }
                for (; d < valueLength; d++)
                    o[d] = SgemmDot.Dot<float, float>(vf + (long)d * stride, p, stride, width);
            }
        }
    }

    /// <summary>
    /// Four rows (<paramref name="xStride"/> floats apart) against four vectors (<paramref name="yStride"/> apart):
    /// result[4h + r] = <see cref="SgemmDot.Dot{TW, TA}"/>(row r, vector h) on the 512-bit path, bit for bit (one
    /// 16-lane FMA chain per output, row operand first, then the same reduction).
    /// </summary>
    // Fully optimized at first call (no statics read): attention starts at full speed from the first token.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4x4(float* x, long xStride, float* y, long yStride, int n, float* result)
    {
        float* x0 = x, x1 = x0 + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        float* y0 = y, y1 = y0 + yStride, y2 = y1 + yStride, y3 = y2 + yStride;
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        for (int l = 0; l < n; l += 16)
        {
            Vector512<float> r0 = Vector512.Load(x0 + l), r1 = Vector512.Load(x1 + l), r2 = Vector512.Load(x2 + l), r3 = Vector512.Load(x3 + l);
            Vector512<float> v = Vector512.Load(y0 + l);
            a00 = Vector512.FusedMultiplyAdd(r0, v, a00); a01 = Vector512.FusedMultiplyAdd(r1, v, a01);
            a02 = Vector512.FusedMultiplyAdd(r2, v, a02); a03 = Vector512.FusedMultiplyAdd(r3, v, a03);
            v = Vector512.Load(y1 + l);
            a10 = Vector512.FusedMultiplyAdd(r0, v, a10); a11 = Vector512.FusedMultiplyAdd(r1, v, a11);
            a12 = Vector512.FusedMultiplyAdd(r2, v, a12); a13 = Vector512.FusedMultiplyAdd(r3, v, a13);
            v = Vector512.Load(y2 + l);
            a20 = Vector512.FusedMultiplyAdd(r0, v, a20); a21 = Vector512.FusedMultiplyAdd(r1, v, a21);
            a22 = Vector512.FusedMultiplyAdd(r2, v, a22); a23 = Vector512.FusedMultiplyAdd(r3, v, a23);
            v = Vector512.Load(y3 + l);
            a30 = Vector512.FusedMultiplyAdd(r0, v, a30); a31 = Vector512.FusedMultiplyAdd(r1, v, a31);
            a32 = Vector512.FusedMultiplyAdd(r2, v, a32); a33 = Vector512.FusedMultiplyAdd(r3, v, a33);
        }
        result[0] = FloatDot.Reduce16(a00); result[1] = FloatDot.Reduce16(a01); result[2] = FloatDot.Reduce16(a02); result[3] = FloatDot.Reduce16(a03);
        result[4] = FloatDot.Reduce16(a10); result[5] = FloatDot.Reduce16(a11); result[6] = FloatDot.Reduce16(a12); result[7] = FloatDot.Reduce16(a13);
        result[8] = FloatDot.Reduce16(a20); result[9] = FloatDot.Reduce16(a21); result[10] = FloatDot.Reduce16(a22); result[11] = FloatDot.Reduce16(a23);
        result[12] = FloatDot.Reduce16(a30); result[13] = FloatDot.Reduce16(a31); result[14] = FloatDot.Reduce16(a32); result[15] = FloatDot.Reduce16(a33);
    }

    private static float[] Scratch(ref float[]? buffer, int length)
    {
        if (buffer == null || buffer.Length < length) buffer = new float[Math.Max(length, 4096)];
        return buffer;
    }
}
