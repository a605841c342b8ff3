using SeekSharp.Gguf;

namespace SeekSharp.Tests.Gguf;

public class GgufRoundTripTests
{
    internal static byte[] SampleImage(int alignment = 32)
    {
        var w = new GgufWriter();
        if (alignment != 32) w.Set("general.alignment", (uint)alignment);
        w.Set("general.architecture", "llama");
        w.Set("general.name", "unit — test ✓");
        w.Set("llama.block_count", 2u);
        w.Set("llama.rope.freq_base", 10000f);
        w.Set("some.bool", true);
        w.Set("some.i64", GgufValue.Of(-5L));
        w.Set("some.u64", GgufValue.Of(ulong.MaxValue));
        w.Set("some.f64", GgufValue.Of(Math.PI));
        w.Set("some.u8", new GgufValue(GgufValueType.UInt8, (byte)7));
        w.Set("some.i8", new GgufValue(GgufValueType.Int8, (sbyte)-7));
        w.Set("some.u16", new GgufValue(GgufValueType.UInt16, (ushort)65535));
        w.Set("some.i16", new GgufValue(GgufValueType.Int16, (short)-300));
        w.Set("tokenizer.ggml.tokens", new[] { "a", "b", "Ġhello", "" });
        w.Set("tokenizer.ggml.token_type", new[] { 1, 1, 1, 3 });
        w.Set("some.floats", new[] { 1.5f, -2f });
        w.Set("some.nested", GgufValue.Of(new GgufArray(GgufValueType.Array, new[]
        {
            new GgufArray(GgufValueType.Int32, new[] { 1, 2 }),
            new GgufArray(GgufValueType.String, new[] { "x" }),
        })));
        var f32 = new byte[4 * 8 * 3];
        for (int i = 0; i < f32.Length; i++) f32[i] = (byte)i;
        w.AddTensor("a.weight", GgmlType.F32, new long[] { 8, 3 }, f32);
        var q8 = new byte[34 * 2];
        for (int i = 0; i < q8.Length; i++) q8[i] = (byte)(255 - i);
        w.AddTensor("b.weight", GgmlType.Q8_0, new long[] { 64 }, q8);
        w.AddTensor("c.weight", GgmlType.F16, new long[] { 2, 1, 1, 1 }, new byte[] { 1, 2, 3, 4 });
        var ms = new MemoryStream();
        w.WriteTo(ms);
        return ms.ToArray();
    }

    [Fact]
    public void OpensThroughSymbolicLinks()
    {
        // Model folders (e.g. Hugging Face caches) are often links to blobs: the target is mapped, not the link.
        string dir = Directory.CreateTempSubdirectory("seek-link-").FullName;
        try
        {
            string file = Path.Combine(dir, "model.gguf"), link = Path.Combine(dir, "link.gguf"), chain = Path.Combine(dir, "chain.gguf");
            File.WriteAllBytes(file, SampleImage());
            File.CreateSymbolicLink(link, file);
            File.CreateSymbolicLink(chain, link);
            using var direct = GgufFile.FromMemory(SampleImage());
            foreach (string path in new[] { link, chain })
            {
                using var f = GgufFile.Open(path);
                Assert.Equal(direct.Tensors.Count, f.Tensors.Count);
                Assert.Equal(direct.GetData(direct.Tensors[0]).ToArray(), f.GetData(f.Tensors[0]).ToArray());
            }
            File.Delete(file);
            Assert.Throws<FileNotFoundException>(() => GgufFile.Open(link));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void EveryValueTypeAndTensorRoundTrips()
    {
        using var f = GgufFile.FromMemory(SampleImage());
        Assert.Equal(3u, f.Version);
        Assert.Equal("llama", f.GetString("general.architecture"));
        Assert.Equal("unit — test ✓", f.GetString("general.name"));
        Assert.Equal(2, f.GetInt32("llama.block_count"));
        Assert.Equal(10000f, f.GetSingle("llama.rope.freq_base"));
        Assert.True(f.GetBool("some.bool", false));
        Assert.Equal(-5L, f.GetInt64("some.i64"));
        Assert.Equal(ulong.MaxValue, (ulong)f.GetValue("some.u64").Value);
        Assert.Equal(Math.PI, f.GetValue("some.f64").AsDouble());
        Assert.Equal(7, f.GetInt32("some.u8"));
        Assert.Equal(-7, f.GetInt32("some.i8"));
        Assert.Equal(65535, f.GetInt32("some.u16"));
        Assert.Equal(-300, f.GetInt32("some.i16"));
        Assert.Equal(new[] { "a", "b", "Ġhello", "" }, f.GetValue("tokenizer.ggml.tokens").AsArray().AsStrings());
        Assert.Equal(new[] { 1, 1, 1, 3 }, f.GetValue("tokenizer.ggml.token_type").AsArray().AsInt32s());
        var nested = f.GetValue("some.nested").AsArray();
        Assert.Equal(GgufValueType.Array, nested.ElementType);
        Assert.Equal(new[] { 1, 2 }, ((GgufArray)nested.Items.GetValue(0)!).AsInt32s());
        Assert.Equal(new[] { "x" }, ((GgufArray)nested.Items.GetValue(1)!).AsStrings());

        Assert.Equal(3, f.Tensors.Count);
        var a = f.GetTensor("a.weight");
        Assert.Equal(new long[] { 8, 3 }, a.Dimensions);
        Assert.Equal(3, a.Rows);
        Assert.Equal(8, a.Columns);
        Assert.Equal(0, f.DataOffset % 32);
        Assert.Equal(Enumerable.Range(0, 96).Select(i => (byte)i).ToArray(), f.GetData(a).ToArray());
        var b = f.GetTensor("b.weight");
        Assert.Equal(0ul, b.Offset % 32);
        Assert.Equal(68, f.GetData(b).Length);
        Assert.Equal((byte)255, f.GetData(b)[0]);
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, f.GetData(f.GetTensor("c.weight")).ToArray());
        var keys = f.Metadata.Select(kv => kv.Key).ToList();
        Assert.Equal("general.architecture", keys[0]);
    }

    [Fact]
    public void CustomAlignmentIsHonoured()
    {
        using var f = GgufFile.FromMemory(SampleImage(alignment: 64));
        Assert.Equal(64, f.Alignment);
        Assert.Equal(0, f.DataOffset % 64);
        Assert.All(f.Tensors, t => Assert.Equal(0ul, t.Offset % 64));
    }

    [Fact]
    public void WriteIsAtomicAndMemoryMapped()
    {
        string dir = Directory.CreateTempSubdirectory("seek-gguf").FullName;
        string path = Path.Combine(dir, "m.gguf");
        File.WriteAllText(path, "old contents");
        var w = new GgufWriter().Set("general.architecture", "llama");
        w.AddTensor("t", GgmlType.F32, new long[] { 4 }, new byte[16]);
        w.Write(path);
        Assert.Single(Directory.GetFiles(dir));
        using (var f = GgufFile.Open(path)) Assert.Single(f.Tensors);

        // A callback that fails half-way leaves the previous file intact and no temp file behind.
        var bad = new GgufWriter();
        bad.AddTensor("t", GgmlType.F32, new long[] { 4 }, s => { s.Write(new byte[8]); throw new IOException("disk full"); });
        Assert.Throws<IOException>(() => bad.Write(path));
        Assert.Single(Directory.GetFiles(dir));
        using (var f = GgufFile.Open(path)) Assert.Equal("llama", f.GetString("general.architecture"));
        Directory.Delete(dir, true);
    }

    [Fact]
    public void MissingAndEmptyFilesGiveClearErrors()
    {
        Assert.Throws<FileNotFoundException>(() => GgufFile.Open("/nonexistent/x.gguf"));
        string empty = Path.GetTempFileName();
        var e = Assert.Throws<GgufFormatException>(() => GgufFile.Open(empty));
        Assert.Contains("empty", e.Message);
        File.Delete(empty);
    }
}
