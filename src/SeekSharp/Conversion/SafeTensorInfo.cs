namespace SeekSharp.Conversion;

/// <summary>One tensor of a .safetensors file. <see cref="Shape"/> is in PyTorch order (outermost first);
/// <see cref="DataOffset"/> is relative to the start of the file.</summary>
public sealed record SafeTensorInfo(string Name, SafeTensorDType DType, long[] Shape, long DataOffset, long ByteLength)
{
    public long ElementCount
    {
        get
        {
            long n = 1;
            foreach (long d in Shape) n *= d;
            return n;
        }
    }

    /// <summary>Length of the innermost dimension (1 for a scalar).</summary>
    public long Columns => Shape.Length == 0 ? 1 : Shape[^1];

    /// <summary>Product of all dimensions but the innermost.</summary>
    public long Rows => Shape.Length == 0 || Shape[^1] == 0 ? (Shape.Length == 0 ? 1 : 0) : ElementCount / Shape[^1];

    public override string ToString() => $"{Name} {SafeTensorDTypes.Name(DType)} [{string.Join(", ", Shape)}]";
}
