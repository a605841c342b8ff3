using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Tests.Quantization;

public class DequantizerTests
{
    public static TheoryData<GgmlType> DequantTypes() =>
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16,
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K,
    ];

    /// <summary>ggml's decoding of a row (the plain float formats go through ggml's row converters).</summary>
    private static float[] Reference(GgmlType type, byte[] src, int count)
    {
        switch (type)
        {
            case GgmlType.F32:
                return MemoryMarshal.Cast<byte, float>(src).ToArray();
            case GgmlType.F16:
            {
                float[] y = new float[count];
                GgmlReference.Fp16ToFp32Row(MemoryMarshal.Cast<byte, ushort>(src), y);
                return y;
            }
            case GgmlType.BF16:
            {
                float[] y = new float[count];
                GgmlReference.Bf16ToFp32Row(MemoryMarshal.Cast<byte, ushort>(src), y);
                return y;
            }
            default:
                return GgmlReference.Dequantize(type, src, count);
        }
    }

    /// <summary>Decodes with every vector width and the public entry point and requires ggml's exact bits from each.</summary>
    private static void AssertAllPathsMatch(GgmlType type, byte[] src, float[] expected, string what)
    {
        var paths = QuantTestData.Levels().Select(l => (Name: l.ToString(), Level: (QuantSimdLevel?)l)).Append(("public", null));
        foreach (var (name, level) in paths)
        {
            float[] actual = new float[expected.Length + 1];
            actual[^1] = 123f;
            if (level is { } l)
                Dequantizer.DequantizeRow(type, src, actual.AsSpan(0, expected.Length), l);
            else
                Dequantizer.DequantizeRow(type, src, actual.AsSpan(0, expected.Length));
            Assert.Equal(123f, actual[^1]);
            for (int i = 0; i < expected.Length; i++)
            {
                uint e = BitConverter.SingleToUInt32Bits(expected[i]), a = BitConverter.SingleToUInt32Bits(actual[i]);
                // When two NaNs meet (NaN scale and NaN min), which payload x86 keeps depends on operand order, which the
                // JIT may swap between tiers for commutative operations: any NaN matches any NaN.
                if (e != a && !(float.IsNaN(expected[i]) && float.IsNaN(actual[i])))
                {
                    int block = i / GgmlTypeInfo.BlockSize(type), size = GgmlTypeInfo.TypeSize(type);
                    Assert.Fail($"{type} {what} [{name}]: value {i} (block {block}): ggml 0x{e:X8} ({expected[i]}), ours 0x{a:X8} ({actual[i]})\n" +
                        $"block bytes {Convert.ToHexString(src, block * size, size)}");
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(DequantTypes))]
    public void RandomBlocks_MatchGgml(GgmlType type)
    {
        // Arbitrary bytes: scales include binary16 subnormals, Inf and NaN, so NaN propagation is checked too (NaN-ness, not payloads).
        Assert.True(Dequantizer.CanDequantize(type));
        int count = 64 * 256;
        int bytes = (int)GgmlTypeInfo.RowSize(type, count);
        for (int seed = 1; seed <= 4; seed++)
        {
            var rng = new Random(seed * 31 + (int)type);
            byte[] src = new byte[bytes];
            rng.NextBytes(src);
            AssertAllPathsMatch(type, src, Reference(type, src, count), $"random seed {seed}");
        }
    }

    [Theory]
    [MemberData(nameof(DequantTypes))]
    public void GgmlQuantizedRows_MatchGgml(GgmlType type)
    {
        int count = 4096;
        foreach (string scenario in new[] { "gauss", "gauss_1e-3", "mixed_outliers", "group_scales", "uniform_pos", "zeros", "extreme_blocks", "fp16_edges" })
        {
            float[] x = QuantTestData.Generate(scenario, 5, count);
            byte[] src = GgmlReference.Quantize(type, x);
            AssertAllPathsMatch(type, src, Reference(type, src, count), scenario);
        }
    }

    [Fact]
    public void Q8_1_DecodesAsScaleTimesQuants()
    {
        // ggml has no Q8_1 dequantizer; its blocks are a Q8_0 block plus a redundant sum, so decode via ggml's Q8_0.
        var rng = new Random(99);
        int nb = 64;
        foreach (bool fromGgml in new[] { false, true })
        {
            byte[] q81;
            if (fromGgml)
            {
                q81 = GgmlReference.Quantize(GgmlType.Q8_1, QuantTestData.Generate("gauss", 3, nb * 32));
            }
            else
            {
                q81 = new byte[nb * 36];
                rng.NextBytes(q81);
            }
            byte[] q80 = new byte[nb * 34];
            for (int b = 0; b < nb; b++)
            {
                q81.AsSpan(b * 36, 2).CopyTo(q80.AsSpan(b * 34));
                q81.AsSpan(b * 36 + 4, 32).CopyTo(q80.AsSpan(b * 34 + 2));
            }
            float[] expected = GgmlReference.Dequantize(GgmlType.Q8_0, q80, nb * 32);
            AssertAllPathsMatch(GgmlType.Q8_1, q81, expected, fromGgml ? "ggml-quantized" : "random");
        }
    }

    [Fact]
    public void DequantizeRow_ValidatesArguments()
    {
        Assert.Throws<ArgumentException>(() => Dequantizer.DequantizeRow(GgmlType.Q4_0, new byte[18], new float[31]));
        Assert.Throws<ArgumentException>(() => Dequantizer.DequantizeRow(GgmlType.Q4_0, new byte[35], new float[64]));
        Assert.Throws<ArgumentException>(() => Dequantizer.DequantizeRow(GgmlType.Q6_K, new byte[209], new float[256]));
        Assert.Throws<NotSupportedException>(() => Dequantizer.DequantizeRow(GgmlType.IQ4_XS, new byte[1000], new float[256]));
        Assert.False(Dequantizer.CanDequantize(GgmlType.IQ2_XXS));
        Assert.False(Dequantizer.CanDequantize(GgmlType.TQ1_0));
        // Extra source bytes are fine; an empty row is a no-op.
        Dequantizer.DequantizeRow(GgmlType.Q8_0, new byte[100], new float[64]);
        Dequantizer.DequantizeRow(GgmlType.Q4_K, ReadOnlySpan<byte>.Empty, Span<float>.Empty);
    }

    [Fact]
    public void QuantizeThenDequantize_IsClose()
    {
        // Sanity on top of bit-exactness: the formats round-trip ordinary data with small error.
        float[] x = QuantTestData.Generate("gauss", 8, 1024);
        foreach (var (type, tol) in new[] { (GgmlType.Q8_0, 0.02), (GgmlType.Q4_0, 0.3), (GgmlType.Q4_K, 0.25), (GgmlType.Q6_K, 0.06), (GgmlType.Q2_K, 1.6), (GgmlType.Q8_K, 0.02) })
        {
            byte[] q = new byte[GgmlTypeInfo.RowSize(type, x.Length)];
            Quantizer.QuantizeRow(type, x, q);
            float[] y = new float[x.Length];
            Dequantizer.DequantizeRow(type, q, y);
            double maxErr = x.Zip(y, (a, b) => Math.Abs(a - b)).Max();
            Assert.True(maxErr < tol, $"{type}: max error {maxErr}");
        }
    }
}
