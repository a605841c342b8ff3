using System.Buffers.Binary;
using System.Text;

namespace SeekSharp.Gguf;

/// <summary>
/// Builds a GGUF v3 file. Metadata keeps insertion order; tensors are laid out in the order added, each aligned.
/// <see cref="Write"/> writes to a temporary file beside the target, flushes it to disk and renames it over the
/// target, so readers never see a half-written model.
/// </summary>
public sealed class GgufWriter
{
    private readonly List<KeyValuePair<string, GgufValue>> _metadata = new();
    private readonly Dictionary<string, int> _metadataIndex = new(StringComparer.Ordinal);
    private readonly List<PendingTensor> _tensors = new();
    private readonly HashSet<string> _tensorNames = new(StringComparer.Ordinal);

    private sealed record PendingTensor(string Name, GgmlType Type, long[] Dimensions, long ByteSize, Action<Stream> WriteData);

    public int Alignment { get; private set; } = GgufFile.DefaultAlignment;

    public IReadOnlyList<KeyValuePair<string, GgufValue>> Metadata => _metadata;

    /// <summary>Adds or replaces a metadata entry (replacing keeps the original position).</summary>
    public GgufWriter Set(string key, GgufValue value)
    {
        ArgumentException.ThrowIfNullOrEmpty(key);
        if (key == "general.alignment")
        {
            uint a = value.Type == GgufValueType.UInt32 ? (uint)value.Value : throw new ArgumentException("general.alignment must be uint32");
            if (a == 0 || (a & (a - 1)) != 0) throw new ArgumentException("general.alignment must be a power of two");
            Alignment = (int)a;
        }
        if (_metadataIndex.TryGetValue(key, out int i)) _metadata[i] = new(key, value);
        else
        {
            _metadataIndex[key] = _metadata.Count;
            _metadata.Add(new(key, value));
        }
        return this;
    }

    public GgufWriter Set(string key, string value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, uint value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, int value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, float value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, bool value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, string[] value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, int[] value) => Set(key, GgufValue.Of(value));
    public GgufWriter Set(string key, float[] value) => Set(key, GgufValue.Of(value));

    public bool Remove(string key)
    {
        if (!_metadataIndex.Remove(key, out int i)) return false;
        _metadata.RemoveAt(i);
        for (int j = i; j < _metadata.Count; j++) _metadataIndex[_metadata[j].Key] = j;
        return true;
    }

    public bool TryGet(string key, out GgufValue value)
    {
        if (_metadataIndex.TryGetValue(key, out int i))
        {
            value = _metadata[i].Value;
            return true;
        }
        value = null!;
        return false;
    }

    /// <summary>Copies every metadata entry of an open file (for quantize and similar rewrites).</summary>
    public GgufWriter CopyMetadataFrom(GgufFile file)
    {
        foreach (var kv in file.Metadata) Set(kv.Key, kv.Value);
        return this;
    }

    /// <summary>Adds a tensor whose bytes are given in full.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, ReadOnlyMemory<byte> data)
    {
        long expected = ExpectedSize(name, type, dimensions);
        if (data.Length != expected)
            throw new ArgumentException($"tensor '{name}' needs {expected} bytes of {GgmlTypeInfo.Name(type)} data, got {data.Length}");
        return AddTensor(name, type, dimensions, s => s.Write(data.Span));
    }

    /// <summary>Adds a tensor whose bytes are produced while the file is written (so large models stream through).
    /// The callback must write exactly the tensor's byte size.</summary>
    public GgufWriter AddTensor(string name, GgmlType type, long[] dimensions, Action<Stream> writeData)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!_tensorNames.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
        long size = ExpectedSize(name, type, dimensions);
        _tensors.Add(new PendingTensor(name, type, (long[])dimensions.Clone(), size, writeData));
        return this;
    }

    private static long ExpectedSize(string name, GgmlType type, long[] dims)
    {
        if (dims.Length is 0 or > GgufFile.MaxDimensions)
            throw new ArgumentException($"tensor '{name}' must have 1 to {GgufFile.MaxDimensions} dimensions");
        long elements = 1;
        foreach (long d in dims)
        {
            if (d < 0) throw new ArgumentException($"tensor '{name}' has a negative dimension");
            elements = checked(elements * d);
        }
        int block = GgmlTypeInfo.BlockSize(type);
        if (dims[0] % block != 0)
            throw new ArgumentException($"tensor '{name}' row length {dims[0]} is not a multiple of the {GgmlTypeInfo.Name(type)} block size {block}");
        return checked(elements / block * GgmlTypeInfo.TypeSize(type));
    }

    /// <summary>Writes the file atomically: temp file in the same folder, fsync, rename over <paramref name="path"/>.</summary>
    public void Write(string path, IProgress<double>? progress = null)
    {
        string full = System.IO.Path.GetFullPath(path);
        string dir = System.IO.Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"output folder does not exist: {dir}");
        string temp = System.IO.Path.Combine(dir, $".{System.IO.Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                WriteTo(fs, progress);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Writes the whole GGUF image to a stream.</summary>
    public void WriteTo(Stream stream, IProgress<double>? progress = null)
    {
        var header = new MemoryStream();
        var buf = new byte[8];
        void U32(uint v) { BinaryPrimitives.WriteUInt32LittleEndian(buf, v); header.Write(buf, 0, 4); }
        void U64(ulong v) { BinaryPrimitives.WriteUInt64LittleEndian(buf, v); header.Write(buf, 0, 8); }

        U32(GgufFile.Magic);
        U32(3);
        U64((ulong)_tensors.Count);
        U64((ulong)_metadata.Count);
        foreach (var kv in _metadata)
        {
            WriteString(header, kv.Key);
            U32((uint)kv.Value.Type);
            WriteValue(header, kv.Value.Type, kv.Value.Value);
        }
        long offset = 0;
        var offsets = new long[_tensors.Count];
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            WriteString(header, t.Name);
            U32((uint)t.Dimensions.Length);
            foreach (long d in t.Dimensions) U64((ulong)d);
            U32((uint)t.Type);
            U64((ulong)offset);
            offsets[i] = offset;
            offset = GgufHeaderParser.AlignUp(offset + t.ByteSize, Alignment);
        }
        long headerLength = header.Length;
        long dataStart = GgufHeaderParser.AlignUp(headerLength, Alignment);
        header.Position = 0;
        header.CopyTo(stream);
        WritePadding(stream, dataStart - headerLength);

        long total = Math.Max(1, offset);
        long written = 0;
        for (int i = 0; i < _tensors.Count; i++)
        {
            var t = _tensors[i];
            var counter = new CountingStream(stream);
            t.WriteData(counter);
            if (counter.Count != t.ByteSize)
                throw new InvalidOperationException($"tensor '{t.Name}' wrote {counter.Count} bytes, expected {t.ByteSize}");
            long end = offsets[i] + t.ByteSize;
            long next = i + 1 < _tensors.Count ? offsets[i + 1] : GgufHeaderParser.AlignUp(end, Alignment);
            WritePadding(stream, next - end);
            written = next;
            progress?.Report((double)written / total);
        }
    }

    private static void WritePadding(Stream s, long n)
    {
        Span<byte> zeros = stackalloc byte[64];
        zeros.Clear();
        while (n > 0)
        {
            int k = (int)Math.Min(n, zeros.Length);
            s.Write(zeros[..k]);
            n -= k;
        }
    }

    private static void WriteString(Stream s, string value)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(value);
        Span<byte> len = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(len, (ulong)bytes.Length);
        s.Write(len);
        s.Write(bytes);
    }

    private static void WriteValue(Stream s, GgufValueType type, object value)
    {
        Span<byte> b = stackalloc byte[8];
        switch (type)
        {
            case GgufValueType.UInt8: s.WriteByte((byte)value); break;
            case GgufValueType.Int8: s.WriteByte((byte)(sbyte)value); break;
            case GgufValueType.UInt16: BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value); s.Write(b[..2]); break;
            case GgufValueType.Int16: BinaryPrimitives.WriteInt16LittleEndian(b, (short)value); s.Write(b[..2]); break;
            case GgufValueType.UInt32: BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)value); s.Write(b[..4]); break;
            case GgufValueType.Int32: BinaryPrimitives.WriteInt32LittleEndian(b, (int)value); s.Write(b[..4]); break;
            case GgufValueType.Float32: BinaryPrimitives.WriteSingleLittleEndian(b, (float)value); s.Write(b[..4]); break;
            case GgufValueType.Bool: s.WriteByte((bool)value ? (byte)1 : (byte)0); break;
            case GgufValueType.String: WriteString(s, (string)value); break;
            case GgufValueType.UInt64: BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)value); s.Write(b); break;
            case GgufValueType.Int64: BinaryPrimitives.WriteInt64LittleEndian(b, (long)value); s.Write(b); break;
            case GgufValueType.Float64: BinaryPrimitives.WriteDoubleLittleEndian(b, (double)value); s.Write(b); break;
            case GgufValueType.Array:
            {
                var array = (GgufArray)value;
                BinaryPrimitives.WriteUInt32LittleEndian(b, (uint)array.ElementType);
                s.Write(b[..4]);
                BinaryPrimitives.WriteUInt64LittleEndian(b, (ulong)array.Count);
                s.Write(b);
                foreach (object item in array.Items) WriteValue(s, array.ElementType, item);
                break;
            }
            default: throw new ArgumentException($"cannot write metadata of type {type}");
        }
    }

    /// <summary>Pass-through stream that counts bytes, to check each tensor callback wrote exactly its size.</summary>
    private sealed class CountingStream(Stream inner) : Stream
    {
        public long Count { get; private set; }
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => Count; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            Count += buffer.Length;
        }
    }
}
