using SeekSharp.Models;

namespace SeekSharp.Inference;

/// <summary>Element type of the attention key/value cache (llama.cpp's --cache-type-k/-v; f16 is its default).</summary>
public enum KvCacheType { F16, F32 }

/// <summary>
/// Keys and values of every layer for one sequence, position-major: [position][kv head][head dim].
/// F16 storage halves the memory and matches llama.cpp's default cache, whose rounding it reproduces.
/// </summary>
public sealed class KvCache
{
    private readonly Half[][]? _k16, _v16;
    private readonly float[][]? _k32, _v32;

    public KvCache(int layers, int kvHeads, int keyLength, int valueLength, int capacity, KvCacheType type = KvCacheType.F16)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "context size must be positive");
        Capacity = capacity;
        Type = type;
        KeyStride = kvHeads * keyLength;
        ValueStride = kvHeads * valueLength;
        long perLayer = (long)capacity * Math.Max(KeyStride, ValueStride);
        if (perLayer > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"context size {capacity} is too large for one cache array");
        if (type == KvCacheType.F16)
        {
            _k16 = new Half[layers][];
            _v16 = new Half[layers][];
            for (int l = 0; l < layers; l++)
            {
                _k16[l] = new Half[capacity * KeyStride];
                _v16[l] = new Half[capacity * ValueStride];
            }
        }
        else
        {
            _k32 = new float[layers][];
            _v32 = new float[layers][];
            for (int l = 0; l < layers; l++)
            {
                _k32[l] = new float[capacity * KeyStride];
                _v32[l] = new float[capacity * ValueStride];
            }
        }
    }

    public static KvCache For(ModelConfig c, int capacity, KvCacheType type = KvCacheType.F16) =>
        new(c.LayerCount, c.KvHeadCount, c.KeyLength, c.ValueLength, capacity, type);

    public int Capacity { get; }
    public KvCacheType Type { get; }
    public int KeyStride { get; }
    public int ValueStride { get; }

    /// <summary>Number of positions filled.</summary>
    public int Length { get; private set; }

    public long SizeInBytes => (long)(_k16?.Length ?? _k32!.Length) * Capacity * (KeyStride + ValueStride) * ElementSize(Type);

    /// <summary>Bytes the cache holds per token of context for a model (keys and values of every layer).</summary>
    public static long BytesPerToken(ModelConfig c, KvCacheType type = KvCacheType.F16) =>
        (long)c.LayerCount * c.KvHeadCount * (c.KeyLength + c.ValueLength) * ElementSize(type);

    private static int ElementSize(KvCacheType type) => type == KvCacheType.F16 ? 2 : 4;

    internal Half[] Keys16(int layer) => _k16![layer];
    internal Half[] Values16(int layer) => _v16![layer];
    internal float[] Keys32(int layer) => _k32![layer];
    internal float[] Values32(int layer) => _v32![layer];

    /// <summary>Stores keys and values of <paramref name="count"/> consecutive positions starting at <paramref name="position"/>.</summary>
    internal void Store(int layer, int position, int count, ReadOnlySpan<float> keys, ReadOnlySpan<float> values)
    {
        if (position + count > Capacity) throw new InvalidOperationException("KV cache is full");
        if (Type == KvCacheType.F16)
        {
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(keys[..(count * KeyStride)], _k16![layer].AsSpan(position * KeyStride, count * KeyStride));
            System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(values[..(count * ValueStride)], _v16![layer].AsSpan(position * ValueStride, count * ValueStride));
        }
        else
        {
            keys[..(count * KeyStride)].CopyTo(_k32![layer].AsSpan(position * KeyStride));
            values[..(count * ValueStride)].CopyTo(_v32![layer].AsSpan(position * ValueStride));
        }
    }

    /// <summary>Marks positions up to <paramref name="length"/> as filled (after a forward pass).</summary>
    internal void SetLength(int length)
    {
        if (length < 0 || length > Capacity) throw new ArgumentOutOfRangeException(nameof(length));
        Length = length;
    }

    /// <summary>Forgets everything from <paramref name="length"/> on (to reuse a common prefix).</summary>
    public void Truncate(int length) => SetLength(Math.Min(length, Length));

    public void Clear() => Length = 0;
}
