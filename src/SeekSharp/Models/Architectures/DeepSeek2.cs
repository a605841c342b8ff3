namespace SeekSharp.Models.Architectures;

/// <summary>
/// GGUF architecture "deepseek2": DeepSeek-V2, V2.5, V3 and R1. Multi-head latent attention (adjacent-pair RoPE on a
/// separate part of each head, a latent KV cache) and DeepSeekMoE feed-forward after leading dense blocks.
/// </summary>
public static class DeepSeek2
{
    public static ArchitectureFamily Family { get; } = new(
        "deepseek2", RopeLayout.Normal, HasQkvBias: false, HasQkNorm: false, DefaultPreTokenizer: "deepseek-v3",
        new[]
        {
            // Tests: V2-style (no query compression, softmax router, two shared experts, YaRN with mscale_all_dim).
            new ModelPreset("tiny", 64, 3, 96, 4, 4, 48, 0, 2048, 10000f, 1e-6f, TiedEmbeddings: false)
            {
                DeepSeek = new DeepSeekShape(QLoraRank: 0, KvLoraRank: 32, QkNopeHeadDim: 32, QkRopeHeadDim: 16, VHeadDim: 32,
                    ExpertCount: 8, ExpertUsedCount: 2, ExpertSharedCount: 2, ExpertFeedForwardLength: 32, LeadingDenseBlocks: 1,
                    ExpertGating.Softmax, SelectionBias: false, NormalizeWeights: false, RoutedScaling: 1f, ExpertGroups: 1, ExpertGroupsUsed: 1,
                    YarnFactor: 4f, YarnOriginalContext: 512, YarnMscaleAllDim: 0.707f),
            },
            // Tests: V3-style (query compression, sigmoid router with selection bias, groups, normalised and scaled weights).
            new ModelPreset("tiny-v3", 64, 4, 96, 4, 4, 48, 0, 2048, 10000f, 1e-6f, TiedEmbeddings: false)
            {
                DeepSeek = new DeepSeekShape(QLoraRank: 32, KvLoraRank: 32, QkNopeHeadDim: 32, QkRopeHeadDim: 16, VHeadDim: 32,
                    ExpertCount: 16, ExpertUsedCount: 4, ExpertSharedCount: 1, ExpertFeedForwardLength: 32, LeadingDenseBlocks: 2,
                    ExpertGating.Sigmoid, SelectionBias: true, NormalizeWeights: true, RoutedScaling: 2.5f, ExpertGroups: 4, ExpertGroupsUsed: 2,
                    YarnFactor: 0f, YarnOriginalContext: 0, YarnMscaleAllDim: 0f),
            },
            new ModelPreset("deepseek-v2-lite", 2048, 27, 10944, 16, 16, 192, 102400, 163840, 10000f, 1e-6f, TiedEmbeddings: false)
            {
                DeepSeek = new DeepSeekShape(QLoraRank: 0, KvLoraRank: 512, QkNopeHeadDim: 128, QkRopeHeadDim: 64, VHeadDim: 128,
                    ExpertCount: 64, ExpertUsedCount: 6, ExpertSharedCount: 2, ExpertFeedForwardLength: 1408, LeadingDenseBlocks: 1,
                    ExpertGating.Softmax, SelectionBias: false, NormalizeWeights: false, RoutedScaling: 1f, ExpertGroups: 1, ExpertGroupsUsed: 1,
                    YarnFactor: 40f, YarnOriginalContext: 4096, YarnMscaleAllDim: 0.707f),
            },
            // DeepSeek-V3/R1's design at a size a laptop runs: 8 layers of 1024, 64 experts (8 groups, 4 used) of 256.
            new ModelPreset("deepseek-v3-mini", 1024, 8, 2816, 8, 8, 192, 129280, 163840, 10000f, 1e-6f, TiedEmbeddings: false)
            {
                DeepSeek = new DeepSeekShape(QLoraRank: 384, KvLoraRank: 256, QkNopeHeadDim: 64, QkRopeHeadDim: 32, VHeadDim: 64,
                    ExpertCount: 64, ExpertUsedCount: 8, ExpertSharedCount: 1, ExpertFeedForwardLength: 256, LeadingDenseBlocks: 1,
                    ExpertGating.Sigmoid, SelectionBias: true, NormalizeWeights: true, RoutedScaling: 2.5f, ExpertGroups: 8, ExpertGroupsUsed: 4,
                    YarnFactor: 40f, YarnOriginalContext: 4096, YarnMscaleAllDim: 1.0f),
            },
        });
}
