namespace SeekSharp.Numerics;

/// <summary>Normalization layers.</summary>
public static class Normalization
{
    /// <summary>
    /// RMSNorm of one row: y = x / sqrt(mean(x²) + eps) * weight. The sum of squares is accumulated in double and the
    /// scale applied before the weight, in the same order as ggml (rms_norm followed by mul), so results track llama.cpp.
    /// <paramref name="y"/> may alias <paramref name="x"/>.
    /// </summary>
    public static void RmsNorm(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, float eps)
    {
        float scale = RmsScale(x, eps);
        for (int i = 0; i < x.Length; i++) y[i] = x[i] * scale * weight[i];
    }

    /// <summary>RMSNorm without a weight (used by the backward pass and by per-head norms that reuse one weight).</summary>
    public static float RmsScale(ReadOnlySpan<float> x, float eps)
    {
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float sq = x[i] * x[i];
            sum += sq;
        }
        float mean = (float)(sum / x.Length);
        return 1.0f / MathF.Sqrt(mean + eps);
    }
}
