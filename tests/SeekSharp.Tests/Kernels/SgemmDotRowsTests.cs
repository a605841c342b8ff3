using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>The four-row dot (attention's K·q and Vᵀ·p) equals four single dots bit for bit on every path.</summary>
[Collection("Kernels")]
public unsafe class SgemmDotRowsTests
{
    [Theory]
    [InlineData(512)]
    [InlineData(256)]
    [InlineData(128)]
    [InlineData(0)]
    public void FourRowsEqualFourSingleDots(int width)
    {
        var rng = new Random(width + 3);
        foreach (int n in new[] { 16, 64, 128, 272 })
        {
            int stride = n + 48;
            var x = new Half[4 * stride];
            var y = new float[n];
            for (int i = 0; i < x.Length; i++) x[i] = (Half)(rng.NextDouble() * 4 - 2);
            for (int i = 0; i < n; i++) y[i] = (float)(Half)(rng.NextDouble() * 2 - 1);
            var four = new float[4];
            fixed (Half* px = x)
            fixed (float* py = y)
            fixed (float* pr = four)
            {
                SgemmDot.Dot4Rows<Half, float>(px, stride, py, n, width, pr);
                for (int r = 0; r < 4; r++)
                {
                    float single = SgemmDot.Dot<Half, float>(px + r * stride, py, n, width);
                    Assert.Equal(BitConverter.SingleToInt32Bits(single), BitConverter.SingleToInt32Bits(four[r]));
                }
            }
        }
    }
}
