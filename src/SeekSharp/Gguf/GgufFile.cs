using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;

namespace SeekSharp.Gguf;

/// <summary>
/// A GGUF (v2/v3) file opened for reading. The file is memory-mapped: tensor data is exposed in place, never copied.
/// Every count, length and offset in the header is checked against the file size before it is used, so a truncated or
/// hostile file ends in a <see cref="GgufFormatException"/> naming the problem, never in a crash or a huge allocation.
/// </summary>
public sealed unsafe class GgufFile : IDisposable
{
    public const uint Magic = 0x46554747; // "GGUF" read as a little-endian uint32
    public const int DefaultAlignment = 32;
    public const int MaxDimensions = 4;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private byte* _base;
    private readonly long _length;
    private readonly void* _owned; // native copy when created from memory
    private readonly Dictionary<string, GgufValue> _metadata;
    private readonly List<string> _keyOrder;
    private readonly Dictionary<string, GgufTensorInfo> _tensorsByName;

    private GgufFile(string? path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, long length, void* owned)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _length = length;
        _owned = owned;
        var parsed = GgufHeaderParser.Parse(basePtr, length);
        Version = parsed.Version;
        Alignment = parsed.Alignment;
        DataOffset = parsed.DataOffset;
        _metadata = parsed.Metadata;
        _keyOrder = parsed.KeyOrder;
        Tensors = parsed.Tensors;
        _tensorsByName = parsed.Tensors.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Opens and memory-maps a GGUF file.</summary>
    public static GgufFile Open(string path)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            // A FileInfo of a symbolic link describes the link itself (its length is the target's path length)
            if (info.LinkTarget != null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
                info = target;
            if (!info.Exists) throw new FileNotFoundException($"model file not found: {path}", path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            throw new GgufFormatException($"invalid path '{path}': {e.Message}", e);
        }
        if (info.Length == 0) throw new GgufFormatException($"{path}: file is empty");

        MemoryMappedFile? map = null;
        MemoryMappedViewAccessor? view = null;
        byte* ptr = null;
        try
        {
            map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
            ptr += view.PointerOffset;
            return new GgufFile(path, map, view, ptr, info.Length, null);
        }
        catch (GgufFormatException e)
        {
            Release(view, map);
            throw new GgufFormatException($"{path}: {e.Message}", e);
        }
        catch
        {
            Release(view, map);
            throw;
        }
    }

    /// <summary>Parses a GGUF image held in memory (the bytes are copied to native memory so pointers stay valid).</summary>
    public static GgufFile FromMemory(ReadOnlySpan<byte> bytes)
    {
        void* copy = NativeMemory.AlignedAlloc((nuint)Math.Max(1, bytes.Length), 64);
        bytes.CopyTo(new Span<byte>(copy, bytes.Length));
        try
        {
            return new GgufFile(null, null, null, (byte*)copy, bytes.Length, copy);
        }
        catch
        {
            NativeMemory.AlignedFree(copy);
            throw;
        }
    }

    private static void Release(MemoryMappedViewAccessor? view, MemoryMappedFile? map)
    {
        if (view != null)
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
        }
        map?.Dispose();
    }

    public string? Path { get; }
    public uint Version { get; }
    public int Alignment { get; }

    /// <summary>File offset at which the data section (tensor data) begins.</summary>
    public long DataOffset { get; }

    public long FileSize => _length;

    public IReadOnlyList<GgufTensorInfo> Tensors { get; }

    /// <summary>Metadata in file order.</summary>
    public IEnumerable<KeyValuePair<string, GgufValue>> Metadata
    {
        get
        {
            foreach (string k in _keyOrder) yield return new(k, _metadata[k]);
        }
    }

    public int MetadataCount => _keyOrder.Count;

    public bool TryGetValue(string key, out GgufValue value) => _metadata.TryGetValue(key, out value!);

    public GgufValue GetValue(string key) =>
        _metadata.TryGetValue(key, out var v) ? v : throw new GgufFormatException($"missing metadata key '{key}'");

    public bool ContainsKey(string key) => _metadata.ContainsKey(key);

    public string GetString(string key) => GetValue(key).AsString();
    public string? GetStringOrNull(string key) => TryGetValue(key, out var v) ? v.AsString() : null;
    public long GetInt64(string key) => GetValue(key).AsInt64();
    public int GetInt32(string key) => GetValue(key).AsInt32();
    public int GetInt32(string key, int fallback) => TryGetValue(key, out var v) ? v.AsInt32() : fallback;
    public float GetSingle(string key) => GetValue(key).AsSingle();
    public float GetSingle(string key, float fallback) => TryGetValue(key, out var v) ? v.AsSingle() : fallback;
    public bool GetBool(string key, bool fallback) => TryGetValue(key, out var v) ? v.AsBool() : fallback;

    public bool TryGetTensor(string name, out GgufTensorInfo info) => _tensorsByName.TryGetValue(name, out info!);

    public GgufTensorInfo GetTensor(string name) =>
        _tensorsByName.TryGetValue(name, out var t) ? t : throw new GgufFormatException($"missing tensor '{name}'");

    /// <summary>Pointer to the first byte of a tensor's data (valid until the file is disposed).</summary>
    public byte* GetDataPointer(GgufTensorInfo tensor)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        return _base + DataOffset + (long)tensor.Offset;
    }

    /// <summary>
    /// Where the byte at <paramref name="pointer"/> (inside this file's data, e.g. from <see cref="GetDataPointer"/>)
    /// sits in the file, for positioned reads of the same bytes.
    /// </summary>
    public long FileOffsetOf(byte* pointer)
    {
        ObjectDisposedException.ThrowIf(_base == null, this);
        long offset = pointer - _base;
        if (offset < DataOffset || offset > _length)
            throw new ArgumentOutOfRangeException(nameof(pointer), "the pointer is not inside this file's data");
        return offset;
    }

    /// <summary>A tensor's data as a span (tensors of 2 GiB and more must use <see cref="GetDataPointer"/>).</summary>
    public ReadOnlySpan<byte> GetData(GgufTensorInfo tensor)
    {
        if (tensor.ByteSize > int.MaxValue)
            throw new NotSupportedException($"tensor '{tensor.Name}' is {tensor.ByteSize} bytes; use GetDataPointer");
        return new ReadOnlySpan<byte>(GetDataPointer(tensor), (int)tensor.ByteSize);
    }

    public void Dispose()
    {
        if (_base == null) return;
        _base = null;
        Release(_view, _map);
        if (_owned != null) NativeMemory.AlignedFree(_owned);
    }
}
