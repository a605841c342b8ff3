namespace SeekSharp.Models;

/// <summary>What distinguishes one GGUF architecture of the Llama family from another.</summary>
public sealed record ArchitectureFamily(
    string Name,
    RopeLayout RopeLayout,
    bool HasQkvBias,
    bool HasQkNorm,
    string DefaultPreTokenizer,
    IReadOnlyList<ModelPreset> Presets);

/// <summary>Shape of a real model (or a tiny one for tests) for <c>seek model new</c>.</summary>
public sealed record ModelPreset(
    string Name,
    int EmbeddingLength,
    int LayerCount,
    int FeedForwardLength,
    int HeadCount,
    int KvHeadCount,
    int HeadDim,
    int VocabSize,
    int ContextLength,
    float RopeFreqBase,
    float RmsNormEpsilon,
    bool TiedEmbeddings)
{
    /// <summary>Latent-attention and mixture-of-experts shape, for "deepseek2" presets.</summary>
    public DeepSeekShape? DeepSeek { get; init; }
}

/// <summary>
/// What a DeepSeek-V2/V3 model adds to <see cref="ModelPreset"/>: MLA ranks and head parts, and the DeepSeekMoE layout.
/// <see cref="YarnFactor"/> 0 means no RoPE scaling; <see cref="YarnMscaleAllDim"/> is the HF config's mscale_all_dim.
/// </summary>
public sealed record DeepSeekShape(
    int QLoraRank,
    int KvLoraRank,
    int QkNopeHeadDim,
    int QkRopeHeadDim,
    int VHeadDim,
    int ExpertCount,
    int ExpertUsedCount,
    int ExpertSharedCount,
    int ExpertFeedForwardLength,
    int LeadingDenseBlocks,
    ExpertGating Gating,
    bool SelectionBias,
    bool NormalizeWeights,
    float RoutedScaling,
    int ExpertGroups,
    int ExpertGroupsUsed,
    float YarnFactor,
    int YarnOriginalContext,
    float YarnMscaleAllDim)
{
    public int NextNLayers { get; init; }
}

public static class ArchitectureRegistry
{
    public static IReadOnlyList<ArchitectureFamily> All { get; } = new[]
    {
        Architectures.Llama.Family,
        Architectures.Qwen2.Family,
        Architectures.Qwen3.Family,
        Architectures.DeepSeek2.Family,
    };

    public static IEnumerable<string> Names => All.Select(a => a.Name);

    public static ArchitectureFamily? Find(string name) =>
        All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));
}
