using System.Buffers.Binary;
using System.Text;

namespace SeekSharp.Gguf;

/// <summary>
/// Bounds-checked parser of the GGUF header (metadata and tensor infos). Every length is validated against the bytes
/// that remain before anything is allocated, so the largest allocation is bounded by the file size.
/// </summary>
internal sealed unsafe class GgufHeaderParser
{
    private const int MaxArrayNesting = 8;

    internal sealed record Result(
        uint Version, int Alignment, long DataOffset,
        Dictionary<string, GgufValue> Metadata, List<string> KeyOrder, List<GgufTensorInfo> Tensors);

    private readonly byte* _p;
    private readonly long _length;
    private long _pos;

    private GgufHeaderParser(byte* p, long length)
    {
        _p = p;
        _length = length;
    }

    public static Result Parse(byte* p, long length) => new GgufHeaderParser(p, length).Run();

    private long Remaining => _length - _pos;

    private Result Run()
    {
        if (_length < 4) throw Error("file is too short to be GGUF (truncated header)");
        uint magic = ReadUInt32();
        if (magic != GgufFile.Magic)
            throw new GgufFormatException($"bad magic 0x{magic:X8}: not a GGUF file (expected 'GGUF')");
        if (Remaining < 4 + 8 + 8) throw Error("truncated header");
        uint version = ReadUInt32();
        if (version == 1) throw new GgufFormatException("GGUF version 1 is not supported (re-convert the model)");
        if ((version & 0xFFFF) == 0 && version != 0)
            throw new GgufFormatException($"big-endian GGUF (version field 0x{version:X8}) is not supported");
        if (version is not (2 or 3)) throw new GgufFormatException($"unsupported GGUF version {version}");

        ulong tensorCount = ReadUInt64();
        ulong kvCount = ReadUInt64();
        // Each metadata entry takes at least 8 (key length) + 4 (type) + 1 bytes, each tensor info at least 8+4+8+4+8.
        if (kvCount > (ulong)Remaining / 13)
            throw Error($"metadata count {kvCount} is impossible for a file of {_length} bytes");
        if (tensorCount > (ulong)Remaining / 32)
            throw Error($"tensor count {tensorCount} is impossible for a file of {_length} bytes");

        var metadata = new Dictionary<string, GgufValue>((int)kvCount, StringComparer.Ordinal);
        var order = new List<string>((int)kvCount);
        for (ulong i = 0; i < kvCount; i++)
        {
            long at = _pos;
            string key = ReadString();
            if (key.Length == 0) throw Error($"metadata entry {i} has an empty key", at);
            var type = (GgufValueType)ReadUInt32();
            GgufValue value = ReadValue(type, key, 0);
            if (!metadata.TryAdd(key, value)) throw Error($"duplicate metadata key '{key}'", at);
            order.Add(key);
        }

        int alignment = GgufFile.DefaultAlignment;
        if (metadata.TryGetValue("general.alignment", out var alignValue))
        {
            if (alignValue.Type != GgufValueType.UInt32)
                throw new GgufFormatException($"general.alignment must be a uint32, found {alignValue.Type}");
            uint a = (uint)alignValue.Value;
            if (a == 0 || (a & (a - 1)) != 0 || a > 1 << 20)
                throw new GgufFormatException($"general.alignment {a} is not a power of two up to 1 MiB");
            alignment = (int)a;
        }

        var tensors = new List<GgufTensorInfo>((int)tensorCount);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (ulong i = 0; i < tensorCount; i++)
            tensors.Add(ReadTensorInfo(i, names, alignment));

        long dataOffset = AlignUp(_pos, alignment);
        if (tensorCount > 0 && dataOffset > _length)
            throw Error($"data section would start at {dataOffset}, past the end of the file ({_length} bytes)");
        long dataLength = Math.Max(0, _length - dataOffset);
        foreach (var t in tensors)
        {
            if (t.Offset > (ulong)dataLength || (ulong)t.ByteSize > (ulong)dataLength - t.Offset)
                throw new GgufFormatException(
                    $"tensor '{t.Name}' data [{t.Offset}, +{t.ByteSize}) lies past the end of the file " +
                    $"(data section is {dataLength} bytes): the file is truncated or corrupt");
        }
        return new Result(version, alignment, dataOffset, metadata, order, tensors);
    }

    private GgufTensorInfo ReadTensorInfo(ulong index, HashSet<string> names, int alignment)
    {
        long at = _pos;
        string name = ReadString();
        if (name.Length == 0) throw Error($"tensor {index} has an empty name", at);
        if (!names.Add(name)) throw Error($"duplicate tensor name '{name}'", at);
        uint nDims = ReadUInt32();
        if (nDims == 0 || nDims > GgufFile.MaxDimensions)
            throw Error($"tensor '{name}' has {nDims} dimensions (1 to {GgufFile.MaxDimensions} allowed)", at);
        var dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++)
        {
            ulong raw = ReadUInt64();
            if (raw > long.MaxValue) throw Error($"tensor '{name}' dimension {d} = {raw} is negative or too large", at);
            dims[d] = (long)raw;
            if (dims[d] != 0 && elements > long.MaxValue / dims[d])
                throw Error($"tensor '{name}' element count overflows", at);
            elements *= dims[d];
        }
        uint rawType = ReadUInt32();
        var type = (GgmlType)rawType;
        if (!GgmlTypeInfo.TryGetLayout(type, out int blockSize, out int typeSize))
            throw Error($"tensor '{name}' has unknown type {rawType}", at);
        if (dims[0] % blockSize != 0)
            throw Error($"tensor '{name}' row length {dims[0]} is not a multiple of the {GgmlTypeInfo.Name(type)} block size {blockSize}", at);
        ulong offset = ReadUInt64();
        if (offset % (ulong)alignment != 0)
            throw Error($"tensor '{name}' data offset {offset} is not aligned to {alignment}", at);
        long blocks = elements / blockSize;
        if (blocks > long.MaxValue / typeSize) throw Error($"tensor '{name}' byte size overflows", at);
        return new GgufTensorInfo(name, type, dims, offset, blocks * typeSize);
    }

    private GgufValue ReadValue(GgufValueType type, string key, int depth)
    {
        long at = _pos;
        switch (type)
        {
            case GgufValueType.UInt8: Need(1, key); return new(type, _p[_pos++]);
            case GgufValueType.Int8: Need(1, key); return new(type, (sbyte)_p[_pos++]);
            case GgufValueType.UInt16: return new(type, (ushort)ReadFixed(2, key));
            case GgufValueType.Int16: return new(type, (short)(ushort)ReadFixed(2, key));
            case GgufValueType.UInt32: return new(type, (uint)ReadFixed(4, key));
            case GgufValueType.Int32: return new(type, (int)(uint)ReadFixed(4, key));
            case GgufValueType.Float32: return new(type, BitConverter.UInt32BitsToSingle((uint)ReadFixed(4, key)));
            case GgufValueType.Bool: Need(1, key); return new(type, _p[_pos++] != 0);
            case GgufValueType.String: return new(type, ReadString(key));
            case GgufValueType.UInt64: return new(type, ReadFixed(8, key));
            case GgufValueType.Int64: return new(type, (long)ReadFixed(8, key));
            case GgufValueType.Float64: return new(type, BitConverter.UInt64BitsToDouble(ReadFixed(8, key)));
            case GgufValueType.Array:
                if (depth >= MaxArrayNesting) throw Error($"metadata '{key}' nests arrays deeper than {MaxArrayNesting}", at);
                return new(type, ReadArray(key, depth));
            default:
                throw Error($"metadata '{key}' has unknown value type {(uint)type}", at);
        }
    }

    private GgufArray ReadArray(string key, int depth)
    {
        long at = _pos;
        var elementType = (GgufValueType)ReadUInt32(key);
        ulong count = ReadUInt64(key);
        int minSize = elementType switch
        {
            GgufValueType.UInt8 or GgufValueType.Int8 or GgufValueType.Bool => 1,
            GgufValueType.UInt16 or GgufValueType.Int16 => 2,
            GgufValueType.UInt32 or GgufValueType.Int32 or GgufValueType.Float32 => 4,
            GgufValueType.UInt64 or GgufValueType.Int64 or GgufValueType.Float64 or GgufValueType.String => 8,
            GgufValueType.Array => 12,
            _ => throw Error($"metadata '{key}' is an array of unknown type {(uint)elementType}", at),
        };
        if (count > (ulong)Remaining / (ulong)minSize || count > int.MaxValue)
            throw Error($"metadata '{key}' claims {count} array elements, more than the file can hold", at);
        int n = (int)count;
        switch (elementType)
        {
            case GgufValueType.UInt8: return new(elementType, ReadBlock<byte>(n));
            case GgufValueType.Int8: return new(elementType, ReadBlock<sbyte>(n));
            case GgufValueType.UInt16: return new(elementType, ReadBlock<ushort>(n));
            case GgufValueType.Int16: return new(elementType, ReadBlock<short>(n));
            case GgufValueType.UInt32: return new(elementType, ReadBlock<uint>(n));
            case GgufValueType.Int32: return new(elementType, ReadBlock<int>(n));
            case GgufValueType.Float32: return new(elementType, ReadBlock<float>(n));
            case GgufValueType.UInt64: return new(elementType, ReadBlock<ulong>(n));
            case GgufValueType.Int64: return new(elementType, ReadBlock<long>(n));
            case GgufValueType.Float64: return new(elementType, ReadBlock<double>(n));
            case GgufValueType.Bool:
            {
                var bools = new bool[n];
                for (int i = 0; i < n; i++) bools[i] = _p[_pos + i] != 0;
                _pos += n;
                return new(elementType, bools);
            }
            case GgufValueType.String:
            {
                var strings = new string[n];
                for (int i = 0; i < n; i++) strings[i] = ReadString(key);
                return new(elementType, strings);
            }
            default:
            {
                var arrays = new GgufArray[n];
                for (int i = 0; i < n; i++) arrays[i] = (GgufArray)ReadValue(GgufValueType.Array, key, depth + 1).Value;
                return new(elementType, arrays);
            }
        }
    }

    private T[] ReadBlock<T>(int n) where T : unmanaged
    {
        // Counts were checked against the remaining bytes by the caller; GGUF is little-endian like every host we run on.
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("big-endian hosts are not supported");
        var result = new T[n];
        long bytes = (long)n * sizeof(T);
        new ReadOnlySpan<byte>(_p + _pos, (int)bytes).CopyTo(System.Runtime.InteropServices.MemoryMarshal.AsBytes(result.AsSpan()));
        _pos += bytes;
        return result;
    }

    private string ReadString(string? context = null)
    {
        long at = _pos;
        ulong len = ReadUInt64(context);
        if (len > (ulong)Remaining)
            throw Error($"string length {len}{(context != null ? $" in '{context}'" : "")} runs past the end of the file", at);
        if (len > int.MaxValue) throw Error($"string length {len} is too large", at);
        string s = Encoding.UTF8.GetString(_p + _pos, (int)len);
        _pos += (long)len;
        return s;
    }

    private uint ReadUInt32(string? context = null) => (uint)ReadFixed(4, context);
    private ulong ReadUInt64(string? context = null) => ReadFixed(8, context);

    private ulong ReadFixed(int size, string? context)
    {
        Need(size, context);
        var span = new ReadOnlySpan<byte>(_p + _pos, size);
        _pos += size;
        return size switch
        {
            2 => BinaryPrimitives.ReadUInt16LittleEndian(span),
            4 => BinaryPrimitives.ReadUInt32LittleEndian(span),
            _ => BinaryPrimitives.ReadUInt64LittleEndian(span),
        };
    }

    private void Need(long size, string? context)
    {
        if (Remaining < size)
            throw Error($"unexpected end of file{(context != null ? $" while reading '{context}'" : "")} (truncated header)");
    }

    private GgufFormatException Error(string message, long? at = null) =>
        new($"{message} (at byte {at ?? _pos})");

    internal static long AlignUp(long value, int alignment) => (value + alignment - 1) / alignment * alignment;
}
