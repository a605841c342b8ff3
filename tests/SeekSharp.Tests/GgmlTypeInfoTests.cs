using SeekSharp.Gguf;

namespace SeekSharp.Tests;

public class GgmlTypeInfoTests
{
    [Theory]
    [InlineData(GgmlType.Q4_0, 32, 18)]
    [InlineData(GgmlType.Q8_0, 32, 34)]
    [InlineData(GgmlType.Q4_K, 256, 144)]
    [InlineData(GgmlType.Q6_K, 256, 210)]
    [InlineData(GgmlType.Q8_K, 256, 292)]
    [InlineData(GgmlType.Q2_K, 256, 84)]
    [InlineData(GgmlType.Q3_K, 256, 110)]
    [InlineData(GgmlType.Q5_K, 256, 176)]
    public void BlockLayoutsMatchGgml(GgmlType type, int block, int size)
    {
        Assert.Equal(block, GgmlTypeInfo.BlockSize(type));
        Assert.Equal(size, GgmlTypeInfo.TypeSize(type));
    }

    [Fact]
    public void NamesRoundTrip()
    {
        Assert.Equal("q4_K", GgmlTypeInfo.Name(GgmlType.Q4_K));
        Assert.True(GgmlTypeInfo.TryParse("q4_k", out var t));
        Assert.Equal(GgmlType.Q4_K, t);
    }
}
