using System.Diagnostics;
using SeekSharp.Chat;

namespace SeekSharp.Tests.Chat;

/// <summary>Templates are untrusted input: limits, syntax errors and the absence of any host access.</summary>
public class JinjaSandboxTests
{
    private static readonly TemplateLimits Small = new()
    {
        MaxSteps = 200_000,
        MaxLoopIterations = 50_000,
        MaxRecursionDepth = 20,
        MaxOutputChars = 100_000,
    };

    private static TemplateException Fails(string template, TemplateLimits? limits = null)
    {
        var sw = Stopwatch.StartNew();
        var ex = Assert.Throws<TemplateException>(() =>
            ChatTemplate.Parse(template).Render(new Dictionary<string, object?>(), limits ?? Small));
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(5), $"took {sw.Elapsed}");
        return ex;
    }

    [Theory]
    [InlineData("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}", "loop iterations")]
    [InlineData("{% for i in range(1000) %}{% for j in range(1000) %}{{ i }}{% endfor %}{% endfor %}", "")]
    [InlineData("{% set ns = namespace(s='x') %}{% for i in range(100) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}", "")]
    [InlineData("{{ 'x' * 100000000 }}", "characters")]
    [InlineData("{{ range(1000000000) | length }}", "characters")]
    [InlineData("{% for i in range(200000) %}abcdefghij{% endfor %}", "")]
    [InlineData("{{ [0] * 1000000000 }}", "characters")]
    [InlineData("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}", "nested deeper than 20")]
    [InlineData("{% macro a() %}{{ b() }}{% endmacro %}{% macro b() %}{{ a() }}{% endmacro %}{{ a() }}", "nested deeper")]
    [InlineData("{{ 2 ** 100000 }}", "overflow")]
    public void LimitsStopRunawayTemplates(string template, string message)
    {
        var ex = Fails(template);
        Assert.Contains(message, ex.Message);
        Assert.True(ex.Kind is TemplateErrorKind.LimitExceeded || message == "overflow", ex.Message);
    }

    [Fact]
    public void DefaultLimitsStopAnInfiniteishLoopQuickly()
    {
        var ex = Fails("{% for i in range(1000000) %}{% for j in range(1000000) %}{% endfor %}{% endfor %}", TemplateLimits.Default);
        Assert.Equal(TemplateErrorKind.LimitExceeded, ex.Kind);
    }

    [Fact]
    public void DefaultOutputLimitIsTenMillionChars()
    {
        Assert.Equal(10_000_000, TemplateLimits.Default.MaxOutputChars);
        var ex = Fails("{% for i in range(2000) %}{{ 'x' * 10000 }}{% endfor %}", TemplateLimits.Default);
        Assert.Equal(TemplateErrorKind.LimitExceeded, ex.Kind);
        Assert.Contains("10000000 characters", ex.Message);
    }

    [Fact]
    public void DeeplyNestedSourceIsASyntaxErrorNotAStackOverflow()
    {
        string parens = "{{ " + new string('(', 5000) + "1" + new string(')', 5000) + " }}";
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(parens));
        Assert.Contains("nesting", ex.Message);
        string ifs = string.Concat(Enumerable.Repeat("{% if true %}", 5000)) + string.Concat(Enumerable.Repeat("{% endif %}", 5000));
        Assert.Throws<TemplateException>(() => ChatTemplate.Parse(ifs));
        string nots = "{{ " + string.Concat(Enumerable.Repeat("not ", 5000)) + "1 }}";
        Assert.Throws<TemplateException>(() => ChatTemplate.Parse(nots));
    }

    [Theory]
    [InlineData("{{ ''.__class__ }}")]
    [InlineData("{{ ''.__class__.__mro__ }}")]
    [InlineData("{{ range.__globals__ }}")]
    [InlineData("{{ namespace.__init__ }}")]
    [InlineData("{{ messages.GetType }}")]
    [InlineData("{{ cycler }}{{ joiner }}{{ lipsum }}{{ config }}{{ self }}{{ request }}{{ os }}")]
    public void NoHostObjectsAreReachable(string template)
    {
        Assert.Equal("", ChatTemplate.Parse(template).Render(new Dictionary<string, object?> { ["messages"] = new List<object?>() }));
    }

    [Theory]
    [InlineData("{{ ''.__class__() }}")]
    [InlineData("{{ messages.GetType() }}")]
    [InlineData("{{ range.__call__(3) }}")]
    public void CallingHostMembersFails(string template)
    {
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template).Render(new Dictionary<string, object?> { ["messages"] = new List<object?>() }));
        Assert.Equal(TemplateErrorKind.Runtime, ex.Kind);
    }

    [Fact]
    public void ArbitraryHostObjectsAreRejected()
    {
        var ex = Assert.Throws<TemplateException>(() =>
            ChatTemplate.Parse("{{ x }}").Render(new Dictionary<string, object?> { ["x"] = new Stopwatch() }));
        Assert.Contains("cannot be passed", ex.Message);
    }

    [Theory]
    [InlineData("hello {{ name", 1, 7, "expected '}}'")]
    [InlineData("a\nb {% if x %}\nc", 3, 2, "expected '{% elif %}'")]
    [InlineData("{% for x in y %}\n{% endif %}", 2, 4, "unexpected '{% endif %}'")]
    [InlineData("line1\n  {% frobnicate %}", 2, 6, "unknown statement 'frobnicate'")]
    [InlineData("{{ 'abc }}", 1, 4, "unterminated string")]
    [InlineData("x\n{{ 1 + }}", 2, 8, "unexpected '}}'")]
    [InlineData("{# never closed", 1, 1, "unterminated comment")]
    [InlineData("{% endfor %}", 1, 4, "no matching opening block")]
    [InlineData("{{ a b }}", 1, 6, "expected '}}'")]
    [InlineData("{% set = 1 %}", 1, 8, "expected a name")]
    [InlineData("{{ x | }}", 1, 8, "expected a name")]
    [InlineData("{{ f(a=1, 2) }}", 1, 11, "positional argument follows keyword")]
    [InlineData("{{ 1 $ 2 }}", 1, 6, "unexpected character '$'")]
    [InlineData("{% raw %}never ended", 1, 1, "endraw")]
    public void SyntaxErrorsNameLineAndColumn(string template, int line, int column, string message)
    {
        var ex = Assert.Throws<TemplateException>(() => ChatTemplate.Parse(template));
        Assert.Equal(TemplateErrorKind.Syntax, ex.Kind);
        Assert.Contains(message, ex.Message);
        Assert.Equal((line, column), (ex.Line, ex.Column));
        Assert.Contains($"line {line}, column {column}", ex.Message);
    }
}
