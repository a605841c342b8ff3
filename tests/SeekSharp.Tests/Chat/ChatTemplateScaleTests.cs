using System.Diagnostics;
using System.Text.Json.Nodes;
using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

public class ChatTemplateScaleTests
{
    private static string Template(string name) =>
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates", name + ".jinja"));

    [Theory]
    [InlineData("qwen3")]
    [InlineData("llama-3.2")]
    [InlineData("deepseek-v3")]
    public void LongConversationsFitTheDefaultLimits(string name)
    {
        var ctx = new ChatTemplateContext { AddGenerationPrompt = true, BosToken = "<s>", EosToken = "</s>" };
        ctx.Extra["date_string"] = "26 Jul 2024";
        string filler = new string('x', 2000);
        for (int i = 0; i < 2000; i++)
        {
            ctx.Messages.Add(new JsonObject { ["role"] = "user", ["content"] = $"question {i} {filler}" });
            ctx.Messages.Add(new JsonObject { ["role"] = "assistant", ["content"] = $"<think>\nthinking {i}\n</think>\n\nanswer {i}" });
        }
        ctx.Messages.Add(new JsonObject { ["role"] = "user", ["content"] = "last" });
        var t = ChatTemplate.Parse(Template(name));
        var sw = Stopwatch.StartNew();
        string prompt = t.Render(ctx);
        sw.Stop();
        Assert.True(prompt.Length > 4000 * 2000 / 2, $"{prompt.Length} chars");
        Assert.Contains("question 1999 ", prompt);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"{name}: {sw.Elapsed}");
    }
}
