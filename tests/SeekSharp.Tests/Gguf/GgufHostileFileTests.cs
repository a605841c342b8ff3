using System.Buffers.Binary;
using SeekSharp.Gguf;

namespace SeekSharp.Tests.Gguf;

public class GgufHostileFileTests
{
    private static GgufFormatException Rejects(byte[] image) =>
        Assert.Throws<GgufFormatException>(() => { using var f = GgufFile.FromMemory(image); });

    private static byte[] Header(uint version, ulong tensors, ulong kvs, params byte[][] rest)
    {
        var ms = new MemoryStream();
        var b = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(b, GgufFile.Magic); ms.Write(b, 0, 4);
        BinaryPrimitives.WriteUInt32LittleEndian(b, version); ms.Write(b, 0, 4);
        BinaryPrimitives.WriteUInt64LittleEndian(b, tensors); ms.Write(b, 0, 8);
        BinaryPrimitives.WriteUInt64LittleEndian(b, kvs); ms.Write(b, 0, 8);
        foreach (var r in rest) ms.Write(r);
        return ms.ToArray();
    }

    private static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }
    private static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    private static byte[] Str(string s) => U64((ulong)s.Length).Concat(System.Text.Encoding.UTF8.GetBytes(s)).ToArray();

    [Fact]
    public void BadMagic() => Assert.Contains("magic", Rejects("GGML\x03\0\0\0"u8.ToArray().Concat(new byte[16]).ToArray()).Message);

    [Fact]
    public void TooShort() => Assert.Contains("short", Rejects(new byte[] { 0x47, 0x47 }).Message);

    [Theory]
    [InlineData(1u, "version 1")]
    [InlineData(4u, "unsupported GGUF version 4")]
    [InlineData(0x03000000u, "big-endian")]
    public void BadVersions(uint version, string expected) => Assert.Contains(expected, Rejects(Header(version, 0, 0)).Message);

    [Fact]
    public void ImpossibleCounts()
    {
        Assert.Contains("metadata count", Rejects(Header(3, 0, ulong.MaxValue)).Message);
        Assert.Contains("tensor count", Rejects(Header(3, 1UL << 40, 0)).Message);
    }

    [Fact]
    public void HugeStringLength() =>
        Assert.Contains("past the end", Rejects(Header(3, 0, 1, U64(ulong.MaxValue - 3), new byte[16])).Message);

    [Fact]
    public void HugeArrayCount() =>
        Assert.Contains("array elements", Rejects(Header(3, 0, 1, Str("k"), U32(9), U32(4), U64(1UL << 61))).Message);

    [Fact]
    public void UnknownValueType() =>
        Assert.Contains("unknown value type 99", Rejects(Header(3, 0, 1, Str("k"), U32(99), U64(0))).Message);

    [Fact]
    public void DeepNesting()
    {
        var parts = new List<byte[]> { Str("k"), U32(9) };
        for (int i = 0; i < 20; i++) { parts.Add(U32(9)); parts.Add(U64(1)); }
        parts.Add(new byte[64]);
        Assert.Contains("nests arrays", Rejects(Header(3, 0, 1, parts.ToArray())).Message);
    }

    [Fact]
    public void DuplicateKey() =>
        Assert.Contains("duplicate metadata key", Rejects(Header(3, 0, 2, Str("k"), U32(4), U32(1), Str("k"), U32(4), U32(1))).Message);

    [Fact]
    public void BadAlignment() =>
        Assert.Contains("power of two", Rejects(Header(3, 0, 1, Str("general.alignment"), U32(4), U32(48))).Message);

    [Fact]
    public void TensorProblems()
    {
        byte[] Tensor(string name, uint nd, ulong[] dims, uint type, ulong offset) =>
            Str(name).Concat(U32(nd)).Concat(dims.SelectMany(U64)).Concat(U32(type)).Concat(U64(offset)).ToArray();
        var pad = new byte[64];
        Assert.Contains("dimensions", Rejects(Header(3, 1, 0, Tensor("t", 5, new ulong[] { 1, 1, 1, 1, 1 }, 0, 0), pad)).Message);
        Assert.Contains("unknown type 77", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { 4 }, 77, 0), pad)).Message);
        Assert.Contains("block size", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { 33 }, 8, 0), pad)).Message);
        Assert.Contains("overflows", Rejects(Header(3, 1, 0, Tensor("t", 2, new ulong[] { 1UL << 40, 1UL << 40 }, 0, 0), pad)).Message);
        Assert.Contains("negative", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { ulong.MaxValue }, 0, 0), pad)).Message);
        Assert.Contains("not aligned", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { 4 }, 0, 3), pad)).Message);
        Assert.Contains("past the end", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { 1024 }, 0, 0), pad)).Message);
        Assert.Contains("past the end", Rejects(Header(3, 1, 0, Tensor("t", 1, new ulong[] { 4 }, 0, 1UL << 62), pad)).Message);
        Assert.Contains("duplicate tensor", Rejects(Header(3, 2, 0, Tensor("t", 1, new ulong[] { 4 }, 0, 0), Tensor("t", 1, new ulong[] { 4 }, 0, 32), pad)).Message);
    }

    [Fact]
    public void EveryTruncationIsAClearError()
    {
        byte[] good = GgufRoundTripTests.SampleImage();
        using (GgufFile.FromMemory(good)) { }
        for (int len = 0; len < good.Length; len++)
        {
            try
            {
                using var f = GgufFile.FromMemory(good.AsSpan(0, len));
                // Cutting only trailing padding after the last tensor cannot be detected, and is harmless.
                Assert.True(len >= (long)f.DataOffset + (long)f.Tensors.Max(t => (long)t.Offset + t.ByteSize), $"length {len} accepted");
            }
            catch (GgufFormatException) { }
        }
    }

    /// <summary>Thousands of random mutations of a valid file: each must parse or end in GgufFormatException, and
    /// every tensor it accepts must lie inside the file.</summary>
    [Fact]
    public void FuzzedFilesEndInCleanErrors()
    {
        byte[] good = GgufRoundTripTests.SampleImage();
        var rng = new Random(1234);
        int accepted = 0, rejected = 0;
        for (int iter = 0; iter < 5000; iter++)
        {
            byte[] m = (byte[])good.Clone();
            int kind = rng.Next(5);
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                int at = rng.Next(m.Length);
                switch (kind)
                {
                    case 0: m[at] = (byte)rng.Next(256); break;
                    case 1: m[at] ^= (byte)(1 << rng.Next(8)); break;
                    case 2: // plant an extreme 64-bit value (lengths, counts, dims, offsets)
                        if (at + 8 <= m.Length)
                            BinaryPrimitives.WriteUInt64LittleEndian(m.AsSpan(at), rng.Next(4) switch
                            {
                                0 => ulong.MaxValue, 1 => 1UL << rng.Next(64), 2 => (ulong)rng.Next(), _ => 0,
                            });
                        break;
                    case 3: // plant an extreme 32-bit value (types, n_dims)
                        if (at + 4 <= m.Length) BinaryPrimitives.WriteUInt32LittleEndian(m.AsSpan(at), (uint)rng.Next(-2, 40));
                        break;
                    default: m = m.AsSpan(0, at).ToArray(); break;
                }
            }
            try
            {
                using var f = GgufFile.FromMemory(m);
                foreach (var t in f.Tensors)
                    Assert.True(f.DataOffset + (long)t.Offset + t.ByteSize <= f.FileSize);
                _ = f.Metadata.Select(kv => kv.Value.ToString()).ToList();
                accepted++;
            }
            catch (GgufFormatException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                rejected++;
            }
        }
        Assert.True(rejected > 1000, $"only {rejected} mutations rejected");
        Assert.True(accepted > 10, $"only {accepted} mutations accepted");
    }
}
