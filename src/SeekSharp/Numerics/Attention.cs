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
