namespace SeekSharp.Inference;

/// <summary>
/// Sampling settings with llama.cpp's names and defaults. Temperature ≤ 0 means greedy (argmax).
/// Values ≤ 0 for top-k, ≥ 1 for top-p and ≤ 0 for min-p disable those filters.
/// </summary>
public sealed record SamplingOptions
{
    public float Temperature { get; init; } = 0.8f;
    public int TopK { get; init; } = 40;
    public float TopP { get; init; } = 0.95f;
    public float MinP { get; init; } = 0.05f;
    /// <summary>Multiplicative repetition penalty (1 = off), over the last <see cref="PenaltyLastN"/> tokens.</summary>
    public float RepeatPenalty { get; init; } = 1.0f;
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    public int PenaltyLastN { get; init; } = 64;
    /// <summary>Random seed; null picks one at random.</summary>
    public ulong? Seed { get; init; }

    public static SamplingOptions Greedy { get; } = new() { Temperature = 0 };

    public void Validate()
    {
        if (float.IsNaN(Temperature)) throw new ArgumentException("temperature must be a number");
        if (TopP is < 0 or > 1 || float.IsNaN(TopP)) throw new ArgumentException($"top-p must be between 0 and 1, got {TopP}");
        if (MinP is < 0 or > 1 || float.IsNaN(MinP)) throw new ArgumentException($"min-p must be between 0 and 1, got {MinP}");
        if (RepeatPenalty <= 0 || float.IsNaN(RepeatPenalty)) throw new ArgumentException($"repeat penalty must be positive, got {RepeatPenalty}");
        if (PenaltyLastN < -1) throw new ArgumentException("repeat-last-n must be -1 (whole context), 0 (off) or positive");
    }
}
