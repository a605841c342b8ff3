using System.Text.Json;
using SeekSharp.Cli;
using SeekSharp.Gguf;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Cli;

/// <summary><c>seek template</c>: exact rendering from GGUF and tokenizer_config.json templates, and one-line errors.</summary>
public class TemplateCliTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly string TemplatesDir = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates");

    private static (int Code, string Out, string Err) Seek(params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(models.Folder, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string Config(object chatTemplate) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["bos_token"] = new Dictionary<string, object> { ["__type"] = "AddedToken", ["content"] = "<｜begin▁of▁sentence｜>" },
        ["eos_token"] = "<｜end▁of▁sentence｜>",
        ["chat_template"] = chatTemplate,
    });

    [Fact]
    public void RendersTheGgufTemplateExactly()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        string conv = Write("conv.json", """[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]""");
        var (code, output, err) = Seek("template", "-m", model, "--messages", conv, "--add-generation-prompt");
        Assert.True(code == 0, err);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", output);

        var (code2, output2, _) = Seek("template", "-m", model, "--messages", conv);
        Assert.Equal(0, code2);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n", output2);
    }

    [Fact]
    public void RendersTokenizerConfigTemplatesLikeTheGoldenFiles()
    {
        // Same inputs as the golden test pair deepseek-r1 x reasoning-history.
        var conversations = JsonDocument.Parse(File.ReadAllText(Path.Combine(TemplatesDir, "conversations.json"))).RootElement;
        var conv = conversations.EnumerateArray().First(c => c.GetProperty("name").GetString() == "reasoning-history");
        string convPath = Write("reasoning-history.json", JsonSerializer.Serialize(new { messages = conv.GetProperty("messages") }));
        string template = File.ReadAllText(Path.Combine(TemplatesDir, "templates", "deepseek-r1.jinja"));
        string config = Write("tokenizer_config.json", Config(template));
        var args = new List<string> { "template", "--tokenizer-config", config, "--messages", convPath };
        if (conv.GetProperty("add_generation_prompt").GetBoolean()) args.Add("--add-generation-prompt");
        var (code, output, err) = Seek(args.ToArray());
        Assert.True(code == 0, err);
        Assert.Equal(File.ReadAllText(Path.Combine(TemplatesDir, "golden", "deepseek-r1__reasoning-history.txt")), output);

        // A list of named templates: "default" unless --template-name picks another.
        string named = Write("named_config.json", Config(new[]
        {
            new { name = "default", template = "D:{{ messages[0].content }}" },
            new { name = "tool_use", template = "T:{{ tools | length }}:{{ bos_token }}" },
        }));
        string tools = Write("tools.json", """[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"g"}}]""");
        Assert.Equal("D:" + conv.GetProperty("messages")[0].GetProperty("content").GetString(), Seek("template", "--tokenizer-config", named, "--messages", convPath).Out);
        Assert.Equal("T:2:<｜begin▁of▁sentence｜>", Seek("template", "--tokenizer-config", named, "--messages", convPath, "--tools", tools, "--template-name", "tool_use").Out);
        string withTools = Write("with-tools.json", """{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""");
        Assert.Equal("T:1:<｜begin▁of▁sentence｜>", Seek("template", "--tokenizer-config", named, "--messages", withTools, "--template-name", "tool_use").Out);
    }

    [Fact]
    public void ErrorsAreOneLine()
    {
        string conv = Write("ok.json", """[{"role":"user","content":"Hi"}]""");
        void Fails(string expected, params string[] args)
        {
            var (code, output, err) = Seek(args);
            Assert.Equal(1, code);
            Assert.Equal("", output);
            Assert.Contains(expected, err);
            Assert.Single(err.TrimEnd('\n').Split('\n'));
        }

        Fails("no chat_template", "template", "--tokenizer-config", Write("empty_config.json", "{}"), "--messages", conv);
        Fails("invalid JSON", "template", "--tokenizer-config", Write("t1.json", Config("x")), "--messages", Write("bad.json", "[{\"role\": "));
        Fails("expected an array of messages", "template", "--tokenizer-config", Write("t2.json", Config("x")), "--messages", Write("num.json", "42"));
        Fails("Only user and assistant", "template", "--tokenizer-config",
            Write("raise.json", Config("{% if messages[0].role != 'assistant' %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}")),
            "--messages", conv);
        Fails("template", "template", "--tokenizer-config", Write("syntax.json", Config("{% if %}")), "--messages", conv);
        Fails("not found", "template", "--tokenizer-config", Write("t3.json", Config(new[] { new { name = "a", template = "A" } })), "--messages", conv);
        Fails("either -m MODEL or --tokenizer-config", "template", "--messages", conv);
        Fails("file not found", "template", "--tokenizer-config", Write("t4.json", Config("x")), "--messages", Path.Combine(models.Folder, "missing.json"));

        // A GGUF without tokenizer.chat_template.
        string path = Path.Combine(models.Folder, "no-template-cli.gguf");
        var family = SeekSharp.Models.ArchitectureRegistry.Find("qwen2")!;
        SeekSharp.Models.RandomModelBuilder.Build(new SeekSharp.Models.RandomModelOptions
        {
            Architecture = family,
            Shape = family.Presets.First(p => p.Name == "tiny"),
            Vocabulary = SeekSharp.Models.SyntheticVocabulary.PadTo(SeekSharp.Models.SyntheticVocabulary.Create(512), 512),
        }).Write(path);
        Fails("has no chat template", "template", "-m", path, "--messages", conv);
    }

    [Fact]
    public void ModelNewStoresTheTokenizerConfigTemplate()
    {
        string tokenizerJson = Path.Combine(models.Folder, "tok.json");
        string config = Write("tok_config.json", Config("{{ bos_token }}custom:{{ messages | length }}"));
        // A minimal tokenizer.json: byte-level BPE with the two special tokens.
        var vocab = new Dictionary<string, int>();
        for (int b = 0; b < 256; b++) vocab[SeekSharp.Tokenization.ByteLevel.ByteToChar((byte)b).ToString()] = b;
        File.WriteAllText(tokenizerJson, JsonSerializer.Serialize(new
        {
            model = new { type = "BPE", vocab, merges = Array.Empty<string>() },
            added_tokens = new[]
            {
                new { id = 256, content = "<｜begin▁of▁sentence｜>", special = true },
                new { id = 257, content = "<｜end▁of▁sentence｜>", special = true },
            },
        }));
        string output = Path.Combine(models.Folder, "with-config-template.gguf");
        var made = Seek("model", "new", "--arch", "qwen2", "--vocab-from", tokenizerJson, "--tokenizer-config", config, "--vocab", "258", output);
        Assert.True(made.Code == 0, made.Err);
        string conv = Write("two.json", """[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]""");
        var (code, text, err) = Seek("template", "-m", output, "--messages", conv);
        Assert.True(code == 0, err);
        Assert.Equal("<｜begin▁of▁sentence｜>custom:2", text);
    }
}
