using System.Text.Json.Nodes;
using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

/// <summary>
/// Small templates whose expected output was produced by Python's Jinja2 configured as transformers configures it
/// (TestData/chat-templates/unit-cases.json, checked by check_unit_cases.py).
/// </summary>
public class JinjaSemanticsTests
{
    private static readonly string CasesPath = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "unit-cases.json");

    public static IEnumerable<object[]> Cases()
    {
        var cases = JsonNode.Parse(File.ReadAllText(CasesPath))!.AsArray();
        for (int i = 0; i < cases.Count; i++) yield return new object[] { i };
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesPythonJinja(int index)
    {
        var c = JsonNode.Parse(File.ReadAllText(CasesPath))!.AsArray()[index]!.AsObject();
        var vars = new Dictionary<string, object?>();
        if (c["v"] is JsonObject v)
            foreach (var kv in v) vars[kv.Key] = kv.Value;
        string actual = ChatTemplate.Parse((string)c["t"]!).Render(vars);
        Assert.Equal((string)c["e"]!, actual);
    }

    private static string R(string template, object? vars = null)
    {
        var dict = new Dictionary<string, object?>();
        if (vars != null)
            foreach (var kv in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(vars))!.AsObject()) dict[kv.Key] = kv.Value;
        return ChatTemplate.Parse(template).Render(dict);
    }

    [Fact]
    public void AttributeOfUndefinedIsUndefinedLikeHuggingFace()
    {
        // Python's Jinja raises here; Hugging Face's renderer (and we) keep going with Undefined.
        Assert.Equal("[][][]", R("[{{ missing.attr }}][{{ missing['k'] }}][{{ none.x }}]"));
        Assert.Equal("no", R("{{ 'yes' if missing.a.b is defined else 'no' }}"));
    }

    [Fact]
    public void DotAccessPrefersDictMethodsSubscriptPrefersKeys()
    {
        var vars = new { d = new Dictionary<string, object> { ["items"] = "key", ["x"] = 1 } };
        Assert.Equal("key", R("{{ d['items'] }}", vars));
        Assert.Equal("[('items', 'key'), ('x', 1)]", R("{{ d.items() | list }}", vars));
    }

    [Fact]
    public void StripWithCharsFollowsPython()
    {
        // @huggingface/jinja ignores the argument and strips all whitespace; Python strips only the given characters.
        Assert.Equal("[ a ]", R("[{{ '\\n a \\n'.strip('\\n') }}]"));
        Assert.Equal("[  Hi]", R("[{{ '\\n  Hi'.lstrip('\\n') }}]"));
    }

    [Fact]
    public void ContextVariablesAndExtras()
    {
        var t = ChatTemplate.Parse("{{ bos_token }}|{{ eos_token }}|{{ add_generation_prompt }}|{{ tools }}|{{ messages | length }}|{{ flag }}|{{ bos_token is defined }}");
        var ctx = new ChatTemplateContext
        {
            Messages = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "hi" }),
            AddGenerationPrompt = true,
            BosToken = "<s>",
        };
        ctx.Extra["flag"] = JsonValue.Create(42);
        Assert.Equal("<s>||True|None|1|42|True", t.Render(ctx));
        ctx.BosToken = null;
        Assert.EndsWith("|False", t.Render(ctx));
    }

    [Fact]
    public void NumbersFromJsonKeepIntegerOrFloat()
    {
        var ctx = new ChatTemplateContext();
        ctx.Extra["x"] = JsonNode.Parse("""{"i": 3, "f": 2.5, "g": 1.0, "big": 12345678901234}""");
        Assert.Equal("3 2.5 1.0 12345678901234 {\"i\": 3, \"f\": 2.5, \"g\": 1.0, \"big\": 12345678901234}",
            ChatTemplate.Parse("{{ x.i }} {{ x.f }} {{ x.g }} {{ x.big }} {{ x | tojson }}").Render(ctx));
    }

    [Fact]
    public void HostValuesOfAllSupportedKindsConvert()
    {
        var vars = new Dictionary<string, object?>
        {
            ["when"] = JsonValue.Create(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc)),
            ["f"] = JsonValue.Create(0.25f),
            ["list"] = new List<object?> { 1, "a", null, true },
            ["map"] = new Dictionary<string, object?> { ["k"] = new[] { 1L, 2L } },
            ["el"] = System.Text.Json.JsonDocument.Parse("{\"a\": [1.5, null]}").RootElement,
        };
        Assert.Equal("2024-01-02T03:04:05Z|0.25|[1, 'a', None, True]|{'k': [1, 2]}|{'a': [1.5, None]}",
            ChatTemplate.Parse("{{ when }}|{{ f }}|{{ list }}|{{ map }}|{{ el }}").Render(vars));
    }

    [Fact]
    public void StrftimeNowUsesTheContextClock()
    {
        var ctx = new ChatTemplateContext { Now = new DateTimeOffset(2024, 7, 26, 14, 5, 9, TimeSpan.Zero) };
        Assert.Equal("26 Jul 2024|July|14:05:09|02 PM|Friday|208",
            ChatTemplate.Parse("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%B') }}|{{ strftime_now('%H:%M:%S') }}|{{ strftime_now('%I %p') }}|{{ strftime_now('%A') }}|{{ strftime_now('%j') }}").Render(ctx));
    }

    [Fact]
    public void RaiseExceptionCarriesTheMessage()
    {
        var ex = Assert.Throws<TemplateException>(() => R("ok {{ raise_exception('Only user and assistant roles are supported!') }}"));
        Assert.Equal(TemplateErrorKind.Raised, ex.Kind);
        Assert.Equal("Only user and assistant roles are supported!", ex.Detail);
        Assert.Equal(1, ex.Line);
    }

    [Theory]
    [InlineData("{{ 1 + 'a' }}", "unsupported operand")]
    [InlineData("{{ 1 / 0 }}", "division by zero")]
    [InlineData("{{ 'x' | nosuchfilter }}", "no filter named 'nosuchfilter'")]
    [InlineData("{{ 1 is nosuchtest }}", "no test named 'nosuchtest'")]
    [InlineData("{{ undefined_fn() }}", "'undefined_fn' is undefined")]
    [InlineData("{{ (1)() }}", "not callable")]
    [InlineData("{% set x = 1 %}{% set x.y = 2 %}", "non-namespace")]
    [InlineData("{% for a, b in [1] %}{% endfor %}", "not iterable")]
    [InlineData("{{ 9223372036854775807 + 1 }}", "integer overflow")]
    [InlineData("{{ missing + 1 }}", "'missing' is undefined")]
    public void RuntimeErrorsAreTemplateExceptions(string template, string message)
    {
        var ex = Assert.Throws<TemplateException>(() => R(template));
        Assert.Equal(TemplateErrorKind.Runtime, ex.Kind);
        Assert.Contains(message, ex.Message);
        Assert.True(ex.Line >= 1 && ex.Column >= 1, ex.Message);
    }

    [Fact]
    public void RenderIsThreadSafeAndRepeatable()
    {
        var t = ChatTemplate.Parse("{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}");
        var results = new string[16];
        Parallel.For(0, results.Length, i =>
        {
            var ctx = new ChatTemplateContext();
            for (int k = 0; k < i; k++) ctx.Messages.Add(new JsonObject { ["role"] = "user" });
            results[i] = t.Render(ctx);
        });
        for (int i = 0; i < results.Length; i++) Assert.Equal(i.ToString(), results[i]);
    }
}
