using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// Grouped batched attention (a KV head's keys and values widened once for its query heads) equals one
/// <see cref="LatentAttention.HeadF16"/> call per query head bit for bit, on every vector path.
/// </summary>
[Collection("Kernels")]
public class GroupedAttentionTests
{
    [Theory]
    [InlineData(512, 7, 64, 64)]
    [InlineData(512, 6, 128, 128)]
    [InlineData(512, 16, 48, 18)] // deepseek2's sixteen heads: four-head tiles only, value rows not a multiple of four
    [InlineData(512, 5, 32, 7)]   // one four-head tile and a head left over
    [InlineData(256, 2, 32, 48)]
    [InlineData(0, 3, 16, 16)]
    public void GroupEqualsPerHeadCalls(int width, int groupSize, int keyLength, int valueLength)
    {
        var rng = new Random(width + groupSize + keyLength);
        const int kvHeads = 2, total = 70;
        int rowStride = kvHeads * keyLength, stride = LatentAttention.PaddedLength(total), vtStride = stride + 64;
        var rows = new Half[total * rowStride];
        var vt = new Half[kvHeads * valueLength * vtStride];
        for (int i = 0; i < rows.Length; i++) rows[i] = (Half)(rng.NextDouble() * 4 - 2);
        for (int h = 0; h < kvHeads; h++)
            for (int d = 0; d < valueLength; d++)
                for (int j = 0; j < total; j++) // positions past total stay zero, as the cache keeps them
                    vt[(h * valueLength + d) * vtStride + j] = (Half)(rng.NextDouble() * 2 - 1);
        var q = new float[groupSize * keyLength];
        var scores = new float[vtStride];
        using var force = new ForcedWidth(width);
        foreach (int count in new[] { 1, 5, 33, 64, 70 })
            for (int kvh = 0; kvh < kvHeads; kvh++)
            {
                for (int i = 0; i < q.Length; i++) q[i] = (float)(rng.NextDouble() * 2 - 1);
                var grouped = new float[groupSize * valueLength];
                GroupedAttention.GroupF16(q, groupSize, rows.AsSpan(kvh * keyLength), rowStride,
                    vt.AsSpan(kvh * valueLength * vtStride), vtStride, total, valueLength, count, 0.125f, scores, grouped);
                for (int g = 0; g < groupSize; g++)
                {
                    var single = new float[valueLength];
                    LatentAttention.HeadF16(q.AsSpan(g * keyLength, keyLength), rows.AsSpan(kvh * keyLength), rowStride,
                        vt.AsSpan(kvh * valueLength * vtStride), vtStride, total, valueLength, count, 0.125f, batched: true, scores, single);
                    for (int d = 0; d < valueLength; d++)
                        Assert.True(BitConverter.SingleToInt32Bits(single[d]) == BitConverter.SingleToInt32Bits(grouped[g * valueLength + d]),
                            $"count {count} kv head {kvh} head {g} value {d}: per head {single[d]:R}, grouped {grouped[g * valueLength + d]:R}");
                }
            }
    }
}
