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
}
