using System.Text.Json.Nodes;
using SeekSharp.Conversion;

namespace SeekSharp.Tests.Conversion;

/// <summary>Shard discovery and the index's weight map: inconsistencies are errors that name the problem.</summary>
public sealed class HfModelFolderTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seek-hf-folder").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private void Shard(string file, params string[] names) =>
        HfFolderWriter.WriteSafeTensors(Path.Combine(_dir, file), names.Select(n => (n, "F32", new long[] { 2 }, new byte[8])));

    private void Index(params (string Tensor, string File)[] map)
    {
        var wm = new JsonObject();
        foreach (var (t, f) in map) wm[t] = f;
        File.WriteAllText(Path.Combine(_dir, "model.safetensors.index.json"), new JsonObject { ["weight_map"] = wm }.ToJsonString());
    }

    private HfModelFolder Open()
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), "{\"architectures\":[\"LlamaForCausalLM\"]}");
        return HfModelFolder.Open(_dir);
    }

    [Fact]
    public void ShardsAreReadInNameOrder()
    {
        Shard("model-00002-of-00002.safetensors", "c", "a");
        Shard("model-00001-of-00002.safetensors", "b");
        Index(("a", "model-00002-of-00002.safetensors"), ("b", "model-00001-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"));
        using var f = Open();
        Assert.Equal(["b", "c", "a"], f.Tensors.Select(t => t.Name)); // shard order, then header order
        Assert.Equal("LlamaForCausalLM", f.Config.Architecture);
    }

    [Fact]
    public void WithoutAnIndexEveryModelShardIsUsed()
    {
        Shard("model-00001-of-00002.safetensors", "a");
        Shard("model-00002-of-00002.safetensors", "b");
        using var f = Open();
        Assert.Equal(2, f.Tensors.Count);
    }

    [Fact]
    public void MissingShard()
    {
        Shard("model-00001-of-00002.safetensors", "a");
        Index(("a", "model-00001-of-00002.safetensors"), ("b", "model-00002-of-00002.safetensors"));
        Assert.Contains("model-00002-of-00002.safetensors", Assert.Throws<FileNotFoundException>(Open).Message);
    }

    [Fact]
    public void TensorListedButAbsent()
    {
        Shard("model-00001-of-00001.safetensors", "a");
        Index(("a", "model-00001-of-00001.safetensors"), ("z", "model-00001-of-00001.safetensors"));
        Assert.Contains("missing from the shards: z", Assert.Throws<SafeTensorsFormatException>(Open).Message);
    }

    [Fact]
    public void TensorInTheWrongShard()
    {
        Shard("model-00001-of-00002.safetensors", "a", "b");
        Shard("model-00002-of-00002.safetensors", "c");
        Index(("a", "model-00001-of-00002.safetensors"), ("b", "model-00002-of-00002.safetensors"), ("c", "model-00002-of-00002.safetensors"));
        Assert.Contains("'b' is in model-00001-of-00002.safetensors", Assert.Throws<SafeTensorsFormatException>(Open).Message);
    }

    [Fact]
    public void TensorInTwoShards()
    {
        Shard("model-00001-of-00002.safetensors", "a");
        Shard("model-00002-of-00002.safetensors", "a");
        Assert.Contains("more than one shard", Assert.Throws<SafeTensorsFormatException>(Open).Message);
    }

    [Theory]
    [InlineData("../model.safetensors")]
    [InlineData("/etc/passwd")]
    public void ShardNamesMustStayInTheFolder(string name)
    {
        Index(("a", name));
        Assert.Contains("plain file name", Assert.Throws<SafeTensorsFormatException>(Open).Message);
    }

    [Fact]
    public void NoWeights() => Assert.Contains("no model*.safetensors", Assert.Throws<FileNotFoundException>(Open).Message);
}
