using System.Runtime.Intrinsics;
using SeekSharp.Numerics;

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
