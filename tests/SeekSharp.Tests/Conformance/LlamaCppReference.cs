using LLama;
using LLama.Common;
using LLama.Native;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// llama.cpp (through LLamaSharp's CPU backend) as the reference engine: tokenization, greedy continuation and
/// logits under teacher forcing, from the same GGUF file our engine reads.
/// </summary>
internal sealed class LlamaCppReference : IDisposable
{
    private static readonly object InitLock = new();
    private static bool s_initialized;

    private readonly LLamaWeights _weights;
    private readonly LLamaContext _context;

    public LlamaCppReference(string modelPath, int contextSize = 512, int threads = 2, bool? flashAttention = false)
    {
        EnsureInitialized();
        var p = new ModelParams(modelPath)
        {
            ContextSize = (uint)contextSize,
            BatchSize = (uint)contextSize,
            UBatchSize = (uint)contextSize,
            Threads = threads,
            BatchThreads = threads,
            GpuLayerCount = 0,
            FlashAttention = flashAttention,
        };
        _weights = LLamaWeights.LoadFromFile(p);
        _context = _weights.CreateContext(p);
        VocabSize = _context.NativeHandle.ModelHandle.Vocab.Count;
    }

    public int VocabSize { get; }

    public static void EnsureInitialized()
    {
        lock (InitLock)
        {
            if (s_initialized) return;
            // llama.cpp is chatty on stderr; keep test output readable.
            NativeLibraryConfig.All.WithLogCallback((level, message) => { });
            // Load the native library through LLamaSharp's resolver before any direct native call (e.g. quantize).
            NativeApi.llama_empty_call();
            s_initialized = true;
        }
    }

    public int[] Tokenize(string text, bool addBos, bool special) =>
        _weights.NativeHandle.Tokenize(text, addBos, special, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>Greedy continuation: argmax of llama.cpp's logits at each step.</summary>
    public int[] Greedy(int[] prompt, int count)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        Decode(batch);
        var result = new List<int>();
        int pos = prompt.Length;
        for (int step = 0; step < count; step++)
        {
            var logits = _context.NativeHandle.GetLogitsIth(batch.TokenCount - 1);
            int next = ArgMax(logits);
            result.Add(next);
            batch.Clear();
            batch.Add(next, pos++, LLamaSeqId.Zero, true);
            Decode(batch);
        }
        return result.ToArray();
    }

    /// <summary>Logits at every position of <paramref name="tokens"/> ([n][vocab]), evaluated in one batch.</summary>
    public float[][] Logits(int[] tokens)
    {
        _context.NativeHandle.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
        Decode(batch);
        var all = new float[tokens.Length][];
        for (int i = 0; i < tokens.Length; i++) all[i] = _context.NativeHandle.GetLogitsIth(i).ToArray();
        return all;
    }

    private void Decode(LLamaBatch batch)
    {
        var r = _context.NativeHandle.Decode(batch);
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    public void Dispose()
    {
        _context.Dispose();
        _weights.Dispose();
    }
}
