using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// One weight type's row dot product: a weight row times an activation row already converted to
/// <see cref="DotType"/>. Implemented by empty structs so <see cref="MatMul"/> is specialized per type by the JIT and
/// the inner loop has no virtual dispatch.
/// </summary>
internal unsafe interface IDotKernel
{
    /// <summary>The activation format (ggml's vec_dot_type).</summary>
    static abstract GgmlType DotType { get; }

    /// <summary>Dot product of <paramref name="cols"/> values; <paramref name="width"/> picks the vector path (512/256/128/0).</summary>
    static abstract float Dot(byte* w, byte* a, int cols, int width);

    /// <summary>
    /// One weight row against four activation rows (<paramref name="a"/> + t * <paramref name="stride"/>), writing
    /// result[t]. Bit-identical to four <see cref="Dot"/> calls; types with a dedicated kernel unpack each weight block
    /// once for all four tokens (the prefill fast path).
    /// </summary>
    static abstract void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result);
}

/// <summary>Helpers for kernels without a dedicated multi-token path.</summary>
internal static unsafe class MultiDot
{
    public static void Each<TKernel>(byte* w, byte* a, long stride, int cols, int width, float* result)
        where TKernel : struct, IDotKernel
    {
        for (int t = 0; t < 4; t++)
            result[t] = TKernel.Dot(w, a + t * stride, cols, width);
    }
}
