namespace SeekSharp.Chat;

/// <summary>
/// A piece of a streamed answer: the generated token (-1 for text flushed at the end) and the reasoning and answer
/// text it completed (either may be empty: a token can end inside a UTF-8 character or a tag).
/// </summary>
public readonly record struct ChatDelta(int TokenId, string Reasoning, string Content);

/// <summary>Counts and timings of one answer.</summary>
public sealed class ChatTurnStats
{
    /// <summary>Tokens of the whole rendered prompt.</summary>
    public int PromptTokens { get; internal set; }

    /// <summary>Prompt tokens already in the KV cache from earlier turns (not evaluated again).</summary>
    public int CachedTokens { get; internal set; }

    /// <summary>Prompt tokens evaluated for this answer (<see cref="PromptTokens"/> - <see cref="CachedTokens"/>).</summary>
    public int EvaluatedPromptTokens => PromptTokens - CachedTokens;

    public int GeneratedTokens { get; internal set; }

    /// <summary>Generated tokens that fell inside the think block.</summary>
    public int ReasoningTokens { get; internal set; }

    public TimeSpan PromptTime { get; internal set; }
    public TimeSpan GenerationTime { get; internal set; }
    public double PromptTokensPerSecond => EvaluatedPromptTokens / Math.Max(PromptTime.TotalSeconds, 1e-9);
    public double GenerationTokensPerSecond => GeneratedTokens / Math.Max(GenerationTime.TotalSeconds, 1e-9);

    /// <summary>"eos", "length", "context" or "cancelled".</summary>
    public string StopReason { get; internal set; } = "";
}
