namespace SeekSharp.Numerics;

/// <summary>Softmax over a row, in place.</summary>
public static class Softmax
{
    /// <summary>x ← exp(x - max) / Σ exp(x - max). The sum is kept in double, as ggml does.</summary>
    public static void InPlace(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) if (v > max) max = v;
        double sum = 0;
        for (int i = 0; i < x.Length; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int i = 0; i < x.Length; i++) x[i] *= inv;
    }

    /// <summary>log Σ exp(x), stable; used for perplexity and log-probabilities.</summary>
    public static double LogSumExp(ReadOnlySpan<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) if (v > max) max = v;
        double sum = 0;
        foreach (float v in x) sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
