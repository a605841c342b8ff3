namespace SeekSharp.Models.Architectures;

/// <summary>GGUF architecture "llama": Llama 2/3 and DeepSeek-R1-Distill-Llama. Adjacent-pair RoPE, no biases.</summary>
public static class Llama
{
    public static ArchitectureFamily Family { get; } = new(
        "llama", RopeLayout.Normal, HasQkvBias: false, HasQkNorm: false, DefaultPreTokenizer: "llama-bpe",
        new[]
        {
            new ModelPreset("tiny", 64, 2, 160, 4, 2, 16, 0, 2048, 500000f, 1e-5f, TiedEmbeddings: false),
            new ModelPreset("llama-3.2-1b", 2048, 16, 8192, 32, 8, 64, 128256, 131072, 500000f, 1e-5f, TiedEmbeddings: true),
            new ModelPreset("r1-distill-llama-8b", 4096, 32, 14336, 32, 8, 128, 128256, 131072, 500000f, 1e-5f, TiedEmbeddings: false),
        });
}
