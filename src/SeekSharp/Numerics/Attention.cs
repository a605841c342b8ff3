using System.Numerics.Tensors;

namespace SeekSharp.Numerics;

/// <summary>
/// Scaled dot-product attention of one query head over cached keys/values.
/// With an F16 cache the query and the probabilities are rounded to f16 before their dot products, exactly where
/// ggml converts them (its f16 matrix products take f16 on both sides), so scores track llama.cpp.
/// </summary>
public static class Attention
{
    /// <summary>Longest head this code attends with: its per-head buffers live on the stack. Real models use at most
    /// a few hundred values per head (DeepSeek's MLA 576); hyperparameters above this are rejected at load.</summary>
    public const int MaxHeadLength = 4096;

    /// <param name="q">Query head (keyLength values).</param>
    /// <param name="keys">Cache of keys; key j of this head starts at j*keyStride + headOffsetK.</param>
    /// <param name="count">Number of positions attended (0..count-1: causal mask applied by the caller's count).</param>
    /// <param name="scores">Scratch of at least <paramref name="count"/> floats.</param>
    public static void HeadF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> keys, int keyStride, int headOffsetK,
        ReadOnlySpan<Half> values, int valueStride, int headOffsetV, int valueLength, int count, float scale,
        Span<float> scores, Span<float> output)
    {
        int keyLength = q.Length;
        CheckHeadLength(keyLength, valueLength);
        Span<Half> q16 = stackalloc Half[keyLength];
        Span<float> qf = stackalloc float[keyLength];
        TensorPrimitives.ConvertToHalf(q, q16);
        TensorPrimitives.ConvertToSingle(q16, qf);
        Span<float> kf = stackalloc float[keyLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(keys.Slice(j * keyStride + headOffsetK, keyLength), kf);
            scores[j] = TensorPrimitives.Dot(qf, kf) * scale;
        }
        var s = scores[..count];
        Softmax.InPlace(s);
        // probabilities rounded to f16, as ggml does before multiplying with an f16 V
        for (int j = 0; j < count; j++) s[j] = (float)(Half)s[j];
        var o = output[..valueLength];
        o.Clear();
        Span<float> vf = stackalloc float[valueLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(values.Slice(j * valueStride + headOffsetV, valueLength), vf);
            TensorPrimitives.MultiplyAdd(vf, s[j], o, o);
        }
    }

    /// <summary>
    /// <see cref="HeadF16"/> for the <paramref name="groupSize"/> query heads that share one KV head (grouped-query
    /// attention): each cached key and value row is converted from f16 once for the whole group instead of once per
    /// query head. Every head sees exactly the operations of <see cref="HeadF16"/>, so the outputs are bit-identical.
    /// </summary>
    /// <param name="q">The group's query heads, contiguous (groupSize * keyLength values).</param>
    /// <param name="scores">Scratch of at least groupSize * <paramref name="count"/> floats.</param>
    /// <param name="output">The group's output heads, contiguous (groupSize * valueLength values).</param>
    public static void GroupF16(ReadOnlySpan<float> q, int groupSize, ReadOnlySpan<Half> keys, int keyStride, int headOffsetK,
        ReadOnlySpan<Half> values, int valueStride, int headOffsetV, int valueLength, int count, float scale,
        Span<float> scores, Span<float> output)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(groupSize, 1);
        int keyLength = q.Length / groupSize;
        CheckHeadLength(keyLength, valueLength);
        if (groupSize == 1 || (long)groupSize * (keyLength + 1) > MaxHeadLength)
        {
            // Large groups would not fit the stack buffers below; per-head is the same arithmetic.
            for (int h = 0; h < groupSize; h++)
                HeadF16(q.Slice(h * keyLength, keyLength), keys, keyStride, headOffsetK, values, valueStride, headOffsetV,
                    valueLength, count, scale, scores, output.Slice(h * valueLength, valueLength));
            return;
        }
        // Queries rounded to f16 once (as ggml converts them for its f16 K product).
        Span<float> qf = stackalloc float[groupSize * keyLength];
        Span<Half> q16 = stackalloc Half[keyLength];
        for (int h = 0; h < groupSize; h++)
        {
            TensorPrimitives.ConvertToHalf(q.Slice(h * keyLength, keyLength), q16);
            TensorPrimitives.ConvertToSingle(q16, qf.Slice(h * keyLength, keyLength));
        }
        Span<float> kf = stackalloc float[keyLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(keys.Slice(j * keyStride + headOffsetK, keyLength), kf);
            for (int h = 0; h < groupSize; h++)
                scores[h * count + j] = TensorPrimitives.Dot(qf.Slice(h * keyLength, keyLength), kf) * scale;
        }
        for (int h = 0; h < groupSize; h++)
        {
            var s = scores.Slice(h * count, count);
            Softmax.InPlace(s);
            for (int j = 0; j < count; j++) s[j] = (float)(Half)s[j];
            output.Slice(h * valueLength, valueLength).Clear();
        }
        Span<float> vf = stackalloc float[valueLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(values.Slice(j * valueStride + headOffsetV, valueLength), vf);
            for (int h = 0; h < groupSize; h++)
            {
                var o = output.Slice(h * valueLength, valueLength);
                TensorPrimitives.MultiplyAdd(vf, scores[h * count + j], o, o);
            }
        }
    }

    private static void CheckHeadLength(int keyLength, int valueLength)
    {
        if (keyLength > MaxHeadLength || valueLength > MaxHeadLength)
            throw new ArgumentOutOfRangeException(nameof(keyLength), $"attention heads longer than {MaxHeadLength} values are not supported");
    }

    /// <summary>Same as <see cref="HeadF16"/> for an F32 cache (no rounding anywhere).</summary>
    public static void HeadF32(ReadOnlySpan<float> q, ReadOnlySpan<float> keys, int keyStride, int headOffsetK,
        ReadOnlySpan<float> values, int valueStride, int headOffsetV, int valueLength, int count, float scale,
        Span<float> scores, Span<float> output)
    {
        int keyLength = q.Length;
        for (int j = 0; j < count; j++)
            scores[j] = TensorPrimitives.Dot(q, keys.Slice(j * keyStride + headOffsetK, keyLength)) * scale;
        var s = scores[..count];
        Softmax.InPlace(s);
        output[..valueLength].Clear();
        for (int j = 0; j < count; j++)
            TensorPrimitives.MultiplyAdd(values.Slice(j * valueStride + headOffsetV, valueLength), s[j], output[..valueLength], output[..valueLength]);
    }
}
