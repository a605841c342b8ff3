using System.Buffers.Binary;
using System.Text;
using SeekSharp.Conversion;

namespace SeekSharp.Tests.Conversion;

public class Fp8Tests
{
    [Theory]
    [InlineData(0x00, 0.0f)]
    [InlineData(0x80, -0.0f)]
    [InlineData(0x01, 0.001953125f)] // smallest subnormal: 1/8 × 2^-6 = 2^-9
    [InlineData(0x07, 0.013671875f)] // largest subnormal: 7/8 × 2^-6
    [InlineData(0x08, 0.015625f)] // smallest normal: 2^-6
    [InlineData(0x38, 1.0f)] // exponent 7 = bias
    [InlineData(0x39, 1.125f)]
    [InlineData(0xB8, -1.0f)]
    [InlineData(0x40, 2.0f)]
    [InlineData(0x77, 240.0f)] // 1.875 × 2^7
    [InlineData(0x78, 256.0f)] // exponent 15 is a normal exponent (no infinities)
    [InlineData(0x7E, 448.0f)] // largest finite
    [InlineData(0xFE, -448.0f)]
    public void DecodesExactly(int code, float expected)
    {
        float v = Fp8E4M3.ToSingle((byte)code);
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(v));
    }

    [Fact]
    public void OnlyAllOnesIsNaN()
    {
        for (int b = 0; b < 256; b++)
            Assert.Equal((b & 0x7F) == 0x7F, float.IsNaN(Fp8E4M3.ToSingle((byte)b)));
        Assert.DoesNotContain(Enumerable.Range(0, 256), b => float.IsInfinity(Fp8E4M3.ToSingle((byte)b)));
    }

    /// <summary>A [3, 5] FP8 weight in 2×4 blocks: value = fp8 × scale_inv[row / 2, column / 4], partial blocks at the edges.</summary>
    [Fact]
    public void BlockScaledWeightsDequantizeExactly()
    {
        byte[] codes =
        [
            0x38, 0x40, 0xB8, 0x01, 0x7E,
            0x39, 0x00, 0x08, 0x77, 0x38,
            0x40, 0x40, 0x40, 0x40, 0xC0,
        ];
        float[] scales = [0.5f, 3f, 0.25f, -2f];
        string json = "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[3,5],\"data_offsets\":[0,15]},\"w_scale_inv\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[16,32]}}";
        byte[] header = Encoding.UTF8.GetBytes(json);
        var image = new byte[8 + header.Length + 32];
        BinaryPrimitives.WriteUInt64LittleEndian(image, (ulong)header.Length);
        header.CopyTo(image, 8);
        int data = 8 + header.Length;
        codes.CopyTo(image, data);
        for (int i = 0; i < 4; i++) BinaryPrimitives.WriteSingleLittleEndian(image.AsSpan(data + 16 + 4 * i), scales[i]);
        using var f = SafeTensorsFile.FromMemory(image);
        var reader = new SourceReader(new HfTensor(f, f.GetTensor("w")), new HfTensor(f, f.GetTensor("w_scale_inv")), 2, 4);
        var row = new float[5];
        float[][] expected =
        [
            [1f * 0.5f, 2f * 0.5f, -1f * 0.5f, 0.001953125f * 0.5f, 448f * 3f],
            [1.125f * 0.5f, 0f, 0.015625f * 0.5f, 240f * 0.5f, 1f * 3f],
            [2f * 0.25f, 2f * 0.25f, 2f * 0.25f, 2f * 0.25f, -2f * -2f],
        ];
        for (int r = 0; r < 3; r++)
        {
            reader.ReadRow(r, row);
            Assert.Equal(expected[r], row);
        }
    }

    [Fact]
    public void ScaleWithTheWrongShapeIsRejected()
    {
        string json = "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[3,5],\"data_offsets\":[0,15]},\"w_scale_inv\":{\"dtype\":\"F32\",\"shape\":[1,2],\"data_offsets\":[16,24]}}";
        byte[] header = Encoding.UTF8.GetBytes(json);
        var image = new byte[8 + header.Length + 24];
        BinaryPrimitives.WriteUInt64LittleEndian(image, (ulong)header.Length);
        header.CopyTo(image, 8);
        using var f = SafeTensorsFile.FromMemory(image);
        var e = Assert.Throws<InvalidDataException>(() => new SourceReader(new HfTensor(f, f.GetTensor("w")), new HfTensor(f, f.GetTensor("w_scale_inv")), 2, 4));
        Assert.Contains("expected [2, 2]", e.Message);
    }
}
