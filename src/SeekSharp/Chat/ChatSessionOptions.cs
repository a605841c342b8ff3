using System.Text.Json.Nodes;
using SeekSharp.Inference;

namespace SeekSharp.Chat;

/// <summary>Settings of a <see cref="ChatSession"/>.</summary>
public sealed record ChatSessionOptions
{
    /// <summary>Template source to use instead of the model's (<c>tokenizer.chat_template</c>, else ChatML).</summary>
    public string? Template { get; init; }

    /// <summary>System prompt placed before the conversation; null for none.</summary>
    public string? SystemPrompt { get; init; }

    public SamplingOptions Sampling { get; init; } = new();

    /// <summary>Most tokens per answer; negative means until end of generation or a full context.</summary>
    public int MaxTokens { get; init; } = -1;

    /// <summary>Stop at the model's end-of-generation tokens (false keeps going, for tests and benchmarks).</summary>
    public bool StopAtEndOfGeneration { get; init; } = true;

    /// <summary>Extra template variables (e.g. <c>enable_thinking</c>).</summary>
    public IReadOnlyDictionary<string, JsonNode?>? TemplateVariables { get; init; }
}
