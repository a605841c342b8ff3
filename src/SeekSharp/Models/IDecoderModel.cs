using SeekSharp.Inference;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Models;

/// <summary>Activation buffers one model allocates once for forward passes of up to <see cref="MaxTokens"/> tokens.</summary>
public interface IForwardWorkspace
{
    int MaxTokens { get; }
}

/// <summary>
/// A decoder-only language model as the inference layer drives it: one implementation per architecture family
/// (<see cref="DecoderTransformer"/> for Llama/Qwen, <see cref="DeepSeek2Transformer"/> for DeepSeek-V2/V3), each with
/// its own workspace and its own KV-cache row layout (see <see cref="ModelConfig.CacheKeyWidth"/>).
/// </summary>
public interface IDecoderModel
{
    ModelConfig Config { get; }

    IForwardWorkspace CreateWorkspace(int maxTokens);

    /// <summary>
    /// Runs <paramref name="tokens"/> at the cache's next positions, appends their cache rows, and writes logits: for
    /// every token when <paramref name="allLogits"/> (logits.Length ≥ n·vocab), else for the last.
    /// </summary>
    void Forward(ReadOnlySpan<int> tokens, KvCache cache, IForwardWorkspace workspace, Span<float> logits, bool allLogits, WorkerPool pool);
}
