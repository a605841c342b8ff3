using System.Text.Json.Nodes;
using SeekSharp.Chat.Jinja;

namespace SeekSharp.Chat;

/// <summary>
/// Inputs of a chat template render, named as Hugging Face's <c>apply_chat_template</c> passes them:
/// <c>messages</c>, <c>tools</c>, <c>add_generation_prompt</c>, <c>bos_token</c>, <c>eos_token</c>, plus any extra
/// variables (e.g. <c>enable_thinking</c>, <c>date_string</c>).
/// </summary>
public sealed class ChatTemplateContext
{
    /// <summary>The conversation: objects with "role", "content" and optionally "tool_calls", "reasoning_content"...</summary>
    public JsonArray Messages { get; set; } = new();

    /// <summary>Tool definitions (OpenAI function-calling format), or null for none (the template sees <c>tools = None</c>).</summary>
    public JsonArray? Tools { get; set; }

    /// <summary>Whether to end the prompt with the opening of an assistant turn.</summary>
    public bool AddGenerationPrompt { get; set; }

    /// <summary>The model's BOS token text; null leaves <c>bos_token</c> undefined.</summary>
    public string? BosToken { get; set; }

    /// <summary>The model's EOS token text; null leaves <c>eos_token</c> undefined.</summary>
    public string? EosToken { get; set; }

    /// <summary>Extra template variables; they override the standard ones of the same name.</summary>
    public Dictionary<string, JsonNode?> Extra { get; } = new(StringComparer.Ordinal);

    /// <summary>Clock for <c>strftime_now</c>; null means the current local time.</summary>
    public DateTimeOffset? Now { get; set; }

    /// <summary>Sandbox limits for this render.</summary>
    public TemplateLimits Limits { get; set; } = TemplateLimits.Default;
}

/// <summary>
/// A parsed Jinja chat template. Rendering runs in a sandbox: templates see only the data they are given and a fixed
/// set of filters, tests, methods and globals (no file, network, reflection or .NET access), and every render is
/// bounded by <see cref="TemplateLimits"/>. Parsing is done once; <see cref="Render"/> is thread-safe.
/// </summary>
public sealed class ChatTemplate
{
    private readonly List<Node> _program;

    private ChatTemplate(string source, List<Node> program)
    {
        Source = source;
        _program = program;
    }

    /// <summary>The template text as given.</summary>
    public string Source { get; }

    /// <summary>Parses a template; syntax errors throw <see cref="TemplateException"/> naming line and column.</summary>
    public static ChatTemplate Parse(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        try
        {
            return new ChatTemplate(source, JinjaParser.Parse(source));
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException(TemplateErrorKind.LimitExceeded, "template is nested too deeply");
        }
    }

    /// <summary>Renders the conversation into the prompt text.</summary>
    public string Render(ChatTemplateContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var vars = new Dictionary<string, object?>(StringComparer.Ordinal)
        {
            ["messages"] = context.Messages,
            ["tools"] = context.Tools,
            ["add_generation_prompt"] = context.AddGenerationPrompt,
        };
        if (context.BosToken != null) vars["bos_token"] = context.BosToken;
        if (context.EosToken != null) vars["eos_token"] = context.EosToken;
        foreach (var kv in context.Extra) vars[kv.Key] = kv.Value;
        return RenderCore(vars, context.Limits, context.Now);
    }

    /// <summary>Renders with an arbitrary set of variables (JsonNode, JsonElement, strings, numbers, bools, lists, dictionaries).</summary>
    public string Render(IReadOnlyDictionary<string, object?> variables, TemplateLimits? limits = null, DateTimeOffset? now = null)
    {
        ArgumentNullException.ThrowIfNull(variables);
        return RenderCore(variables, limits ?? TemplateLimits.Default, now);
    }

    private string RenderCore(IEnumerable<KeyValuePair<string, object?>> vars, TemplateLimits limits, DateTimeOffset? now)
    {
        var globals = JinjaBuiltins.CreateGlobals();
        var context = new Scope(globals);
        foreach (var kv in vars) context.Set(kv.Key, JinjaValues.FromHost(kv.Value));
        try
        {
            return new JinjaInterpreter(limits, now).Run(_program, context);
        }
        catch (InsufficientExecutionStackException)
        {
            throw new TemplateException(TemplateErrorKind.LimitExceeded, "template recursion is too deep");
        }
    }
}
