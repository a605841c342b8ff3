using System.Numerics.Tensors;

namespace SeekSharp.Numerics;

/// <summary>Scaled dot-product attention of one query head over cached keys/values (F32 cache); the head-length bound.</summary>
public static class Attention
{
    /// <summary>Longest head this code attends with: its per-head buffers live on the stack. Real models use at most
    /// a few hundred values per head (DeepSeek's MLA 576); hyperparameters above this are rejected at load.</summary>
    public const int MaxHeadLength = 4096;

    /// <summary>Attention of one query head over an F32 cache (no rounding anywhere). The F16 cache, llama.cpp's
    /// default, goes through <see cref="LatentAttention.HeadF16"/>, which follows ggml's f16 matrix products.</summary>
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
