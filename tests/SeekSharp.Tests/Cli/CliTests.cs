using System.Text.Json;
using SeekSharp.Cli;
using SeekSharp.Gguf;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Cli;

/// <summary>The <c>seek</c> commands, driven in-process, checked against llama.cpp and for clean failures.</summary>
public class CliTests(TestModels models) : IClassFixture<TestModels>
{
    private static (int Code, string Out, string Err) Seek(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Theory]
    [InlineData("qwen2", GgmlType.Q8_0)]
    [InlineData("llama", GgmlType.Q4_K)]
    [InlineData("qwen3", GgmlType.F16)]
    public void RunGreedyPrintsLlamaCppsText(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        const string prompt = "Hello, world! The capital of France is";
        var (code, text, err) = Seek("run", "-m", path, "-p", prompt, "-n", "32", "--temp", "0", "-t", "2", "--ignore-eos");
        Assert.True(code == 0, err);
        Assert.Contains("tokens per second", err);

        using var reference = new LlamaCppReference(path);
        int[] promptTokens = reference.Tokenize(prompt, true, true);
        int[] expected = reference.Greedy(promptTokens, 32);
        Assert.Equal(reference.Detokenize(expected), text);

        var (jcode, json, _) = Seek("run", "-m", path, "-p", prompt, "-n", "32", "--temp", "0", "--ignore-eos", "--json");
        Assert.Equal(0, jcode);
        using var doc = JsonDocument.Parse(json);
        Assert.Equal(promptTokens, doc.RootElement.GetProperty("prompt_tokens").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(expected, doc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(text, doc.RootElement.GetProperty("text").GetString());
        Assert.True(doc.RootElement.GetProperty("timings").GetProperty("predicted_per_second").GetDouble() > 0);
    }

    /// <summary>--no-repack (-nr, as in llama.cpp) gives llama.cpp's --no-repack tokens; without it, its default's.</summary>
    [Fact]
    public void NoRepackFollowsLlamaCppNoRepack()
    {
        string path = models.Get("qwen3", GgmlType.Q4_0);
        const string prompt = "Hello, world! The capital of France is";
        foreach (bool repack in new[] { true, false })
        {
            string[] args = ["run", "-m", path, "-p", prompt, "-n", "24", "--temp", "0", "-t", "2", "--ignore-eos", "--json"];
            var (code, json, err) = Seek(repack ? args : [.. args, "-nr"]);
            Assert.True(code == 0, err);
            using var doc = JsonDocument.Parse(json);
            using var reference = new LlamaCppReference(path, repack: repack);
            int[] expected = reference.Greedy(reference.Tokenize(prompt, true, true), 24);
            Assert.Equal(expected, doc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        }
    }

    [Fact]
    public void SeededSamplingIsReproducible()
    {
        string path = models.Get("qwen2", GgmlType.Q8_0);
        string[] args = { "run", "-m", path, "-p", "Once upon a time", "-n", "24", "--temp", "1.0", "--top-k", "0", "--top-p", "0.9", "--min-p", "0.01", "--seed", "99", "--repeat-penalty", "1.1", "--json" };
        var a = Seek(args);
        var b = Seek(args);
        Assert.Equal(0, a.Code);
        string Tokens(string json) => JsonDocument.Parse(json).RootElement.GetProperty("tokens").ToString();
        Assert.Equal(Tokens(a.Out), Tokens(b.Out));
        Assert.Equal(JsonDocument.Parse(a.Out).RootElement.GetProperty("text").GetString(), JsonDocument.Parse(b.Out).RootElement.GetProperty("text").GetString());
        var c = Seek(args.Select(x => x == "99" ? "100" : x).ToArray());
        Assert.NotEqual(Tokens(a.Out), Tokens(c.Out));
    }

    [Fact]
    public void TokenizePrintsLlamaCppsIds()
    {
        string path = models.Get("llama", GgmlType.F32);
        const string text = "The quick brown fox <｜end▁of▁sentence｜> 12345   spaces\n\ttabs";
        var (code, stdout, err) = Seek("tokenize", "-m", path, text);
        Assert.True(code == 0, err);
        using var reference = new LlamaCppReference(path);
        Assert.Equal(reference.Tokenize(text, true, true), JsonSerializer.Deserialize<int[]>(stdout));
        var (_, noBos, _) = Seek("tokenize", "-m", path, "--no-bos", text);
        Assert.Equal(reference.Tokenize(text, false, true), JsonSerializer.Deserialize<int[]>(noBos));
    }

    [Fact]
    public void InfoDescribesTheModel()
    {
        var (code, stdout, err) = Seek("info", models.Get("qwen3", GgmlType.Q4_K));
        Assert.True(code == 0, err);
        Assert.Contains("architecture:  qwen3", stdout);
        Assert.Contains("q4_K", stdout);
        Assert.Contains("per-head q/k norm", stdout);
        Assert.Contains("KV cache:", stdout);
    }

    [Fact]
    public void PerplexityEndsWithThePplLine()
    {
        string path = models.Get("qwen2", GgmlType.Q8_0);
        string text = Path.Combine(models.Folder, "ppl.txt");
        File.WriteAllText(text, string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. Hello, world! ", 20)));
        var (code, stdout, err) = Seek("perplexity", "-m", path, "-f", text, "-c", "64", "--chunks", "2");
        Assert.True(code == 0, err);
        string last = stdout.TrimEnd().Split('\n')[^1];
        Assert.Matches(@"^PPL = \d+(\.\d+)?(E[+-]?\d+)?$", last);
        Assert.Contains("[1]", stdout);
        Assert.Contains("[2]", stdout);
        Assert.DoesNotContain("[3]", stdout);
    }

    [Fact]
    public void ModelNewAndQuantizeRoundTrip()
    {
        string f32 = Path.Combine(models.Folder, "cli-new.gguf");
        var made = Seek("model", "new", "--arch", "llama", "--preset", "tiny", "--embd", "256", "--ff", "512", "--head-dim", "64", "--seed", "5", f32);
        Assert.True(made.Code == 0, made.Err);
        foreach (string type in new[] { "q8_0", "q4_k_m", "q6_k", "bf16" })
        {
            string q = Path.Combine(models.Folder, $"cli-new-{type}.gguf");
            var r = Seek("quantize", f32, q, type);
            Assert.True(r.Code == 0, r.Err);
            using (var file = GgufFile.Open(q))
                Assert.Contains(file.Tensors, t => GgmlTypeInfo.Name(t.Type).Equals(type.Replace("_m", ""), StringComparison.OrdinalIgnoreCase));
            var run = Seek("run", "-m", q, "-p", "Hello", "-n", "8", "--temp", "0", "--ignore-eos", "--json");
            Assert.True(run.Code == 0, run.Err);

            using var reference = new LlamaCppReference(q);
            int[] prompt = reference.Tokenize("Hello", true, true);
            Assert.Equal(reference.Greedy(prompt, 8), JsonDocument.Parse(run.Out).RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()));
        }
    }

    [Theory]
    [InlineData("run", "-m", "/no/such/model.gguf", "-p", "x")]
    [InlineData("info", "/no/such/model.gguf")]
    [InlineData("tokenize", "-m", "/no/such/model.gguf", "x")]
    [InlineData("quantize", "/no/such/in.gguf", "/tmp/out.gguf", "q8_0")]
    public void MissingFilesFailWithOneLine(params string[] args)
    {
        var (code, stdout, err) = Seek(args);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.Contains("not found", err);
        Assert.StartsWith("seek: error:", err);
    }

    [Theory]
    [InlineData("run", "--bogus-flag")]
    [InlineData("run", "-m", "x.gguf", "-n", "notanumber", "-p", "x")]
    [InlineData("frobnicate")]
    [InlineData("model", "new", "--arch", "llama")]
    [InlineData("run", "-m", "x.gguf", "-p", "x", "--cache-type", "q9")]
    public void WrongFlagsFailWithOneLine(params string[] args)
    {
        var (code, _, err) = Seek(args);
        Assert.Equal(2, code);
        Assert.Single(err.TrimEnd().Split('\n'));
        Assert.StartsWith("seek:", err);
    }

    [Fact]
    public void BadInputsFailCleanly()
    {
        string dir = models.Folder;
        // unsupported architecture
        string mamba = Path.Combine(dir, "mamba.gguf");
        new GgufWriter().Set("general.architecture", "mamba").Set("tokenizer.ggml.model", "gpt2").Write(mamba);
        var r = Seek("run", "-m", mamba, "-p", "x");
        Assert.Equal(1, r.Code);
        Assert.Contains("unsupported architecture 'mamba'", r.Err);

        // not a GGUF file
        string junk = Path.Combine(dir, "junk.gguf");
        File.WriteAllText(junk, "this is not a model");
        r = Seek("info", junk);
        Assert.Equal(1, r.Code);
        Assert.Contains("bad magic", r.Err);

        // truncated model
        string good = models.Get("qwen2", GgmlType.Q8_0);
        string cut = Path.Combine(dir, "cut.gguf");
        File.WriteAllBytes(cut, File.ReadAllBytes(good)[..(int)(new FileInfo(good).Length / 2)]);
        r = Seek("run", "-m", cut, "-p", "x");
        Assert.Equal(1, r.Code);
        Assert.Contains("truncated", r.Err);

        // a prompt larger than the context
        r = Seek("run", "-m", good, "-p", string.Concat(Enumerable.Repeat("hello world ", 100)), "-c", "16");
        Assert.Equal(1, r.Code);
        Assert.Contains("does not fit a context of 16", r.Err);

        // bad numeric settings
        Assert.Equal(1, Seek("run", "-m", good, "-p", "x", "--top-p", "1.5").Code);
        Assert.Equal(1, Seek("model", "new", "--arch", "gpt5", Path.Combine(dir, "x.gguf")).Code);
        Assert.Equal(1, Seek("model", "new", "--arch", "qwen2", "--preset", "huge", Path.Combine(dir, "x.gguf")).Code);
        Assert.Equal(1, Seek("quantize", good, Path.Combine(dir, "q.gguf"), "q9_9").Code);
        Assert.Equal(1, Seek("perplexity", "-m", good, "-f", junk, "-c", "64").Code);
    }
}
