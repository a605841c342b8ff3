using System.Text.Json.Nodes;
using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

/// <summary>Mutated real templates must parse and render or fail with a TemplateException — never anything else.</summary>
public class JinjaFuzzTests
{
    private static readonly string[] Fragments =
    {
        "{{", "}}", "{%", "%}", "{#", "#}", "-", "(", ")", "[", "]", "{", "}", "'", "\"", ",", ".", "|", ":", "~", "*", "**",
        " if ", " else ", " for ", " in ", " not ", " is ", " and ", " or ", "endif", "endfor", "set ", "macro ", "call ",
        "loop.index", "messages", "[::-1]", "| tojson", "| length", "namespace(x=1)", "range(5)", "none", "0", "1e9", "\\",
        "\n", " ", "'a' * 99", "raise_exception('x')", "caller()", "{% raw %}", "{% endraw %}", "\u00e9", "\ud83d\ude00",
    };

    [Fact]
    public void MutatedTemplatesFailCleanly()
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates");
        var sources = Directory.GetFiles(dir, "*.jinja").Select(File.ReadAllText).ToArray();
        var conv = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "conversations.json")))!.AsArray();
        var limits = new TemplateLimits { MaxSteps = 100_000, MaxLoopIterations = 10_000, MaxOutputChars = 100_000, MaxRecursionDepth = 16 };
        var rng = new Random(12345);
        int rendered = 0, failed = 0;
        for (int iter = 0; iter < 3000; iter++)
        {
            string s = sources[rng.Next(sources.Length)];
            int edits = 1 + rng.Next(4);
            for (int e = 0; e < edits; e++)
            {
                int pos = rng.Next(s.Length + 1);
                switch (rng.Next(3))
                {
                    case 0: s = s.Insert(pos, Fragments[rng.Next(Fragments.Length)]); break;
                    case 1: s = s.Remove(pos, Math.Min(s.Length - pos, rng.Next(1, 12))); break;
                    default:
                        int from = rng.Next(s.Length + 1);
                        s = s.Insert(pos, s.Substring(from, Math.Min(s.Length - from, rng.Next(1, 40))));
                        break;
                }
            }
            var c = conv[rng.Next(conv.Count)]!;
            var ctx = new ChatTemplateContext
            {
                Messages = c["messages"]!.DeepClone().AsArray(),
                Tools = c["tools"]?.DeepClone().AsArray(),
                AddGenerationPrompt = true,
                BosToken = "<s>",
                Limits = limits,
            };
            try
            {
                ChatTemplate.Parse(s).Render(ctx);
                rendered++;
            }
            catch (TemplateException)
            {
                failed++;
            }
        }
        Assert.True(rendered > 100 && failed > 100, $"rendered {rendered}, failed {failed}");
    }
}
