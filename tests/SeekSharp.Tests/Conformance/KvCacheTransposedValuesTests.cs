using SeekSharp.Inference;
using SeekSharp.Numerics;
using Xunit;

namespace SeekSharp.Tests.Conformance;

/// <summary>The f16 cache keeps values transposed and written incrementally; attention over it must equal attention
/// over a freshly transposed copy bit for bit, including after truncation (positions forgotten read as zeros).</summary>
public class KvCacheTransposedValuesTests
{
    private const int KvHeads = 2, KeyLength = 16, ValueLength = 16, Capacity = 70;

    [Fact]
    public void IncrementalTransposedValuesMatchFreshTranspose()
    {
        var rng = new Random(7);
        var cache = new KvCache(1, KvHeads, KeyLength, ValueLength, Capacity);
        int width = KvHeads * ValueLength;
        var keys = new float[Capacity * KvHeads * KeyLength];
        var values = new float[Capacity * width];
        for (int i = 0; i < keys.Length; i++) keys[i] = (float)(rng.NextDouble() * 2 - 1);
        for (int i = 0; i < values.Length; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);

        // fill 0..69 in uneven batches, then forget 40.. and refill 40..44 with other values
        Store(cache, 0, 1, keys, values);
        Store(cache, 1, 60, keys, values);
        Store(cache, 61, 9, keys, values);
        cache.SetLength(Capacity);
        cache.Truncate(40);
        for (int i = 40 * width; i < 45 * width; i++) values[i] = (float)(rng.NextDouble() * 2 - 1);
        Store(cache, 40, 5, keys, values);
        cache.SetLength(45);

        int total = 45, stride = LatentAttention.PaddedLength(total);
        var vt = cache.Values16(0);
        for (int c = 0; c < width; c++)
            for (int j = total; j < cache.ValueColumnStride; j++)
                Assert.Equal(0, (int)BitConverter.HalfToInt16Bits(vt[c * cache.ValueColumnStride + j]));

        // reference: row-major f16 values transposed per head as the forward pass used to
        var rows = new Half[total * width];
        System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(values.AsSpan(0, total * width), rows);
        var q = new float[KeyLength];
        var scores = new float[stride];
        var expected = new float[ValueLength];
        var actual = new float[ValueLength];
        for (int h = 0; h < KvHeads; h++)
        {
            var fresh = new Half[ValueLength * stride];
            LatentAttention.TransposeLatent(rows.AsSpan(h * ValueLength), width, ValueLength, total, fresh);
            for (int count = 1; count <= total; count += 11)
                foreach (bool batched in new[] { false, true })
                {
                    for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() * 2 - 1);
                    var k = cache.Keys16(0).AsSpan(h * KeyLength);
                    LatentAttention.HeadF16(q, k, cache.KeyStride, fresh, total, ValueLength, count, 0.25f, batched, scores, expected);
                    LatentAttention.HeadF16(q, k, cache.KeyStride, vt.AsSpan(h * ValueLength * cache.ValueColumnStride),
                        cache.ValueColumnStride, total, ValueLength, count, 0.25f, batched, scores, actual);
                    for (int d = 0; d < ValueLength; d++)
                        Assert.Equal(BitConverter.SingleToInt32Bits(expected[d]), BitConverter.SingleToInt32Bits(actual[d]));
                }
        }
    }

    private static void Store(KvCache cache, int position, int count, float[] keys, float[] values) =>
        cache.Store(0, position, count, keys.AsSpan(position * KvHeads * KeyLength), values.AsSpan(position * KvHeads * ValueLength));
}
