using SeekSharp.Models;

namespace SeekSharp.Inference;

/// <summary>Element type of the attention key/value cache (llama.cpp's --cache-type-k/-v; f16 is its default).</summary>
public enum KvCacheType { F16, F32 }

/// <summary>
/// Keys and values of every layer for one sequence, position-major: one key row and one value row per position, of
/// widths the model decides ([kv head][head dim] for grouped-query attention; for DeepSeek's multi-head latent attention
/// a single row of kv_lora_rank + RoPE values that serves as key and value, with no value rows at all).
/// F16 storage halves the memory and matches llama.cpp's default cache, whose rounding it reproduces.
/// F16 values are kept transposed, as ggml keeps V without flash attention: one column of <see cref="ValueColumnStride"/>
/// positions per value index, so attention reads them in place; positions not yet filled (or forgotten) hold zeros.
/// </summary>
public sealed class KvCache
{
    private readonly Half[][]? _k16, _v16;
    private readonly float[][]? _k32, _v32;
    private readonly Half[] _row16 = Array.Empty<Half>();
    // highest position + 1 written into the transposed values; positions from Length up to it are zeroed on SetLength
    private int _written;

    public KvCache(int layers, int kvHeads, int keyLength, int valueLength, int capacity, KvCacheType type = KvCacheType.F16)
        : this(layers, capacity, type, kvHeads * keyLength, kvHeads * valueLength)
    {
    }

    /// <summary>A cache of <paramref name="keyWidth"/> key values and <paramref name="valueWidth"/> value values
    /// (0: none) per token and layer.</summary>
    public KvCache(int layers, int capacity, KvCacheType type, int keyWidth, int valueWidth)
    {
        if (capacity <= 0) throw new ArgumentOutOfRangeException(nameof(capacity), "context size must be positive");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(keyWidth);
        ArgumentOutOfRangeException.ThrowIfNegative(valueWidth);
        Capacity = capacity;
        Type = type;
        Layers = layers;
        KeyStride = keyWidth;
        ValueStride = valueWidth;
        ValueColumnStride = type == KvCacheType.F16 ? Numerics.LatentAttention.PaddedLength(capacity) : capacity;
        long perLayer = (long)ValueColumnStride * Math.Max(KeyStride, ValueStride);
        if (perLayer > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(capacity), $"context size {capacity} is too large for one cache array");
        if (type == KvCacheType.F16)
        {
            _k16 = new Half[layers][];
            _v16 = new Half[layers][];
            for (int l = 0; l < layers; l++)
            {
                _k16[l] = new Half[capacity * KeyStride];
                _v16[l] = ValueStride == 0 ? Array.Empty<Half>() : new Half[ValueColumnStride * ValueStride];
            }
            if (ValueStride > 0) _row16 = new Half[ValueStride];
        }
        else
        {
            _k32 = new float[layers][];
            _v32 = new float[layers][];
            for (int l = 0; l < layers; l++)
            {
                _k32[l] = new float[capacity * KeyStride];
                _v32[l] = ValueStride == 0 ? Array.Empty<float>() : new float[capacity * ValueStride];
            }
        }
    }

    public static KvCache For(ModelConfig c, int capacity, KvCacheType type = KvCacheType.F16) =>
        new(c.LayerCount, capacity, type, c.CacheKeyWidth, c.CacheValueWidth);

    public int Layers { get; }

    public int Capacity { get; }
    public KvCacheType Type { get; }
    public int KeyStride { get; }
    public int ValueStride { get; }

    /// <summary>Distance between the columns of the transposed f16 values (capacity padded to a multiple of 64, so a
    /// padded attention length never runs past the end).</summary>
    internal int ValueColumnStride { get; }

    /// <summary>Number of positions filled.</summary>
    public int Length { get; private set; }

    public long SizeInBytes => (long)Layers * Capacity * (KeyStride + ValueStride) * ElementSize(Type);

    /// <summary>Bytes the cache holds per token of context for a model (keys and values of every layer; for MLA
    /// the latent and the RoPE key only).</summary>
    public static long BytesPerToken(ModelConfig c, KvCacheType type = KvCacheType.F16) =>
        (long)c.LayerCount * (c.CacheKeyWidth + c.CacheValueWidth) * ElementSize(type);

    private static int ElementSize(KvCacheType type) => type == KvCacheType.F16 ? 2 : 4;

    internal Half[] Keys16(int layer) => _k16![layer];
    /// <summary>Values of a layer, transposed: value index c of position j at [c·<see cref="ValueColumnStride"/> + j].</summary>
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
            if (ValueStride > 0)
            {
                var vt = _v16![layer];
                int cs = ValueColumnStride;
                for (int t = 0; t < count; t++)
                {
                    System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(values.Slice(t * ValueStride, ValueStride), _row16);
                    int j = position + t;
                    for (int c = 0; c < _row16.Length; c++) vt[c * cs + j] = _row16[c];
                }
                _written = Math.Max(_written, position + count);
            }
        }
        else
        {
            keys[..(count * KeyStride)].CopyTo(_k32![layer].AsSpan(position * KeyStride));
            if (ValueStride > 0) values[..(count * ValueStride)].CopyTo(_v32![layer].AsSpan(position * ValueStride));
        }
    }

    /// <summary>Marks positions up to <paramref name="length"/> as filled (after a forward pass).</summary>
    internal void SetLength(int length)
    {
        if (length < 0 || length > Capacity) throw new ArgumentOutOfRangeException(nameof(length));
        if (_written > length && _v16 != null && ValueStride > 0)
        {
            // attention sums over positions padded past the length with zero weights: keep those values exact zeros
            foreach (var vt in _v16)
                for (int c = 0; c < ValueStride; c++) vt.AsSpan(c * ValueColumnStride + length, _written - length).Clear();
            _written = length;
        }
        Length = length;
    }

    /// <summary>Forgets everything from <paramref name="length"/> on (to reuse a common prefix).</summary>
    public void Truncate(int length) => SetLength(Math.Min(length, Length));

    public void Clear() => SetLength(0);
}
