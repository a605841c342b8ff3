using SeekSharp.Inference;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Models;

/// <summary>Test hook of the decoders (null in normal runs): receives named intermediate tensors, under llama.cpp's
/// graph names, for op-by-op comparison with llama.cpp's eval callback.</summary>
internal delegate void ForwardProbe(string name, int layer, ReadOnlySpan<float> values);

/// <summary>The steps of a forward pass that every decoder architecture takes the same way.</summary>
internal static class DecoderSteps
{
    /// <summary>Checks a batch of <paramref name="n"/> tokens against the workspace and the cache; returns the
    /// position of its first token.</summary>
    public static int BeginBatch(KvCache cache, int n, int maxTokens)
    {
        if (n > maxTokens) throw new ArgumentException($"batch of {n} tokens exceeds the workspace size {maxTokens}");
        int pos0 = cache.Length;
        if (pos0 + n > cache.Capacity)
            throw new InvalidOperationException($"context is full: {pos0} + {n} tokens exceed the context size {cache.Capacity}");
        return pos0;
    }

    /// <summary>Looks up each token's embedding row into <paramref name="x"/> (one row of d values per token) and
    /// computes the RoPE angles of the batch's positions.</summary>
    public static void Embed(in WeightMatrix embedding, ModelConfig c, ReadOnlySpan<int> tokens, Span<float> x,
        RotaryEmbedding rope, int pos0, Span<float> ropeCos, Span<float> ropeSin)
    {
        int d = c.EmbeddingLength;
        for (int t = 0; t < tokens.Length; t++)
        {
            int id = tokens[t];
            if ((uint)id >= (uint)c.VocabSize) throw new ArgumentOutOfRangeException(nameof(tokens), $"token id {id} is outside the vocabulary (0..{c.VocabSize - 1})");
            Dequantizer.DequantizeRow(embedding.Type, embedding.Row(id), x.Slice(t * d, d));
        }
        int half = c.RopeDimensions / 2;
        for (int t = 0; t < tokens.Length; t++)
            rope.ComputeAngles(pos0 + t, ropeCos.Slice(t * half, half), ropeSin.Slice(t * half, half));
    }

    /// <summary>Final norm and output projection: logits for every token of the batch when
    /// <paramref name="allLogits"/>, else for the last one only.</summary>
    public static void OutputLogits(ModelConfig c, float[] outputNorm, in WeightMatrix output, Span<float> x, Span<float> xb,
        int n, bool allLogits, Span<float> logits, WorkerPool pool, ForwardProbe? probe)
    {
        int d = c.EmbeddingLength;
        int first = allLogits ? 0 : n - 1;
        int outputs = n - first;
        for (int t = first; t < n; t++)
            Normalization.RmsNorm(x.Slice(t * d, d), outputNorm, xb.Slice((t - first) * d, d), c.RmsNormEpsilon);
        probe?.Invoke("result_norm", -1, xb[..(outputs * d)]);
        MatMul.Multiply(output, xb[..(outputs * d)], outputs, logits[..(outputs * c.VocabSize)], pool);
        probe?.Invoke("result_output", -1, logits[..(outputs * c.VocabSize)]);
    }
}
