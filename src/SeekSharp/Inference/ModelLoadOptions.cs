namespace SeekSharp.Inference;

/// <summary>How <see cref="LanguageModel.Load(string, ModelLoadOptions?)"/> prepares a model's weights.</summary>
public sealed record ModelLoadOptions
{
    /// <summary>The defaults: repacking on, as in llama.cpp.</summary>
    public static ModelLoadOptions Default { get; } = new();

    /// <summary>
    /// Repack Q4_0 / Q4_K weights at load as llama.cpp's default CPU backend does (on by default, like llama.cpp; its
    /// <c>--no-repack</c> is <c>false</c> here). Logits then match llama.cpp's default run bit for bit, and those types
    /// run the faster interleaved kernels; off, they match <c>llama-cli --no-repack</c> and the weights stay mapped.
    /// Costs one pass over those weights at load and keeps them in memory instead of the file mapping.
    /// </summary>
    public bool Repack { get; init; } = true;
}
