using System.Numerics.Tensors;

namespace SeekSharp.Numerics;

/// <summary>Element-wise activations.</summary>
public static class Activations
{
    /// <summary>SwiGLU: gate ← silu(gate) · up, with silu(x) = x / (1 + e^-x).</summary>
    public static void SwiGlu(Span<float> gate, ReadOnlySpan<float> up)
    {
        for (int i = 0; i < gate.Length; i++)
        {
            float g = gate[i];
            gate[i] = g / (1.0f + MathF.Exp(-g)) * up[i];
        }
    }

    /// <summary>y += x.</summary>
    public static void AddInPlace(Span<float> y, ReadOnlySpan<float> x) => TensorPrimitives.Add(y, x, y);
}
