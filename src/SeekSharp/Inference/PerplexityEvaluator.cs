namespace SeekSharp.Inference;

/// <summary>Result of a perplexity run: the running estimate after each chunk and the final value with its error.</summary>
public sealed record PerplexityResult(double Perplexity, double StandardError, IReadOnlyList<double> PerChunk, int Chunks, int ScoredTokens);

/// <summary>
/// Perplexity exactly as llama-perplexity computes it: the text is cut into chunks of the context size, the first token
/// of each chunk is replaced by BOS when the vocabulary adds one, and only the second half of each chunk is scored
/// (each token predicted with at least half a context of history).
/// </summary>
public static class PerplexityEvaluator
{
    public static PerplexityResult Evaluate(InferenceSession session, IReadOnlyList<int> tokens, int bosId, bool addBos,
        int maxChunks = -1, Action<int, double>? onChunk = null)
    {
        int nCtx = session.ContextSize;
        if (tokens.Count < 2 * nCtx)
            throw new ArgumentException($"you need at least {2 * nCtx} tokens to evaluate perplexity with a context of {nCtx} (the text has {tokens.Count})");
        int chunks = tokens.Count / nCtx;
        if (maxChunks >= 0) chunks = Math.Min(chunks, maxChunks);
        int first = nCtx / 2;
        double nll = 0, nll2 = 0;
        int count = 0;
        var perChunk = new List<double>();
        var chunk = new int[nCtx];
        for (int i = 0; i < chunks; i++)
        {
            for (int j = 0; j < nCtx; j++) chunk[j] = tokens[i * nCtx + j];
            if (addBos && bosId >= 0) chunk[0] = bosId;
            session.Reset();
            float[] logits = session.EvaluateAll(chunk);
            int vocab = logits.Length / nCtx;
            for (int j = first; j < nCtx - 1; j++)
            {
                var row = logits.AsSpan(j * vocab, vocab);
                int target = tokens[i * nCtx + j + 1];
                double logProb = row[target] - Numerics.Softmax.LogSumExp(row);
                nll -= logProb;
                nll2 += logProb * logProb;
                count++;
            }
            double ppl = Math.Exp(nll / count);
            perChunk.Add(ppl);
            onChunk?.Invoke(i, ppl);
        }
        double mean = nll / count, mean2 = nll2 / count;
        double err = count > 1 ? Math.Sqrt(Math.Max(0, mean2 - mean * mean) / (count - 1)) : 0;
        double ppl2 = Math.Exp(mean);
        return new PerplexityResult(ppl2, ppl2 * err, perChunk, chunks, count);
    }
}
