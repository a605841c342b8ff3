using System.Buffers.Binary;
using System.Text;
using SeekSharp.Conversion;

namespace SeekSharp.Tests.Conversion;

public class SafeTensorsTests
{
    private static byte[] Image(string json, int dataBytes = 0, ulong? lengthOverride = null)
    {
        byte[] header = Encoding.UTF8.GetBytes(json);
        var image = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(image, lengthOverride ?? (ulong)header.Length);
        header.CopyTo(image, 8);
        return image;
    }

    private static string Rejects(byte[] image)
    {
        var e = Assert.Throws<SafeTensorsFormatException>(() => { using var f = SafeTensorsFile.FromMemory(image, "bad.safetensors"); });
        Assert.Contains("bad.safetensors", e.Message);
        return e.Message;
    }

    [Fact]
    public void ReadsTensorsAndMetadata()
    {
        var image = Image("{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[8,12]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12);
        int data = image.Length - 12;
        BinaryPrimitives.WriteSingleLittleEndian(image.AsSpan(data), 1.5f);
        BinaryPrimitives.WriteSingleLittleEndian(image.AsSpan(data + 4), -2f);
        using var f = SafeTensorsFile.FromMemory(image);
        Assert.Equal(["b", "a"], f.Tensors.Select(t => t.Name));
        Assert.Equal("pt", f.Metadata["format"]);
        var a = f.GetTensor("a");
        Assert.Equal(SafeTensorDType.F32, a.DType);
        Assert.Equal([2L], a.Shape);
        Assert.Equal(1.5f, BinaryPrimitives.ReadSingleLittleEndian(f.GetData(a)));
        Assert.Equal(SafeTensorDType.F16, f.GetTensor("b").DType);
    }

    [Fact]
    public void ScalarsAndEmptyTensors()
    {
        using var f = SafeTensorsFile.FromMemory(Image("{\"s\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[0,4]},\"e\":{\"dtype\":\"F32\",\"shape\":[0,3],\"data_offsets\":[4,4]}}", 4));
        Assert.Equal(1, f.GetTensor("s").ElementCount);
        Assert.Equal(0, f.GetTensor("e").ByteLength);
    }

    [Theory]
    [InlineData(ulong.MaxValue, "exceeds")]
    [InlineData(1UL << 40, "exceeds")]
    [InlineData(5000UL, "past the end")]
    [InlineData(1UL, "too small")]
    public void BadHeaderLengths(ulong length, string expected) =>
        Assert.Contains(expected, Rejects(Image("{}", 0, length)));

    [Fact]
    public void TooShort() => Assert.Contains("too short", Rejects(new byte[5]));

    [Theory]
    [InlineData("{\"a\":", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object")]
    [InlineData("{\"a\":{\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,1]}}", "unknown dtype 'Q4'")]
    [InlineData("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", "missing dtype")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", "non-negative")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", "non-negative integers")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}", "too large")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", "rank 9")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", "needs 8")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", "reversed")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", "[begin, end]")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", "run past")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775800,9223372036854775804]}}", "run past")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "overlap")]
    [InlineData("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", "duplicate")]
    [InlineData("{\"__metadata__\":{\"x\":1}}", "not a string")]
    [InlineData("{\"a\":7}", "not an object")]
    public void HostileHeaders(string json, string expected) => Assert.Contains(expected, Rejects(Image(json, 8)));

    [Fact]
    public void DeepNesting() => Assert.Contains("not valid JSON", Rejects(Image(new string('[', 5000) + new string(']', 5000))));

    [Fact]
    public void MissingFileIsFileNotFound() =>
        Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(Path.Combine(Path.GetTempPath(), "no-such-" + Guid.NewGuid() + ".safetensors")));

    [Fact]
    public void OpensThroughSymbolicLinks()
    {
        // Hugging Face caches keep model files as links to blobs: the target is read, not the link.
        string dir = Directory.CreateTempSubdirectory("seek-st-link-").FullName;
        try
        {
            string file = Path.Combine(dir, "blob"), link = Path.Combine(dir, "model.safetensors");
            File.WriteAllBytes(file, Image("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8));
            File.CreateSymbolicLink(link, file);
            using var f = SafeTensorsFile.Open(link);
            Assert.True(f.TryGetTensor("w", out var w));
            Assert.Equal(8, f.GetData(w).Length);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Random corruption of a valid file must either parse or fail with the format exception, nothing else.</summary>
    [Fact]
    public void FuzzedHeadersFailCleanly()
    {
        var valid = Image("{\"__metadata__\":{\"format\":\"pt\"},\"w\":{\"dtype\":\"BF16\",\"shape\":[2,3],\"data_offsets\":[0,12]},\"b\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[12,16]}}", 16);
        var rng = new Random(1234);
        int parsed = 0, rejected = 0;
        for (int iter = 0; iter < 4000; iter++)
        {
            var image = (byte[])valid.Clone();
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                int pos = rng.Next(iter % 5 == 0 ? 8 : image.Length);
                image[pos] = rng.Next(3) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)"0123456789[]{}\",:-"[rng.Next(18)],
                    _ => (byte)(image[pos] ^ (1 << rng.Next(8))),
                };
            }
            if (rng.Next(10) == 0) Array.Resize(ref image, rng.Next(image.Length));
            try
            {
                using var f = SafeTensorsFile.FromMemory(image);
                foreach (var t in f.Tensors)
                {
                    Assert.InRange(t.DataOffset + t.ByteLength, 0, image.Length);
                    _ = f.GetData(t).ToArray();
                }
                parsed++;
            }
            catch (SafeTensorsFormatException)
            {
                rejected++;
            }
        }
        Assert.True(parsed > 0 && rejected > 0, $"parsed {parsed}, rejected {rejected}");
    }
}
