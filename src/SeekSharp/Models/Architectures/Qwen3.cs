namespace SeekSharp.Models.Architectures;

/// <summary>GGUF architecture "qwen3": Qwen3 and DeepSeek-R1-0528-Qwen3. NeoX RoPE, per-head RMS norm on Q and K,
/// head size independent of the embedding width.</summary>
public static class Qwen3
{
    public static ArchitectureFamily Family { get; } = new(
        "qwen3", RopeLayout.NeoX, HasQkvBias: false, HasQkNorm: true, DefaultPreTokenizer: "qwen2",
        new[]
        {
            new ModelPreset("tiny", 64, 2, 160, 4, 2, 32, 0, 2048, 1000000f, 1e-6f, TiedEmbeddings: false),
            new ModelPreset("qwen3-0.6b", 1024, 28, 3072, 16, 8, 128, 151936, 40960, 1000000f, 1e-6f, TiedEmbeddings: true),
            new ModelPreset("r1-0528-qwen3-8b", 4096, 36, 12288, 32, 8, 128, 151936, 131072, 1000000f, 1e-6f, TiedEmbeddings: false),
        });
}
