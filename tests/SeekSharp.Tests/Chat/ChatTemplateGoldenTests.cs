using System.Text;
using System.Text.Json.Nodes;
using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

/// <summary>
/// Renders every vendored chat template with every test conversation and compares byte for byte with the output of
/// Hugging Face's own JS Jinja (@huggingface/jinja), recorded by TestData/chat-templates/generate.mjs. The few pairs
/// where that port disagrees with Python's Jinja2 as transformers configures it are taken from Python instead
/// (golden-python/, recorded by generate_python.py).
/// </summary>
public class ChatTemplateGoldenTests
{
    private static readonly string Root = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates");

    private static JsonObject Templates => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "templates.json")))!.AsObject();
    private static JsonArray Conversations => JsonNode.Parse(File.ReadAllText(Path.Combine(Root, "conversations.json")))!.AsArray();

    public static IEnumerable<object[]> Pairs()
    {
        foreach (var t in Templates)
            foreach (var c in Conversations)
                yield return new object[] { t.Key, (string)c!["name"]! };
    }

    [Fact]
    public void EveryPairHasAGoldenFile()
    {
        int count = 0;
        foreach (var pair in Pairs())
        {
            string b = Path.Combine(Root, "golden", $"{pair[0]}__{pair[1]}");
            Assert.True(File.Exists(b + ".txt") || File.Exists(b + ".error"), $"missing golden output for {pair[0]} x {pair[1]}");
            count++;
        }
        Assert.True(count >= 7 * 17, $"only {count} pairs");
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void MatchesHuggingFaceJinja(string templateName, string conversationName)
    {
        var spec = Templates[templateName]!.AsObject();
        var conv = Conversations.First(c => (string)c!["name"]! == conversationName)!.AsObject();
        var template = ChatTemplate.Parse(File.ReadAllText(Path.Combine(Root, (string)spec["file"]!), Encoding.UTF8));

        var ctx = new ChatTemplateContext
        {
            Messages = conv["messages"]!.DeepClone().AsArray(),
            Tools = conv["tools"]?.DeepClone().AsArray(),
            AddGenerationPrompt = (bool)conv["add_generation_prompt"]!,
            BosToken = (string?)spec["bos_token"],
            EosToken = (string?)spec["eos_token"],
        };
        foreach (var source in new[] { spec["extra"], conv["extra"] })
            if (source is JsonObject extra)
                foreach (var kv in extra) ctx.Extra[kv.Key] = kv.Value?.DeepClone();

        // Where Python's Jinja2 (what transformers runs) and @huggingface/jinja disagree, generate_python.py records
        // Python's result in golden-python/ and we follow Python.
        string golden = Path.Combine(Root, "golden-python", $"{templateName}__{conversationName}");
        if (!File.Exists(golden + ".txt") && !File.Exists(golden + ".error"))
            golden = Path.Combine(Root, "golden", $"{templateName}__{conversationName}");
        if (File.Exists(golden + ".error"))
        {
            var ex = Assert.Throws<TemplateException>(() => template.Render(ctx));
            Assert.NotEqual(TemplateErrorKind.Syntax, ex.Kind);
            return;
        }
        string expected = File.ReadAllText(golden + ".txt", Encoding.UTF8);
        string actual = template.Render(ctx);
        if (expected != actual)
        {
            int i = 0;
            while (i < expected.Length && i < actual.Length && expected[i] == actual[i]) i++;
            string Around(string s) => s.Substring(Math.Max(0, i - 60), Math.Min(s.Length, i + 60) - Math.Max(0, i - 60));
            Assert.Fail($"first difference at char {i}\nexpected: ...{Escape(Around(expected))}...\nactual:   ...{Escape(Around(actual))}...");
        }
    }

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\t", "\\t");
}
