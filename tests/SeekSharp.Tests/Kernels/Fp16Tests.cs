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

    /// <summary>
    /// The cheaper conversion the dot loops use for blocks without Inf/NaN is exact for every other pattern, and the block
    /// check finds every Inf/NaN pattern in every lane position (and nothing else).
    /// </summary>
    [Fact]
    public void FiniteConversionIsExactAndBlockCheckFindsEveryInfOrNaN()
    {
        var block = new ushort[64];
        var got = new uint[16];
        fixed (ushort* pb = block)
        {
            for (int h = 0; h < 65536; h++)
            {
                bool special = (h & 0x7C00) == 0x7C00;
                uint expected = BitConverter.SingleToUInt32Bits((float)BitConverter.UInt16BitsToHalf((ushort)h));
                Array.Fill(block, (ushort)0x3C00); // 1.0
                block[h & 63] = (ushort)h;
                if (Vector512.IsHardwareAccelerated)
                {
                    Assert.True(special == Fp16.AnyInfOrNaN(pb), $"512 check, half 0x{h:X4}");
                    if (!special)
                    {
                        Fp16.ToFloatFinite(Vector256.Load(pb + (h & 48))).AsUInt32().CopyTo(got);
                        Assert.True(expected == got[h & 15], $"512 finite, half 0x{h:X4}");
                    }
                }
                if (Vector256.IsHardwareAccelerated)
                {
                    Assert.True(special == Fp16.AnyInfOrNaN256(pb), $"256 check, half 0x{h:X4}");
                    if (!special)
                    {
                        Fp16.ToFloatFinite(Vector128.Load(pb + (h & 56))).AsUInt32().CopyTo(got);
                        Assert.True(expected == got[h & 7], $"256 finite, half 0x{h:X4}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// F16 dot products with Inf, NaN, subnormals and zeros in some 64-weight blocks (slow-path blocks next to fast-path
    /// ones), at every width, bit for bit against the same products with the weights converted to f32 first.
    /// </summary>
    [Fact]
    public void F16DotsWithInfNaNAndSubnormalBlocksMatchF32Weights()
    {
        const int n = 320, rows = 8;
        var rng = new Random(7);
        var w = new ushort[rows * n];
        var wf = new float[rows * n];
        var y = new float[4 * n];
        for (int i = 0; i < w.Length; i++)
            w[i] = BitConverter.HalfToUInt16Bits((Half)((rng.NextDouble() - 0.5) * 0.1));
        for (int i = 0; i < y.Length; i++)
            y[i] = (float)(Half)(rng.NextDouble() * 2 - 1);
        w[0 * n + 70] = 0x0001; w[0 * n + 71] = 0x83FF; w[0 * n + 72] = 0x8000; // subnormals and -0 (fast path)
        w[1 * n + 64 + 37] = 0x7C00;                                             // +Inf
        w[2 * n + 128 + 5] = 0xFC00;                                             // -Inf
        w[3 * n + 192 + 63] = 0x7E01;                                            // quiet NaN with payload
        w[4 * n + 256] = 0x7C01;                                                 // signalling NaN
        w[5 * n + 3] = 0x7BFF; w[5 * n + 4] = 0xFBFF;                            // largest finite halves (fast path)
        w[6 * n + 100] = 0x7C00; w[6 * n + 300] = 0xFC00;                        // Inf - Inf
        for (int i = 0; i < w.Length; i++)
            wf[i] = (float)BitConverter.UInt16BitsToHalf(w[i]);

        var four = new float[4];
        fixed (ushort* pw = w)
        fixed (float* pwf = wf, py = y, pf = four)
        {
            foreach (int width in new[] { 512, 256, 128, 0 })
            {
                if (width > KernelSettings.HardwareWidth)
                    continue;
                for (int r = 0; r < rows; r++)
                {
                    float expected = FloatDot.Dot64<float>(pwf + r * n, py, n, width);
                    float actual = FloatDot.Dot64<Half>(pw + r * n, py, n, width);
                    Assert.True(BitConverter.SingleToUInt32Bits(expected) == BitConverter.SingleToUInt32Bits(actual),
                        $"width {width} row {r}: expected {expected}, got {actual}");
                    FloatDot.Dot64x4((Half*)(pw + r * n), py, n * sizeof(float), n, width, pf);
                    for (int t = 0; t < 4; t++)
                    {
                        float e = FloatDot.Dot64<float>(pwf + r * n, py + t * n, n, width);
                        Assert.True(BitConverter.SingleToUInt32Bits(e) == BitConverter.SingleToUInt32Bits(four[t]),
                            $"x4 width {width} row {r} token {t}: expected {e}, got {four[t]}");
                    }
                }
            }
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
