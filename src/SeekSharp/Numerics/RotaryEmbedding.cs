namespace SeekSharp.Numerics;

/// <summary>
/// Rotary position embedding (RoPE) with linear and YaRN frequency scaling, computed the way ggml computes it
/// (angles built by repeated multiplication in float, YaRN ramp and magnitude scale), so positions agree bit for bit
/// in the common case.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly int _dims;
    private readonly bool _neox;
    private readonly float _thetaScale;
    private readonly float _freqScale;
    private readonly float _extFactor;
    private readonly float _attnFactor;
    private readonly float _corrLow;
    private readonly float _corrHigh;
    private readonly float[]? _freqFactors;
    private readonly bool _fused;

    /// <param name="dims">Number of rotated dimensions (the rest of each head is left unchanged).</param>
    /// <param name="neox">NeoX layout (pairs i and i+dims/2) rather than adjacent pairs.</param>
    /// <param name="fused">Round as llama.cpp's FMA-capable CPU builds do: their compiler contracts the YaRN angle
    /// blend, the magnitude factor and the pair rotation into fused multiply-adds, so an unfused rotation is 1 ulp off
    /// in about 1% of the rotated values. Both layouts share ggml's one rotation routine (only the pair offset differs),
    /// so the NeoX layout is fused the same way; checked tensor by tensor against llama.cpp's graph.</param>
    public RotaryEmbedding(int dims, bool neox, float freqBase, float freqScale = 1f, float extFactor = 0f,
        float attnFactor = 1f, int originalContext = 0, float betaFast = 32f, float betaSlow = 1f, float[]? freqFactors = null,
        bool fused = false)
    {
        _fused = fused;
        if (freqFactors != null && freqFactors.Length < dims / 2)
            throw new ArgumentException($"rope frequency factors need {dims / 2} values, got {freqFactors.Length}");
        _freqFactors = freqFactors;
        if (dims <= 0 || dims % 2 != 0) throw new ArgumentException("rope dims must be positive and even", nameof(dims));
        _dims = dims;
        _neox = neox;
        _thetaScale = MathF.Pow(freqBase, -2.0f / dims);
        _freqScale = freqScale;
        _extFactor = extFactor;
        _attnFactor = attnFactor;
        (_corrLow, _corrHigh) = CorrectionDims(dims, originalContext, freqBase, betaFast, betaSlow);
    }

    public int Dimensions => _dims;

    private static (float, float) CorrectionDims(int dims, int nCtxOrig, float freqBase, float betaFast, float betaSlow)
    {
        if (nCtxOrig <= 0) return (0, 0);
        float CorrDim(float nRot) => dims * MathF.Log(nCtxOrig / (nRot * 2 * MathF.PI)) / (2 * MathF.Log(freqBase));
        float start = MathF.Floor(CorrDim(betaFast));
        float end = MathF.Ceiling(CorrDim(betaSlow));
        return (MathF.Max(0, start), MathF.Min(dims - 1, end));
    }

    /// <summary>Fills cos/sin tables (dims/2 entries each) for one position.</summary>
    public void ComputeAngles(int position, Span<float> cos, Span<float> sin)
    {
        float theta = position;
        for (int i0 = 0; i0 < _dims; i0 += 2)
        {
            // Llama 3.x stores per-frequency divisors (rope_freqs.weight) for its long-context scaling.
            float thetaExtrap = _freqFactors != null ? theta / _freqFactors[i0 / 2] : theta;
            float thetaInterp = _freqScale * thetaExtrap;
            float angle = thetaInterp;
            float mscale = _attnFactor;
            if (_extFactor != 0f)
            {
                float y = (i0 / 2 - _corrLow) / MathF.Max(0.001f, _corrHigh - _corrLow);
                float rampMix = (1 - MathF.Min(1, MathF.Max(0, y))) * _extFactor;
                if (_fused)
                {
                    // ggml: the interpolated share is one fused multiply-add onto the rounded extrapolated share
                    angle = MathF.FusedMultiplyAdd(thetaInterp, 1 - rampMix, thetaExtrap * rampMix);
                    mscale *= MathF.FusedMultiplyAdd(MathF.Log(1.0f / _freqScale), 0.1f, 1.0f);
                }
                else
                {
                    angle = thetaInterp * (1 - rampMix) + thetaExtrap * rampMix;
                    mscale *= 1.0f + 0.1f * MathF.Log(1.0f / _freqScale);
                }
            }
            cos[i0 / 2] = MathF.Cos(angle) * mscale;
            sin[i0 / 2] = MathF.Sin(angle) * mscale;
            theta *= _thetaScale;
        }
    }

    /// <summary>Rotates the first <see cref="Dimensions"/> values of every head in <paramref name="heads"/>
    /// (heads laid out back to back, <paramref name="headDim"/> values each) using precomputed angles.</summary>
    public void Apply(Span<float> heads, int headDim, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        int half = _dims / 2;
        for (int h = 0; h + headDim <= heads.Length; h += headDim)
        {
            var x = heads.Slice(h, headDim);
            if (_neox && _fused)
            {
                // pairs (i, i + half), rounded as the adjacent-pair case below
                for (int i = 0; i < half; i++)
                {
                    float x0 = x[i], x1 = x[i + half];
                    x[i] = MathF.FusedMultiplyAdd(x0, cos[i], -(x1 * sin[i]));
                    x[i + half] = MathF.FusedMultiplyAdd(x0, sin[i], x1 * cos[i]);
                }
            }
            else if (_neox)
            {
                for (int i = 0; i < half; i++)
                {
                    float x0 = x[i], x1 = x[i + half];
                    x[i] = x0 * cos[i] - x1 * sin[i];
                    x[i + half] = x0 * sin[i] + x1 * cos[i];
                }
            }
            else if (_fused)
            {
                // ggml's vectorised rotation: x0·cos − round(x1·sin) and x0·sin + round(x1·cos), each one fused op
                for (int i = 0; i < half; i++)
                {
                    float x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = MathF.FusedMultiplyAdd(x0, cos[i], -(x1 * sin[i]));
                    x[2 * i + 1] = MathF.FusedMultiplyAdd(x0, sin[i], x1 * cos[i]);
                }
            }
            else
            {
                for (int i = 0; i < half; i++)
                {
                    float x0 = x[2 * i], x1 = x[2 * i + 1];
                    x[2 * i] = x0 * cos[i] - x1 * sin[i];
                    x[2 * i + 1] = x0 * sin[i] + x1 * cos[i];
                }
            }
        }
    }
}
