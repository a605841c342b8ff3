using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Conversion;

/// <summary>
/// Reads a source tensor as rows of floats (a 2-D view: all outer dimensions × the innermost one), decoding
/// F32/F16/BF16/F64 exactly and FP8 E4M3 with its optional block scale (DeepSeek-V3's weight_scale_inv:
/// value = fp8 × scale_inv[row / blockRows, column / blockColumns]).
/// </summary>
internal sealed unsafe class SourceReader
{
    private readonly HfTensor _tensor;
    private readonly HfTensor? _scale;
    private readonly SourceReader? _scaleReader;
    private readonly int _blockRows, _blockCols;
    private readonly long _rowBytes;

    public SourceReader(HfTensor tensor, HfTensor? scale = null, int blockRows = 128, int blockCols = 128)
    {
        _tensor = tensor;
        var t = tensor.Info;
        if (t.DType is not (SafeTensorDType.F32 or SafeTensorDType.F16 or SafeTensorDType.BF16 or SafeTensorDType.F64 or SafeTensorDType.F8_E4M3))
            throw new NotSupportedException($"tensor '{t.Name}' has dtype {SafeTensorDTypes.Name(t.DType)}, which cannot be converted");
        if (t.Columns > int.MaxValue) throw new NotSupportedException($"tensor '{t.Name}' has rows longer than 2^31 values");
        _rowBytes = t.Columns * SafeTensorDTypes.Size(t.DType);
        if (scale != null)
        {
            if (t.DType != SafeTensorDType.F8_E4M3)
                throw new NotSupportedException($"tensor '{t.Name}' has a block scale but dtype {SafeTensorDTypes.Name(t.DType)}; only F8_E4M3 weights are block-scaled");
            if (blockRows <= 0 || blockCols <= 0) throw new InvalidDataException($"weight_block_size [{blockRows}, {blockCols}] must be positive");
            if (t.Shape.Length != 2) throw new InvalidDataException($"block-scaled tensor '{t.Name}' must be 2-D, is [{string.Join(", ", t.Shape)}]");
            long wantRows = (t.Shape[0] + blockRows - 1) / blockRows, wantCols = (t.Shape[1] + blockCols - 1) / blockCols;
            var s = scale.Info;
            if (s.Shape.Length != 2 || s.Shape[0] != wantRows || s.Shape[1] != wantCols)
                throw new InvalidDataException($"scale '{s.Name}' is [{string.Join(", ", s.Shape)}], expected [{wantRows}, {wantCols}] for [{t.Shape[0]}, {t.Shape[1]}] in {blockRows}×{blockCols} blocks");
            _scale = scale;
            _scaleReader = new SourceReader(scale);
            _blockRows = blockRows;
            _blockCols = blockCols;
        }
    }

    public string Name => _tensor.Name;
    public long[] Shape => _tensor.Shape;
    public long Rows => _tensor.Info.Rows;
    public int Columns => (int)_tensor.Info.Columns;
    public SafeTensorDType DType => _tensor.Info.DType;

    public void ReadRow(long row, Span<float> dst)
    {
        if ((ulong)row >= (ulong)Rows) throw new ArgumentOutOfRangeException(nameof(row));
        int n = Columns;
        dst = dst[..n];
        byte* p = _tensor.File.GetDataPointer(_tensor.Info) + row * _rowBytes;
        switch (_tensor.Info.DType)
        {
            case SafeTensorDType.F32:
                new ReadOnlySpan<float>(p, n).CopyTo(dst);
                break;
            case SafeTensorDType.F16:
                HalfPrecision.HalfToSingle(new ReadOnlySpan<ushort>(p, n), dst);
                break;
            case SafeTensorDType.BF16:
                HalfPrecision.BFloat16ToSingle(new ReadOnlySpan<ushort>(p, n), dst);
                break;
            case SafeTensorDType.F64:
            {
                var d = new ReadOnlySpan<double>(p, n);
                for (int i = 0; i < n; i++) dst[i] = (float)d[i];
                break;
            }
            case SafeTensorDType.F8_E4M3:
                Fp8E4M3.ToSingle(new ReadOnlySpan<byte>(p, n), dst);
                if (_scaleReader != null)
                {
                    Span<float> scales = _scaleReader.Columns <= 1024 ? stackalloc float[_scaleReader.Columns] : new float[_scaleReader.Columns];
                    _scaleReader.ReadRow(row / _blockRows, scales);
                    for (int i = 0; i < n; i++) dst[i] *= scales[i / _blockCols];
                }
                break;
        }
    }
}

/// <summary>Receives the rows of an output tensor, in order.</summary>
internal delegate void RowSink(ReadOnlySpan<float> row);

/// <summary>How one GGUF tensor's rows are made from the source tensors.</summary>
internal abstract class RowProducer
{
    /// <summary>GGUF row length (ggml dimension 0).</summary>
    public abstract int Columns { get; }
    public abstract void Produce(RowSink sink);
}

/// <summary>Rows of one source tensor, optionally reordered (Llama's Q/K "unpermute") or a sub-range.</summary>
internal sealed class MappedRows(SourceReader source, long rows, Func<long, long>? map = null) : RowProducer
{
    public override int Columns => source.Columns;

    public override void Produce(RowSink sink)
    {
        var buf = new float[source.Columns];
        for (long r = 0; r < rows; r++)
        {
            source.ReadRow(map is null ? r : map(r), buf);
            sink(buf);
        }
    }
}

/// <summary>A vector whose elements are reordered (Llama's Q/K biases).</summary>
internal sealed class PermutedVector(SourceReader source, Func<long, long> map) : RowProducer
{
    public override int Columns => source.Columns;

    public override void Produce(RowSink sink)
    {
        var src = new float[source.Columns];
        var dst = new float[source.Columns];
        source.ReadRow(0, src);
        for (int i = 0; i < dst.Length; i++) dst[i] = src[map(i)];
        sink(dst);
    }
}

/// <summary>Per-expert matrices stacked into one 3-D tensor (expert is the outermost dimension).</summary>
internal sealed class StackedRows(IReadOnlyList<SourceReader> experts) : RowProducer
{
    public override int Columns => experts[0].Columns;

    public override void Produce(RowSink sink)
    {
        var buf = new float[Columns];
        foreach (var e in experts)
            for (long r = 0; r < e.Rows; r++)
            {
                e.ReadRow(r, buf);
                sink(buf);
            }
    }
}

/// <summary>
/// DeepSeek MLA's attn_k_b: kv_b_proj viewed as [heads, nope + v, kv_lora], the first nope rows of each head,
/// transposed to [heads, kv_lora, nope]. Each head's block is read once and emitted column by column.
/// </summary>
internal sealed class TransposedHeadRows(SourceReader kvB, int heads, int nope, int v, int kvLora) : RowProducer
{
    public override int Columns => nope;

    public override void Produce(RowSink sink)
    {
        var block = new float[(long)nope * kvLora];
        var row = new float[nope];
        for (int h = 0; h < heads; h++)
        {
            for (int c = 0; c < nope; c++)
                kvB.ReadRow((long)h * (nope + v) + c, block.AsSpan(c * kvLora, kvLora));
            for (int r = 0; r < kvLora; r++)
            {
                for (int c = 0; c < nope; c++) row[c] = block[c * kvLora + r];
                sink(row);
            }
        }
    }
}

/// <summary>A tensor computed by the converter (Llama 3's rope_freqs).</summary>
internal sealed class ConstantRows(float[] values) : RowProducer
{
    public override int Columns => values.Length;
    public override void Produce(RowSink sink) => sink(values);
}
