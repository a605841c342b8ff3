using SeekSharp.Numerics;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// The 512-bit SwiGLU and softmax (ggml's AVX-512 exp, 16 lanes at once) must equal the one-lane emulation bit for bit,
/// across the exp's whole range: the polynomial region, results that underflow to subnormals or zero, overflow to
/// infinity, the |n| &gt; 192 cut-off, masked (-inf) scores and NaN.
/// </summary>
[Collection("Kernels")]
public class GgmlExpTests
{
    private static float[] Values(int count, int seed)
    {
        var rng = new Random(seed);
        float[] special = [0f, -0f, 1e-30f, -1e-30f, 87.3f, 88.8f, 89f, -87.3f, -88f, -103f, -104f, -110f, -133f, -150f,
            150f, 190f, -200f, 200f, 1000f, -1000f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.MaxValue, -float.MaxValue];
        var v = new float[count];
        for (int i = 0; i < count; i++)
            v[i] = i < special.Length ? special[i] : i % 3 == 0 ? (float)(rng.NextDouble() * 400 - 200) : (float)(rng.NextDouble() * 20 - 10);
        return v;
    }

    [Theory]
    [InlineData(16)]
    [InlineData(47)]
    [InlineData(896)]
    public void WideSwiGluEqualsOneLaneForm(int rowLength)
    {
        float[] gate = Values(3 * rowLength, rowLength), up = Values(3 * rowLength, rowLength + 1);
        float[] wide = (float[])gate.Clone(), narrow = (float[])gate.Clone();
        using (new ForcedWidth(512)) GgmlExp.SwiGluRows(wide, up, rowLength);
        using (new ForcedWidth(0)) GgmlExp.SwiGluRows(narrow, up, rowLength);
        for (int i = 0; i < gate.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(narrow[i]) == BitConverter.SingleToInt32Bits(wide[i]),
                $"gate {gate[i]:R} up {up[i]:R}: one-lane {narrow[i]:R}, 16-lane {wide[i]:R}");
    }

    [Theory]
    [InlineData(16)]
    [InlineData(37)]
    [InlineData(160)]
    public void WideSoftmaxEqualsOneLaneForm(int length)
    {
        var rng = new Random(length);
        foreach (double spread in new[] { 1.0, 30.0, 300.0 })
        {
            float[] x = new float[length];
            for (int i = 0; i < length; i++)
                x[i] = i % 7 == 5 ? float.NegativeInfinity : (float)((rng.NextDouble() * 2 - 1) * spread);
            float[] wide = (float[])x.Clone(), narrow = (float[])x.Clone();
            using (new ForcedWidth(512)) GgmlExp.SoftmaxInPlace(wide);
            using (new ForcedWidth(0)) GgmlExp.SoftmaxInPlace(narrow);
            Assert.Equal(narrow.Select(BitConverter.SingleToInt32Bits), wide.Select(BitConverter.SingleToInt32Bits));
        }
    }
}
