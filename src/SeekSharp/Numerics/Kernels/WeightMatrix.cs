using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// A row-major 2-D weight of <see cref="Rows"/> rows by <see cref="Cols"/> values stored in <see cref="Type"/>; row r
/// starts at <see cref="Data"/> + r * <see cref="RowBytes"/>. The memory (a mapped GGUF file, pinned or native memory)
/// must outlive the struct.
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

    public GgmlType Type { get; }
    public int Rows { get; }
    public int Cols { get; }
    public long RowBytes { get; }
    public byte* Data { get; }

    /// <summary>The raw bytes of row <paramref name="r"/>.</summary>
    public ReadOnlySpan<byte> Row(int r)
    {
        if ((uint)r >= (uint)Rows)
            throw new ArgumentOutOfRangeException(nameof(r));
        return new ReadOnlySpan<byte>(Data + r * RowBytes, checked((int)RowBytes));
    }
}
