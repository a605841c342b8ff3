using SeekSharp.Cli;
using SeekSharp.Gguf;
using SeekSharp.Models;

namespace SeekSharp.Tests.Conversion;

/// <summary><c>seek convert</c>: a successful run, and one-line errors for the usual mistakes.</summary>
public sealed class ConvertCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seek-convert-cli").FullName;
    private readonly string _gguf;

    public ConvertCliTests()
    {
        var family = ArchitectureRegistry.Find("llama")!;
        _gguf = Path.Combine(_dir, "llama.gguf");
        RandomModelBuilder.Build(new RandomModelOptions { Architecture = family, Shape = family.Presets[0], WeightType = GgmlType.F16 }).Write(_gguf);
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private static (int Code, string Out, string Err) Seek(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Folder(string name, HfFolderWriter.Options? options = null)
    {
        string dir = Path.Combine(_dir, name);
        HfFolderWriter.Write(_gguf, dir, options);
        return dir;
    }

    [Fact]
    public void ConvertsAFolder()
    {
        string output = Path.Combine(_dir, "out.gguf");
        var (code, _, err) = Seek("convert", Folder("ok"), output, "--type", "q8_0");
        Assert.True(code == 0, err);
        Assert.Contains("wrote", err);
        using var f = GgufFile.Open(output);
        Assert.Equal(GgmlType.Q8_0, f.GetTensor("blk.0.ffn_up.weight").Type);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));
    }

    private void Fails(string expected, params string[] args)
    {
        var (code, _, err) = Seek(args);
        Assert.Equal(1, code);
        Assert.Contains(expected, err);
        Assert.Single(err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("seek: error: ", err);
    }

    [Fact]
    public void MissingFolder() => Fails("model folder not found", "convert", Path.Combine(_dir, "nope"), Path.Combine(_dir, "x.gguf"));

    [Fact]
    public void MissingConfig()
    {
        string dir = Folder("noconfig");
        File.Delete(Path.Combine(dir, "config.json"));
        Fails("no config.json", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }

    [Fact]
    public void UnsupportedArchitectureIsNamed()
    {
        string dir = Folder("gpt2", new HfFolderWriter.Options { EditConfig = c => c["architectures"] = new System.Text.Json.Nodes.JsonArray("GPT2LMHeadModel") });
        Fails("architecture 'GPT2LMHeadModel' is not supported", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }

    [Fact]
    public void MissingTensor()
    {
        string dir = Folder("missing", new HfFolderWriter.Options { Drop = { "model.layers.1.self_attn.k_proj.weight" } });
        Fails("missing tensor 'blk.1.attn_k.weight'", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }

    [Fact]
    public void ShapeMismatch()
    {
        string dir = Folder("shape", new HfFolderWriter.Options { EditConfig = c => c["intermediate_size"] = 128 });
        Fails("config.json implies", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }

    [Fact]
    public void UnknownTensor()
    {
        string dir = Folder("unknown", new HfFolderWriter.Options { ExtraTensors = { ["model.layers.0.mystery.weight"] = (new float[4], [4]) } });
        Fails("cannot map tensor 'model.layers.0.mystery.weight'", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }

    [Fact]
    public void BadType() => Fails("unknown or unsupported quantization type", "convert", Folder("type"), Path.Combine(_dir, "x.gguf"), "--type", "q9_9");

    [Fact]
    public void CorruptShard()
    {
        string dir = Folder("corrupt");
        File.WriteAllBytes(Path.Combine(dir, "model.safetensors"), [255, 255, 255, 255, 255, 255, 255, 255, 1, 2]);
        Fails("model.safetensors: header length", "convert", dir, Path.Combine(_dir, "x.gguf"));
    }
}
