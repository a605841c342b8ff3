namespace SeekSharp.Gguf;

/// <summary>A tensor's header entry. <see cref="Dimensions"/> are in ggml order: element 0 is the innermost
/// (contiguous) dimension, so a matrix of R rows × C columns has Dimensions = [C, R].</summary>
public sealed class GgufTensorInfo
{
    public GgufTensorInfo(string name, GgmlType type, long[] dimensions, ulong offset, long byteSize)
    {
        Name = name;
        Type = type;
        Dimensions = dimensions;
        Offset = offset;
        ByteSize = byteSize;
    }

    public string Name { get; }
    public GgmlType Type { get; }
    public long[] Dimensions { get; }

    /// <summary>Offset of the tensor's data relative to the start of the file's data section.</summary>
    public ulong Offset { get; }

    public long ByteSize { get; }

    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Dimensions) n *= d;
            return n;
        }
    }

    /// <summary>Length of one row (dimension 0).</summary>
    public long Columns => Dimensions.Length > 0 ? Dimensions[0] : 1;

    /// <summary>Number of rows: the product of all dimensions after the first.</summary>
    public long Rows => Dimensions.Length > 0 ? ElementCount / Math.Max(1, Dimensions[0]) : 1;

    public override string ToString() => $"{Name} {GgmlTypeInfo.Name(Type)} [{string.Join(", ", Dimensions)}]";
}
