using System.Text.Json;
using SeekSharp.Cli;
using SeekSharp.Gguf;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Cli;

/// <summary><c>seek chat</c> driven in-process: one-shot answers and a scripted conversation read from stdin.</summary>
public class ChatCliTests(TestModels models) : IClassFixture<TestModels>
{
    private static readonly string R1Template = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates", "deepseek-r1-distill-qwen.jinja");

    private static (int Code, string Out, string Err) Seek(string? stdin, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        int code = SeekCli.Run(args, stdout, stderr, stdin == null ? null : new StringReader(stdin));
        return (code, stdout.ToString(), stderr.ToString());
    }

    [Fact]
    public void PromptModeAnswersOnStdoutAndIsReproducible()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        string[] args = { "chat", "-m", model, "-p", "What is the capital of France?", "-n", "12", "--temp", "0", "-t", "2", "--ignore-eos" };
        var a = Seek(null, args);
        Assert.True(a.Code == 0, a.Err);
        Assert.NotEqual("", a.Out);
        Assert.Contains("12 tokens", a.Err);
        Assert.Contains("tok/s", a.Err);
        Assert.DoesNotContain("\x1b[", a.Out + a.Err); // not a terminal: no colours
        Assert.Equal(a.Out, Seek(null, args).Out);

        // Seeded sampling flags work as in seek run.
        string[] sampled = { "chat", "-m", model, "-p", "Once upon a time", "-n", "16", "--temp", "1", "--top-k", "0", "--seed", "7", "--ignore-eos" };
        Assert.Equal(Seek(null, sampled).Out, Seek(null, sampled).Out);
    }

    [Fact]
    public void PromptModeSendsReasoningToStderrUnlessHidden()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        // With R1's template the output starts inside the think block; a random model never closes it.
        string[] args = { "chat", "-m", model, "--chat-template-file", R1Template, "-p", "Why?", "-n", "10", "--temp", "0", "--ignore-eos" };
        var shown = Seek(null, args);
        Assert.True(shown.Code == 0, shown.Err);
        Assert.Equal("", shown.Out);
        var hidden = Seek(null, args.Append("--hide-reasoning").ToArray());
        Assert.Equal(0, hidden.Code);
        Assert.True(shown.Err.Length > hidden.Err.Length, "the reasoning should be on stderr");
        Assert.Contains("tok/s", hidden.Err);
    }

    [Fact]
    public void ScriptedConversationWithCommands()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        string saved = Path.Combine(models.Folder, "chat-cli-saved.json");
        string script = string.Join('\n',
            "Hello", "/save " + saved, "/reset", "/load " + saved, "How are you?", "/think", "/bogus", "/help", "/load /nonexistent/file.json", "/exit", "never read");
        var (code, output, err) = Seek(script, "chat", "-m", model, "--system", "Be kind.", "-n", "6", "--temp", "0", "--ignore-eos", "-t", "2");
        Assert.True(code == 0, err);
        var stats = System.Text.RegularExpressions.Regex.Matches(err, @"prompt (\d+) new \+ (\d+) cached tokens");
        Assert.Equal(2, stats.Count); // one stats line per answer
        Assert.Contains("saved 3 messages", err);
        Assert.Contains("conversation cleared", err);
        Assert.Contains("loaded 3 messages", err);
        Assert.Contains("unknown command /bogus", err);
        Assert.Contains("/save FILE", err);
        Assert.Contains("file not found", err);
        Assert.NotEqual("", output.Trim()); // the answers (commands and stats go to stderr)
        // The second turn reused the first turn's cache (the loaded history matches what was evaluated).
        Assert.Equal("0", stats[0].Groups[2].Value);
        Assert.True(int.Parse(stats[1].Groups[2].Value) > 0, stats[1].Value);

        var messages = JsonDocument.Parse(File.ReadAllText(saved)).RootElement;
        Assert.Equal(new[] { "system", "user", "assistant" }, messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
        Assert.Equal("Be kind.", messages[0].GetProperty("content").GetString());
    }
}
