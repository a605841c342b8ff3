using System.Runtime.Intrinsics;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Tests.Kernels;

public unsafe class Fp16Tests
{
    [Fact]
    public void HalfToFloatIsExactForAllBitPatterns()
    {
        var bits = new ushort[8];
        for (int h = 0; h < 65536; h++)
        {
            float expected = (float)BitConverter.UInt16BitsToHalf((ushort)h);
            float actual = Fp16.ToFloat((ushort)h);
            ushort hb = (ushort)h;
            float viaTable = Fp16.ToFloat((byte*)&hb);
            Assert.Equal(BitConverter.SingleToInt32Bits(actual), BitConverter.SingleToInt32Bits(viaTable));
            if (float.IsNaN(expected))
                Assert.True(float.IsNaN(actual));
            else
                Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(actual));

            bits[h & 7] = (ushort)h;
            if ((h & 7) == 7)
            {
                Vector256<float> v8 = Fp16.ToFloat(Vector128.Create(bits));
                Vector128<float> v4 = Fp16.ToFloat(Vector64.Create(bits[0], bits[1], bits[2], bits[3]));
                for (int k = 0; k < 8; k++)
                {
                    float e = Fp16.ToFloat(bits[k]);
                    Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(v8[k]), $"half {bits[k]:x4}");
                    if (k < 4)
                        Assert.True(BitConverter.SingleToInt32Bits(e) == BitConverter.SingleToInt32Bits(v4[k]), $"half {bits[k]:x4}");
                }
            }
        }
    }

    /// <summary>
    /// Every vector width of the half -> float conversion (512: AVX-512 vfixupimmps fix-up; 256/128: compare and select)
    /// against .NET's own (float)Half for all 65,536 patterns, bit for bit (NaNs included: quietened, payload kept).
    /// </summary>
    [Fact]
    public void VectorHalfToFloatMatchesHalfCastForAllBitPatterns()
    {
        var expected = new uint[65536];
        var halves = new ushort[65536];
        for (int h = 0; h < 65536; h++)
        {
            halves[h] = (ushort)h;
            expected[h] = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));
        }
        var got = new uint[65536];
        fixed (ushort* p = halves)
        {
            if (Vector512.IsHardwareAccelerated)
            {
                for (int h = 0; h < 65536; h += 16)
                    Fp16.ToFloat(Vector256.Load(p + h)).AsUInt32().CopyTo(got, h);
                AssertSame(expected, got, "512");
            }
            for (int h = 0; h < 65536; h += 8)
                Fp16.ToFloat(Vector128.Load(p + h)).AsUInt32().CopyTo(got, h);
            AssertSame(expected, got, "256");
            for (int h = 0; h < 65536; h += 4)
                Fp16.ToFloat(Vector64.Load(p + h)).AsUInt32().CopyTo(got, h);
            AssertSame(expected, got, "128");
            // The 128-bit row conversion widens the upper half of a vector too.
            for (int h = 0; h < 65536; h += 8)
            {
                Vector128<short> v = Vector128.Load((short*)p + h);
                HalfPrecision.SignExtendedHalfToSingle(Vector128.WidenLower(v)).AsUInt32().CopyTo(got, h);
                HalfPrecision.SignExtendedHalfToSingle(Vector128.WidenUpper(v)).AsUInt32().CopyTo(got, h + 4);
            }
            AssertSame(expected, got, "128 lower/upper");
        }
    }

    private static void AssertSame(uint[] expected, uint[] actual, string what)
    {
        for (int h = 0; h < expected.Length; h++)
        {
            if (expected[h] != actual[h])
                Assert.Fail($"{what}: half 0x{h:X4}: expected 0x{expected[h]:X8}, got 0x{actual[h]:X8}");
        }
    }

    [Fact]
    public void Bf16RoundsToNearestEven()
    {
        Assert.Equal(0x3F80, Fp16.ToBf16(1.0f));
        Assert.Equal(0x3F80, Fp16.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808000))); // tie -> even
        Assert.Equal(0x3F82, Fp16.ToBf16(BitConverter.UInt32BitsToSingle(0x3F818000))); // tie -> even (up)
        Assert.Equal(0x3F81, Fp16.ToBf16(BitConverter.UInt32BitsToSingle(0x3F808001)));
        Assert.True(float.IsNaN(Fp16.Bf16ToFloat(Fp16.ToBf16(float.NaN))));
    }
}
