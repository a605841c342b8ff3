using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// Load-time weight repacking, as llama.cpp's default CPU backend does it. With repacking on (llama.cpp's default; its
/// <c>--no-repack</c> turns it off) ggml moves every Q4_0, Q4_K and Q2_K weight that feeds a matrix product (2-D mul_mat
/// weights and MoE expert stacks, whose height is a multiple of 8) into its CPU_REPACK buffer, interleaved by rows, and
/// multiplies it with kernels that take one exact integer dot and one float FMA per block (K-quants: per group of
/// sub-blocks, grouped differently for gemm and gemv), which rounds differently from the plain vec_dot kernels. A
/// packed <see cref="WeightMatrix"/> carries our own interleaved copy (<see cref="RepackedQ4_0"/>,
/// <see cref="RepackedQ4_K"/>; Q2_K's order needs none, <see cref="RepackedQ2_K"/>) and is multiplied in that order, so
/// logits match llama.cpp's default run bit for bit; unpacked matrices match <c>--no-repack</c>.
/// </summary>
public static unsafe class WeightPacking
{
    /// <summary>
    /// True for a weight llama.cpp's x86 (AVX-512) backend repacks: Q4_0, Q4_K or Q2_K with a height that is a multiple
    /// of 8.
    /// </summary>
    public static bool Applies(GgmlType type, int rows, int cols) =>
        rows > 0 && rows % 8 == 0 && cols > 0 &&
        (type == GgmlType.Q4_0 && cols % 32 == 0 || type is GgmlType.Q4_K or GgmlType.Q2_K && cols % 256 == 0);

    /// <summary>Rows per interleaved group of the packed form (the unit the products are split by).</summary>
    internal static int GroupRows(GgmlType type) => type switch
    {
        GgmlType.Q4_0 => RepackedQ4_0.GroupRows,
        GgmlType.Q4_K => RepackedQ4_K.GroupRows,
        _ => RepackedQ2_K.GroupRows,
    };

    internal static int Groups(GgmlType type, int rows) => (rows + GroupRows(type) - 1) / GroupRows(type);

    /// <summary>Bytes of the packed copy; 0 for Q2_K, whose repacked order runs on the plain rows.</summary>
    internal static long PackedBytes(GgmlType type, int rows, int cols) => type switch
    {
        GgmlType.Q4_0 => RepackedQ4_0.PackedBytes(rows, cols),
        GgmlType.Q4_K => RepackedQ4_K.PackedBytes(rows, cols),
        _ => 0,
    };

    /// <summary>Packs groups [<paramref name="groupStart"/>, <paramref name="groupEnd"/>) of the plain rows at <paramref name="src"/>.</summary>
    internal static void Pack(GgmlType type, byte* src, int rows, int cols, byte* dst, int groupStart, int groupEnd)
    {
        if (type == GgmlType.Q4_0)
            RepackedQ4_0.Pack(src, rows, cols, dst, groupStart, groupEnd);
        else
            RepackedQ4_K.Pack(src, rows, cols, dst, groupStart, groupEnd);
    }
}
