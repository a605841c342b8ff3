using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// A row-major 2-D weight of <see cref="Rows"/> rows by <see cref="Cols"/> values stored in <see cref="Type"/>; row r
/// starts at <see cref="Data"/> + r * <see cref="RowBytes"/>. The memory (a mapped GGUF file, pinned or native memory)
/// must outlive the struct. A Q4_0 or Q4_K matrix may also carry <see cref="Packed"/>: the same rows interleaved at load
/// time (see <see cref="WeightPacking"/>), which <see cref="MatMul"/> then multiplies in llama.cpp's repacked order.
/// </summary>
public readonly unsafe struct WeightMatrix
{
    public WeightMatrix(GgmlType type, int rows, int cols, byte* data)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Type = type;
        Rows = rows;
        Cols = cols;
        RowBytes = GgmlTypeInfo.RowSize(type, cols);
        Data = data;
    }

    private WeightMatrix(in WeightMatrix rows, byte* packed)
    {
        this = rows;
        Packed = packed;
    }

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long RowBytes { get; }
    public byte* Data { get; }

    /// <summary>
    /// The rows interleaved as llama.cpp's CPU_REPACK buffer holds them (<see cref="WeightPacking"/>), or null.
    /// <see cref="Data"/> still holds the plain rows (row lookups, dequantization).
    /// </summary>
    public byte* Packed { get; }

    /// <summary>True when the matrix carries a packed copy (<see cref="Packed"/>).</summary>
    public bool IsPacked => Packed != null;

    /// <summary>This matrix with <paramref name="packed"/> as its interleaved copy.</summary>
    internal WeightMatrix WithPacked(byte* packed) => new(this, packed);

    /// <summary>The raw bytes of row <paramref name="r"/>.</summary>
    public ReadOnlySpan<byte> Row(int r)
    {
        if ((uint)r >= (uint)Rows)
            throw new ArgumentOutOfRangeException(nameof(r));
        return new ReadOnlySpan<byte>(Data + r * RowBytes, checked((int)RowBytes));
    }
}
