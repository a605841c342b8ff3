using System.Numerics.Tensors;

namespace SeekSharp.Numerics;

/// <summary>
/// Scaled dot-product attention of one query head over cached keys/values.
/// With an F16 cache the query and the probabilities are rounded to f16 before their dot products, exactly where
/// ggml converts them (its f16 matrix products take f16 on both sides), so scores track llama.cpp.
/// </summary>
public static class Attention
{
    /// <param name="q">Query head (keyLength values).</param>
    /// <param name="keys">Cache of keys; key j of this head starts at j*keyStride + headOffsetK.</param>
    /// <param name="count">Number of positions attended (0..count-1: causal mask applied by the caller's count).</param>
    /// <param name="scores">Scratch of at least <paramref name="count"/> floats.</param>
    /// <param name="scratch">Scratch of at least max(keyLength, valueLength) floats.</param>
    public static void HeadF16(ReadOnlySpan<float> q, ReadOnlySpan<Half> keys, int keyStride, int headOffsetK,
        ReadOnlySpan<Half> values, int valueStride, int headOffsetV, int valueLength, int count, float scale,
        Span<float> scores, Span<float> scratch, Span<float> output)
    {
        int keyLength = q.Length;
        Span<float> q16 = scratch[..keyLength];
        Span<Half> tmpHalf = stackalloc Half[Math.Max(keyLength, 1)];
        TensorPrimitives.ConvertToHalf(q, tmpHalf[..keyLength]);
        TensorPrimitives.ConvertToSingle(tmpHalf[..keyLength], q16);
        Span<float> kf = keyLength <= 512 ? stackalloc float[keyLength] : new float[keyLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(keys.Slice(j * keyStride + headOffsetK, keyLength), kf);
            scores[j] = TensorPrimitives.Dot(q16, kf) * scale;
        }
        var s = scores[..count];
        Softmax.InPlace(s);
        // probabilities rounded to f16, as ggml does before multiplying with an f16 V
        for (int j = 0; j < count; j++) s[j] = (float)(Half)s[j];
        output[..valueLength].Clear();
        Span<float> vf = valueLength <= 512 ? stackalloc float[valueLength] : new float[valueLength];
        for (int j = 0; j < count; j++)
        {
            TensorPrimitives.ConvertToSingle(values.Slice(j * valueStride + headOffsetV, valueLength), vf);
            TensorPrimitives.MultiplyAdd(vf, s[j], output[..valueLength], output[..valueLength]);
        }
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
