using System.IO.Compression;
using System.Text.Json;
using SeekSharp.Cli;
using static SeekSharp.Tests.Tokenization.HuggingFaceReference;

namespace SeekSharp.Tests.Tokenization;

/// <summary><c>seek tokenize --tokenizer tokenizer.json</c> prints the Hugging Face tokenizers crate's ids.</summary>
public class HuggingFaceCliTests
{
    private static (int Code, string Out, string Err) Seek(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static string Unzipped(string name, string file)
    {
        // one copy per machine, reused by later runs (written under a unique name, then moved into place)
        string path = Path.Combine(Path.GetTempPath(), $"seeksharp-cli-{name}-{file}");
        if (!File.Exists(path))
        {
            string temp = path + "." + Guid.NewGuid().ToString("N");
            using (var gz = new GZipStream(File.OpenRead(Path.Combine(TokenizerTestData.Directory, name, file + ".gz")), CompressionMode.Decompress))
            using (var outFile = File.Create(temp))
                gz.CopyTo(outFile);
            File.Move(temp, path, overwrite: true);
        }
        return path;
    }

    [Fact]
    public void TokenizeWithTokenizerJson_PrintsReferenceIds()
    {
        string json = Unzipped("qwen3", "tokenizer.json");
        const string text = "<|im_start|>user\nCafé e\u0301 12345 😀<|im_end|>";
        var (code, stdout, err) = Seek("tokenize", "--tokenizer", json, text);
        Assert.True(code == 0, err);
        Assert.Equal(Encode(Reference("qwen3"), text), JsonSerializer.Deserialize<int[]>(stdout));
    }

    [Fact]
    public void TokenizeWithTokenizerConfig_AddsBosUnlessNoBos()
    {
        string json = Unzipped("deepseek-v3", "tokenizer.json");
        string config = Unzipped("deepseek-v3", "tokenizer_config.json");
        string file = Path.Combine(Path.GetTempPath(), $"seeksharp-cli-text-{Environment.ProcessId}.txt");
        File.WriteAllText(file, "Hello world\r\n\tfrom a file");
        try
        {
            CheckWithConfig(json, config, file);
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static void CheckWithConfig(string json, string config, string file)
    {
        int[] plain = Encode(Reference("deepseek-v3"), "Hello world\r\n\tfrom a file");
        var (code, stdout, err) = Seek("tokenize", "--tokenizer", json, "--tokenizer-config", config, "-f", file);
        Assert.True(code == 0, err);
        Assert.Equal([0, .. plain], JsonSerializer.Deserialize<int[]>(stdout)!);
        var (_, noBos, _) = Seek("tokenize", "--tokenizer", json, "--tokenizer-config", config, "--no-bos", "-f", file);
        Assert.Equal(plain, JsonSerializer.Deserialize<int[]>(noBos));
    }

    [Theory]
    [InlineData("tokenize", "--tokenizer", "/no/such/tokenizer.json", "x")]
    [InlineData("tokenize", "x")]
    [InlineData("tokenize", "--tokenizer-config", "/no/such/c.json", "-m", "/no/such/m.gguf", "x")]
    public void BadArgumentsFailWithOneLine(params string[] args)
    {
        var (code, stdout, err) = Seek(args);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("seek: error:", err);
    }
}
