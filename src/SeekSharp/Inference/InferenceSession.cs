using SeekSharp.Models;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Inference;

/// <summary>
/// One sequence being evaluated: its KV cache, activation buffers and worker threads. Prefill runs the prompt in
/// batches of up to <see cref="BatchSize"/> tokens; decode runs one token at a time. Nothing is allocated per token.
/// </summary>
public sealed class InferenceSession : IDisposable
{
    private readonly LanguageModel _model;
    private readonly IForwardWorkspace _workspace;
    private readonly WorkerPool _pool;
    private readonly bool _ownsPool;
    private readonly float[] _logits;
    private readonly List<int> _tokens = new();

    internal InferenceSession(LanguageModel model, int contextSize, int threads, int batchSize, KvCacheType cacheType)
    {
        _model = model;
        var c = model.Config;
        if (contextSize <= 0) contextSize = Math.Min(c.ContextLength, 4096);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), "batch size must be positive");
        BatchSize = Math.Min(batchSize, contextSize);
        Cache = KvCache.For(c, contextSize, cacheType);
        _workspace = model.Model.CreateWorkspace(BatchSize);
        _logits = new float[c.VocabSize];
        if (threads <= 0 || threads == WorkerPool.Shared.ThreadCount)
            _pool = WorkerPool.Shared;
        else
        {
            _pool = new WorkerPool(threads);
            _ownsPool = true;
        }
    }

    public KvCache Cache { get; }
    public int BatchSize { get; }
    public int ContextSize => Cache.Capacity;
    public int Position => Cache.Length;
    public int Threads => _pool.ThreadCount;

    /// <summary>Tokens evaluated so far in this sequence.</summary>
    public IReadOnlyList<int> Tokens => _tokens;

    /// <summary>Evaluates tokens after those already in the cache and returns the logits of the last one.</summary>
    public ReadOnlySpan<float> Evaluate(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("nothing to evaluate", nameof(tokens));
        Run(tokens, _logits, allLogits: false);
        return _logits;
    }

    /// <summary>Evaluates tokens and returns the logits of every one of them ([n, vocab]), for teacher forcing and perplexity.</summary>
    public float[] EvaluateAll(ReadOnlySpan<int> tokens)
    {
        var all = new float[(long)tokens.Length * _model.Config.VocabSize];
        Run(tokens, all, allLogits: true);
        return all;
    }

    /// <summary>Runs the tokens in batches of <see cref="BatchSize"/>; logits go to <paramref name="logits"/>, either
    /// the last token's (overwritten by each batch) or every token's at its own offset.</summary>
    private void Run(ReadOnlySpan<int> tokens, Span<float> logits, bool allLogits)
    {
        CheckRoom(tokens.Length);
        int vocab = _model.Config.VocabSize;
        for (int i = 0; i < tokens.Length; i += BatchSize)
        {
            var chunk = tokens.Slice(i, Math.Min(BatchSize, tokens.Length - i));
            var output = allLogits ? logits.Slice(i * vocab, chunk.Length * vocab) : logits;
            _model.Model.Forward(chunk, Cache, _workspace, output, allLogits, _pool);
            foreach (int t in chunk) _tokens.Add(t);
        }
    }

    private void CheckRoom(int count)
    {
        if (Position + count > ContextSize)
            throw new ContextFullException($"context is full: {Position} + {count} tokens exceed the context size {ContextSize} (raise -c)");
    }

    /// <summary>Drops everything after the first <paramref name="length"/> tokens (keeps a shared prefix).</summary>
    public void Truncate(int length)
    {
        Cache.Truncate(length);
        if (_tokens.Count > Cache.Length) _tokens.RemoveRange(Cache.Length, _tokens.Count - Cache.Length);
    }

    public void Reset() => Truncate(0);

    public void Dispose()
    {
        if (_ownsPool) _pool.Dispose();
    }
}

/// <summary>The sequence would grow past the context size.</summary>
public sealed class ContextFullException(string message) : InvalidOperationException(message);
