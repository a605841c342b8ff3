using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Tests.Quantization;

public class HalfPrecisionTests
{
    private static ushort[] AllPatterns() => Enumerable.Range(0, 65536).Select(i => (ushort)i).ToArray();

    /// <summary>
    /// Floats that stress rounding: every binary16 value, the exact midpoints between neighbouring halves (ties) and
    /// one float ulp either side, bfloat16 ties, subnormals, overflow edges, NaNs with assorted payloads and random bits.
    /// </summary>
    private static float[] FloatCorpus()
    {
        var list = new List<float>(1 << 21);
        for (int h = 0; h < 0x7C00; h++)
        {
            float a = HalfToSingleExact((ushort)h), b = HalfToSingleExact((ushort)(h + 1));
            float mid = (a + b) / 2; // exact: halves carry 11 significant bits
            foreach (float v in new[] { a, mid, MathF.BitDecrement(mid), MathF.BitIncrement(mid) })
            {
                list.Add(v);
                list.Add(-v);
            }
        }
        var rng = new Random(12345);
        for (int i = 0; i < 200_000; i++)
        {
            uint hi = (uint)rng.Next(0, 1 << 16) << 16;
            list.Add(BitConverter.UInt32BitsToSingle(hi | 0x8000));         // bfloat16 tie
            list.Add(BitConverter.UInt32BitsToSingle(hi | 0x7FFF));
            list.Add(BitConverter.UInt32BitsToSingle(hi | 0x8001));
            list.Add(BitConverter.UInt32BitsToSingle((uint)rng.Next() ^ ((uint)rng.Next(2) << 31))); // any pattern
            list.Add(BitConverter.UInt32BitsToSingle((uint)rng.Next(0, 0x00800000) | ((uint)rng.Next(2) << 31))); // subnormal
        }
        list.AddRange([
            0f, -0f, float.Epsilon, -float.Epsilon, float.MaxValue, -float.MaxValue, float.PositiveInfinity, float.NegativeInfinity,
            65504f, 65519.996f, 65520f, 65536f, -65520f, 5.9604645e-8f, 2.9802322e-8f, 2.9802326e-8f, 6.1035156e-5f,
            BitConverter.UInt32BitsToSingle(0x7F800001), BitConverter.UInt32BitsToSingle(0x7FC00000),
            BitConverter.UInt32BitsToSingle(0xFFC00001), BitConverter.UInt32BitsToSingle(0x7FBFFFFF),
            BitConverter.UInt32BitsToSingle(0xFF800100), BitConverter.UInt32BitsToSingle(0x7F802000),
            BitConverter.UInt32BitsToSingle(0x7FFFFFFF), BitConverter.UInt32BitsToSingle(0xFFFFFFFF),
        ]);
        return list.ToArray();
    }

    // Independent exact conversion used only to build the corpus.
    private static float HalfToSingleExact(ushort h) => (float)BitConverter.UInt16BitsToHalf(h);

    private static void AssertSameBits(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            uint e = BitConverter.SingleToUInt32Bits(expected[i]), a = BitConverter.SingleToUInt32Bits(actual[i]);
            if (e != a)
                Assert.Fail($"{what}: element {i}: expected 0x{e:X8}, got 0x{a:X8}");
        }
    }

    private static void AssertSame(ReadOnlySpan<ushort> expected, ReadOnlySpan<ushort> actual, ReadOnlySpan<float> input, string what)
    {
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] != actual[i])
                Assert.Fail($"{what}: input 0x{BitConverter.SingleToUInt32Bits(input[i]):X8}: expected 0x{expected[i]:X4}, got 0x{actual[i]:X4}");
        }
    }

    [Fact]
    public void HalfToSingle_AllPatterns_MatchGgml()
    {
        ushort[] src = AllPatterns();
        float[] expected = new float[src.Length];
        GgmlReference.Fp16ToFp32Row(src, expected);

        float[] scalar = src.Select(HalfPrecision.HalfToSingle).ToArray();
        AssertSameBits(expected, scalar, "scalar");
        foreach (QuantSimdLevel level in QuantTestData.Levels())
        {
            float[] actual = new float[src.Length];
            HalfPrecision.HalfToSingle(src, actual, level);
            AssertSameBits(expected, actual, level.ToString());
        }
        float[] pub = new float[src.Length];
        HalfPrecision.HalfToSingle(src, pub);
        AssertSameBits(expected, pub, "public row");
    }

    [Fact]
    public void HalfToSingle_AllPatterns_MatchF16C()
    {
        ushort[] src = AllPatterns();
        float[] expected = new float[src.Length];
        GgmlReference.CpuFp16ToFp32(src, expected);
        float[] actual = new float[src.Length];
        HalfPrecision.HalfToSingle(src, actual);
        AssertSameBits(expected, actual, "vs ggml-cpu");
    }

    [Fact]
    public void BFloat16ToSingle_AllPatterns_MatchGgml()
    {
        ushort[] src = AllPatterns();
        float[] expected = new float[src.Length];
        GgmlReference.Bf16ToFp32Row(src, expected);

        AssertSameBits(expected, src.Select(HalfPrecision.BFloat16ToSingle).ToArray(), "scalar");
        foreach (QuantSimdLevel level in QuantTestData.Levels())
        {
            float[] actual = new float[src.Length];
            HalfPrecision.BFloat16ToSingle(src, actual, level);
            AssertSameBits(expected, actual, level.ToString());
        }
    }

    [Fact]
    public void SingleToHalf_MatchesGgml()
    {
        float[] src = FloatCorpus();
        ushort[] expected = new ushort[src.Length];
        GgmlReference.Fp32ToFp16Row(src, expected);

        AssertSame(expected, src.Select(HalfPrecision.SingleToHalf).ToArray(), src, "scalar");
        foreach (QuantSimdLevel level in QuantTestData.Levels())
        {
            ushort[] actual = new ushort[src.Length];
            HalfPrecision.SingleToHalf(src, actual, level);
            AssertSame(expected, actual, src, level.ToString());
        }
    }

    [Fact]
    public void SingleToHalf_MatchesF16C_ExceptNaNPayload()
    {
        float[] src = FloatCorpus();
        ushort[] expected = new ushort[src.Length];
        GgmlReference.CpuFp32ToFp16(src, expected);
        ushort[] actual = new ushort[src.Length];
        HalfPrecision.SingleToHalf(src, actual);
        for (int i = 0; i < src.Length; i++)
        {
            if (float.IsNaN(src[i]))
            {
                // F16C keeps the top payload bits; ggml's portable path (which we follow) returns the canonical quiet NaN.
                Assert.Equal(expected[i] & 0xFE00, actual[i] & 0xFE00);
                Assert.True((actual[i] & 0x03FF) != 0);
            }
            else if (expected[i] != actual[i])
            {
                Assert.Fail($"input 0x{BitConverter.SingleToUInt32Bits(src[i]):X8}: F16C 0x{expected[i]:X4}, ours 0x{actual[i]:X4}");
            }
        }
    }

    [Fact]
    public void SingleToHalf_AgreesWithDotNetHalf_ForNonNaN()
    {
        // A third, independent round-to-nearest-even implementation.
        float[] src = FloatCorpus();
        foreach (float v in src)
        {
            if (!float.IsNaN(v))
                Assert.Equal(BitConverter.HalfToUInt16Bits((Half)v), HalfPrecision.SingleToHalf(v));
        }
    }

    [Fact]
    public void SingleToBFloat16_MatchesGgml()
    {
        float[] src = FloatCorpus();
        ushort[] expected = new ushort[src.Length];
        GgmlReference.Fp32ToBf16RowRef(src, expected);

        AssertSame(expected, src.Select(HalfPrecision.SingleToBFloat16).ToArray(), src, "scalar");
        foreach (QuantSimdLevel level in QuantTestData.Levels())
        {
            ushort[] actual = new ushort[src.Length];
            HalfPrecision.SingleToBFloat16(src, actual, level);
            AssertSame(expected, actual, src, level.ToString());
        }
    }

    [Fact]
    public void RowKernels_HandleEveryTailLength()
    {
        var rng = new Random(7);
        for (int n = 0; n <= 80; n++)
        {
            float[] f = Enumerable.Range(0, n).Select(_ => (rng.NextSingle() - 0.5f) * 1000).ToArray();
            ushort[] h = Enumerable.Range(0, n).Select(_ => (ushort)rng.Next(65536)).ToArray();
            foreach (QuantSimdLevel level in QuantTestData.Levels())
            {
                // One slot past the end must stay untouched.
                ushort[] h2 = new ushort[n + 1];
                h2[n] = 0xABCD;
                HalfPrecision.SingleToHalf(f, h2, level);
                Assert.Equal(0xABCD, h2[n]);
                Assert.Equal(f.Select(HalfPrecision.SingleToHalf), h2.Take(n));

                HalfPrecision.SingleToBFloat16(f, h2, level);
                Assert.Equal(0xABCD, h2[n]);
                Assert.Equal(f.Select(HalfPrecision.SingleToBFloat16), h2.Take(n));

                float[] f2 = new float[n + 1];
                f2[n] = 42f;
                HalfPrecision.HalfToSingle(h, f2, level);
                Assert.Equal(42f, f2[n]);
                AssertSameBits(h.Select(HalfPrecision.HalfToSingle).ToArray(), f2.AsSpan(0, n), $"f16 n={n} {level}");

                HalfPrecision.BFloat16ToSingle(h, f2, level);
                Assert.Equal(42f, f2[n]);
                AssertSameBits(h.Select(HalfPrecision.BFloat16ToSingle).ToArray(), f2.AsSpan(0, n), $"bf16 n={n} {level}");
            }
        }
    }

    [Fact]
    public void RowKernels_RejectShortDestination()
    {
        Assert.Throws<ArgumentException>(() => HalfPrecision.HalfToSingle(new ushort[4], new float[3]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.SingleToHalf(new float[4], new ushort[3]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.BFloat16ToSingle(new ushort[4], new float[3]));
        Assert.Throws<ArgumentException>(() => HalfPrecision.SingleToBFloat16(new float[4], new ushort[3]));
    }
}
