using System.Buffers.Binary;
using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;

namespace SeekSharp.Conversion;

/// <summary>
/// A memory-mapped .safetensors file: an 8-byte little-endian header length, a JSON header mapping tensor names to
/// dtype, shape and [begin, end) byte offsets into the data that follows, then the data. Everything the header says
/// is checked against the file before any tensor is exposed, so a hostile file fails with a
/// <see cref="SafeTensorsFormatException"/> naming the file and the problem, never with an unbounded allocation or an
/// out-of-range read.
/// </summary>
public sealed unsafe class SafeTensorsFile : IDisposable
{
    /// <summary>The format's own limit on the JSON header (the reference implementation refuses larger ones).</summary>
    public const long MaxHeaderLength = 100L << 20;

    /// <summary>More dimensions than any model uses; bounds the work a hostile shape can ask for.</summary>
    public const int MaxRank = 8;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private GCHandle _pin;
    private byte* _base;
    private readonly long _length;
    private readonly Dictionary<string, SafeTensorInfo> _byName;

    public string Name { get; }
    public IReadOnlyList<SafeTensorInfo> Tensors { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public long FileSize => _length;

    private SafeTensorsFile(string name, byte* data, long length, MemoryMappedFile? map, MemoryMappedViewAccessor? view, GCHandle pin)
    {
        Name = name;
        _base = data;
        _length = length;
        _map = map;
        _view = view;
        _pin = pin;
        try
        {
            (Tensors, Metadata) = Parse(name, new ReadOnlySpan<byte>(data, (int)Math.Min(length, 8 + MaxHeaderLength)), length);
        }
        catch
        {
            Dispose();
            throw;
        }
        _byName = Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and memory-maps a .safetensors file.</summary>
    public static SafeTensorsFile Open(string path)
    {
        var info = new FileInfo(path);
        // A FileInfo of a symbolic link describes the link itself (Hugging Face caches are trees of links to blobs)
        if (info.LinkTarget != null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
            info = target;
        if (!info.Exists) throw new FileNotFoundException($"safetensors file not found: {path}", path);
        if (info.Length < 8) throw new SafeTensorsFormatException($"{path}: file is too short ({info.Length} bytes) to hold a safetensors header");
        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, info.Length, MemoryMappedFileAccess.Read);
            byte* p = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref p);
            p += view.PointerOffset;
            return new SafeTensorsFile(path, p, info.Length, map, view, default);
        }
        catch
        {
            view?.Dispose();
            map?.Dispose();
            throw;
        }
    }

    /// <summary>Parses an in-memory image (for tests and small files); the array is pinned until disposal.</summary>
    public static SafeTensorsFile FromMemory(byte[] image, string name = "<memory>")
    {
        if (image.Length < 8) throw new SafeTensorsFormatException($"{name}: file is too short ({image.Length} bytes) to hold a safetensors header");
        var pin = GCHandle.Alloc(image, GCHandleType.Pinned);
        return new SafeTensorsFile(name, (byte*)pin.AddrOfPinnedObject(), image.Length, null, null, pin);
    }

    public bool TryGetTensor(string name, out SafeTensorInfo info) => _byName.TryGetValue(name, out info!);

    public SafeTensorInfo GetTensor(string name) =>
        _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"{Name}: no tensor '{name}'");

    /// <summary>Pointer to a tensor's bytes (checked at open to lie inside the file).</summary>
    public byte* GetDataPointer(SafeTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        return _base + tensor.DataOffset;
    }

    /// <summary>A tensor's bytes (tensors over 2 GiB must be read through <see cref="GetDataPointer"/>).</summary>
    public ReadOnlySpan<byte> GetData(SafeTensorInfo tensor)
    {
        if (tensor.ByteLength > int.MaxValue) throw new NotSupportedException($"{Name}: tensor '{tensor.Name}' is over 2 GiB; read it in parts");
        return new ReadOnlySpan<byte>(GetDataPointer(tensor), (int)tensor.ByteLength);
    }

    private static (IReadOnlyList<SafeTensorInfo>, IReadOnlyDictionary<string, string>) Parse(string name, ReadOnlySpan<byte> prefix, long fileLength)
    {
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength < 2)
            throw new SafeTensorsFormatException($"{name}: header length {headerLength} is too small for a JSON object");
        if (headerLength > MaxHeaderLength)
            throw new SafeTensorsFormatException($"{name}: header length {headerLength} exceeds the {MaxHeaderLength}-byte limit");
        if ((long)headerLength > fileLength - 8)
            throw new SafeTensorsFormatException($"{name}: header length {headerLength} runs past the end of the {fileLength}-byte file");
        long dataStart = 8 + (long)headerLength;
        long dataLength = fileLength - dataStart;
        ReadOnlySpan<byte> json = prefix.Slice(8, (int)headerLength);

        if (!Utf8.IsValid(json))
            throw new SafeTensorsFormatException($"{name}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            // Real headers are two levels deep (name -> {dtype, shape, data_offsets}); a low limit stops nesting bombs.
            doc = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"{name}: header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException($"{name}: header must be a JSON object");
            var tensors = new List<SafeTensorInfo>();
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty p in doc.RootElement.EnumerateObject())
            {
                if (!seen.Add(p.Name))
                    throw new SafeTensorsFormatException($"{name}: duplicate header entry '{p.Name}'");
                if (p.Name == "__metadata__")
                {
                    if (p.Value.ValueKind != JsonValueKind.Object)
                        throw new SafeTensorsFormatException($"{name}: __metadata__ must be an object of strings");
                    foreach (JsonProperty m in p.Value.EnumerateObject())
                    {
                        if (m.Value.ValueKind != JsonValueKind.String)
                            throw new SafeTensorsFormatException($"{name}: __metadata__ entry '{m.Name}' is not a string");
                        metadata[m.Name] = m.Value.GetString()!;
                    }
                    continue;
                }
                tensors.Add(ParseTensor(name, p, dataStart, dataLength));
            }
            // Tensors may come in any order in the header but must not share bytes.
            var byOffset = tensors.Where(t => t.ByteLength > 0).OrderBy(t => t.DataOffset).ToList();
            for (int i = 1; i < byOffset.Count; i++)
            {
                var a = byOffset[i - 1];
                var b = byOffset[i];
                if (b.DataOffset < a.DataOffset + a.ByteLength)
                    throw new SafeTensorsFormatException($"{name}: tensors '{a.Name}' and '{b.Name}' overlap");
            }
            return (tensors, metadata);
        }
    }

    private static SafeTensorInfo ParseTensor(string file, JsonProperty p, long dataStart, long dataLength)
    {
        string tn = p.Name;
        SafeTensorsFormatException Bad(string what) => new($"{file}: tensor '{tn}': {what}");
        if (p.Value.ValueKind != JsonValueKind.Object) throw Bad("entry is not an object");
        JsonElement e = p.Value;
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String) throw Bad("missing dtype");
        string dtype = dt.GetString()!;
        if (!SafeTensorDTypes.TryParse(dtype, out var type)) throw Bad($"unknown dtype '{dtype}'");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array) throw Bad("missing shape");
        int rank = sh.GetArrayLength();
        if (rank > MaxRank) throw Bad($"rank {rank} exceeds {MaxRank}");
        var shape = new long[rank];
        long elements = 1;
        int i = 0;
        foreach (JsonElement d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out long v) || v < 0) throw Bad("shape entries must be non-negative integers");
            shape[i++] = v;
            try { elements = checked(elements * v); }
            catch (OverflowException) { throw Bad("shape is too large"); }
        }
        long bytes;
        try { bytes = checked(elements * SafeTensorDTypes.Size(type)); }
        catch (OverflowException) { throw Bad("shape is too large"); }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw Bad("data_offsets must be [begin, end]");
        long begin = -1, end = -1;
        int k = 0;
        foreach (JsonElement o in off.EnumerateArray())
        {
            if (o.ValueKind != JsonValueKind.Number || !o.TryGetInt64(out long v) || v < 0) throw Bad("data_offsets must be non-negative integers");
            if (k++ == 0) begin = v; else end = v;
        }
        if (end < begin) throw Bad($"data_offsets [{begin}, {end}] are reversed");
        if (end > dataLength) throw Bad($"data_offsets [{begin}, {end}] run past the {dataLength} bytes of data");
        if (end - begin != bytes) throw Bad($"holds {end - begin} bytes but {dtype}[{string.Join(", ", shape)}] needs {bytes}");
        return new SafeTensorInfo(tn, type, shape, dataStart + begin, bytes);
    }

    public void Dispose()
    {
        if (_view != null && _base != null) _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view?.Dispose();
        _map?.Dispose();
        if (_pin.IsAllocated) _pin.Free();
        _base = null;
    }
}
