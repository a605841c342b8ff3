using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>Grouped-query attention converts each f16 cache row once per KV head; results must equal per-head attention bit for bit.</summary>
public class AttentionGroupTests
{
    [Theory]
    [InlineData(1, 64, 1)]
    [InlineData(7, 64, 37)]
    [InlineData(6, 128, 5)]
    [InlineData(4, 2048, 3)] // too big for the group's stack buffers: the per-head fallback
    public void GroupF16EqualsHeadF16(int group, int headLength, int count)
    {
        var rng = new Random(group * 1000 + count);
        int kvHeads = 2, kvh = 1, stride = kvHeads * headLength;
        var q = Enumerable.Range(0, group * headLength).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var keys = Enumerable.Range(0, count * stride).Select(_ => (Half)(rng.NextDouble() * 2 - 1)).ToArray();
        var values = Enumerable.Range(0, count * stride).Select(_ => (Half)(rng.NextDouble() * 2 - 1)).ToArray();
        float scale = 1 / MathF.Sqrt(headLength);

        var expected = new float[group * headLength];
        var scores = new float[count];
        for (int h = 0; h < group; h++)
            Attention.HeadF16(q.AsSpan(h * headLength, headLength), keys, stride, kvh * headLength, values, stride, kvh * headLength,
                headLength, count, scale, scores, expected.AsSpan(h * headLength, headLength));

        var actual = new float[group * headLength];
        Attention.GroupF16(q, group, keys, stride, kvh * headLength, values, stride, kvh * headLength, headLength, count, scale,
            new float[group * count], actual);
        Assert.Equal(expected.Select(BitConverter.SingleToInt32Bits), actual.Select(BitConverter.SingleToInt32Bits));
    }
}
