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
    bool TiedEmbeddings);

public static class ArchitectureRegistry
{
    public static IReadOnlyList<ArchitectureFamily> All { get; } = new[]
    {
        Architectures.Llama.Family,
        Architectures.Qwen2.Family,
        Architectures.Qwen3.Family,
    };

    public static IEnumerable<string> Names => All.Select(a => a.Name);

    public static ArchitectureFamily? Find(string name) =>
        All.FirstOrDefault(a => string.Equals(a.Name, name, StringComparison.Ordinal));
}
