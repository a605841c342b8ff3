namespace SeekSharp.Models.Architectures;

/// <summary>GGUF architecture "qwen2": Qwen2/2.5 and DeepSeek-R1-Distill-Qwen. NeoX RoPE, biases on Q, K and V.</summary>
public static class Qwen2
{
    public static ArchitectureFamily Family { get; } = new(
        "qwen2", RopeLayout.NeoX, HasQkvBias: true, HasQkNorm: false, DefaultPreTokenizer: "deepseek-r1-qwen",
        new[]
        {
            new ModelPreset("tiny", 64, 2, 160, 4, 2, 16, 0, 2048, 1000000f, 1e-6f, TiedEmbeddings: false),
            new ModelPreset("qwen2.5-0.5b", 896, 24, 4864, 14, 2, 64, 151936, 32768, 1000000f, 1e-6f, TiedEmbeddings: true),
            new ModelPreset("r1-distill-qwen-1.5b", 1536, 28, 8960, 12, 2, 128, 151936, 131072, 10000f, 1e-6f, TiedEmbeddings: false),
            new ModelPreset("r1-distill-qwen-7b", 3584, 28, 18944, 28, 4, 128, 152064, 131072, 10000f, 1e-6f, TiedEmbeddings: false),
        });
}
