using System.Text;
using SeekSharp.Gguf;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Tests.Quantization;

public class QuantizerTests
{
    public static TheoryData<GgmlType> QuantTypes() =>
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16,
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q8_1,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_K,
    ];

    private const int RowLength = 4096;
    private static readonly int[] Seeds = [1, 2, 3];

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void QuantizeRow_MatchesGgmlReference(GgmlType type)
    {
        Assert.True(Quantizer.CanQuantize(type));
        var failures = new StringBuilder();
        int failed = 0, total = 0;
        foreach (string scenario in QuantTestData.Scenarios)
        {
            foreach (int seed in Seeds)
            {
                float[] x = QuantTestData.Generate(scenario, seed, RowLength);
                byte[] expected = GgmlReference.Quantize(type, x);
                byte[] actual = new byte[expected.Length];
                Quantizer.QuantizeRow(type, x, actual);
                total++;
                int at = FirstDifference(expected, actual);
                if (at >= 0)
                {
                    failed++;
                    if (failed <= 5)
                    {
                        int typeSize = GgmlTypeInfo.TypeSize(type);
                        failures.AppendLine($"{scenario} seed {seed}: block {at / typeSize} byte {at % typeSize}: " +
                            $"ggml {Convert.ToHexString(expected, at / typeSize * typeSize, typeSize)} ours {Convert.ToHexString(actual, at / typeSize * typeSize, typeSize)}");
                    }
                }
            }
        }
        Assert.True(failed == 0, $"{type}: {failed}/{total} rows differ\n{failures}");
    }

    [Theory]
    [MemberData(nameof(QuantTypes))]
    public void QuantizeRow_SingleBlock_MatchesGgml(GgmlType type)
    {
        int n = GgmlTypeInfo.BlockSize(type) == 1 ? 7 : GgmlTypeInfo.BlockSize(type);
        for (int seed = 10; seed < 20; seed++)
        {
            float[] x = QuantTestData.Generate("gauss", seed, n);
            byte[] expected = GgmlReference.Quantize(type, x);
            // Destination longer than needed: only the row's bytes are written.
            byte[] actual = Enumerable.Repeat((byte)0xEE, expected.Length + 5).ToArray();
            Quantizer.QuantizeRow(type, x, actual);
            Assert.Equal(expected, actual.Take(expected.Length));
            Assert.All(actual.Skip(expected.Length), b => Assert.Equal(0xEE, b));
        }
    }

    [Fact]
    public void QuantizeRow_RejectsBadArguments()
    {
        Assert.Throws<ArgumentException>(() => Quantizer.QuantizeRow(GgmlType.Q4_K, new float[255], new byte[1000]));
        Assert.Throws<ArgumentException>(() => Quantizer.QuantizeRow(GgmlType.Q4_K, new float[256], new byte[143]));
        Assert.Throws<ArgumentException>(() => Quantizer.QuantizeRow(GgmlType.Q8_0, new float[33], new byte[100]));
        Assert.Throws<NotSupportedException>(() => Quantizer.QuantizeRow(GgmlType.IQ2_XXS, new float[256], new byte[1000]));
        Assert.False(Quantizer.CanQuantize(GgmlType.IQ4_NL));
        Assert.False(Quantizer.CanQuantize(GgmlType.I32));
    }

    private static int FirstDifference(byte[] a, byte[] b)
    {
        for (int i = 0; i < a.Length; i++)
        {
            if (a[i] != b[i])
                return i;
        }
        return -1;
    }
}
