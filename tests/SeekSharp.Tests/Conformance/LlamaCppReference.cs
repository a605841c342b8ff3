using LLama;
using LLama.Common;
using LLama.Native;
using SeekSharp.Inference;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// llama.cpp (through LLamaSharp's CPU backend) as the reference engine: tokenization, greedy continuation and
/// logits under teacher forcing, from the same GGUF file our engine reads.
/// </summary>
internal sealed class LlamaCppReference : IDisposable
{
    private static readonly object InitLock = new();
    private static bool s_initialized;

    private readonly SafeLlamaModelHandle _model;
    private readonly SafeLLamaContextHandle _ctx;

    /// <param name="repack">llama.cpp's default (true) repacks Q4_0 and Q4_K weights (on this x86 build) into interleaved
    /// layouts whose kernels sum in another order than the plain ggml kernels; false is llama-cli --no-repack. Compare
    /// with our engine loaded the same way (<see cref="ModelLoadOptions.Repack"/>).</param>
    public LlamaCppReference(string modelPath, int contextSize = 512, int threads = 2, bool flashAttention = false, bool repack = true, nint evalCallback = 0)
    {
        EnsureInitialized();
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        mp.use_extra_bufts = repack;
        _model = SafeLlamaModelHandle.LoadFromFile(modelPath, mp);
        var cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)contextSize;
        cp.n_batch = (uint)contextSize;
        cp.n_ubatch = (uint)contextSize;
        cp.n_threads = threads;
        cp.n_threads_batch = threads;
        cp.llama_flash_attn_type = flashAttention ? LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_ENABLED : LLamaFlashAttentionType.LLAMA_FLASH_ATTENTION_TYPE_DISABLED;
        if (evalCallback != 0) cp.cb_eval = evalCallback;
        _ctx = SafeLLamaContextHandle.Create(_model, cp);
        VocabSize = _model.Vocab.Count;
    }

    public int VocabSize { get; }

    public static void EnsureInitialized()
    {
        lock (InitLock)
        {
            if (s_initialized) return;
            // llama.cpp is chatty on stderr; keep test output readable.
            try
            {
                NativeLibraryConfig.All.WithLogCallback((level, message) => { });
            }
            catch (InvalidOperationException)
            {
                // another test class loaded the library first; logging stays as it configured it
            }
            // Load the native library through LLamaSharp's resolver before any direct native call (e.g. quantize).
            NativeApi.llama_empty_call();
            s_initialized = true;
        }
    }

    public int[] Tokenize(string text, bool addBos, bool special) =>
        _model.Tokenize(text, addBos, special, System.Text.Encoding.UTF8).Select(t => (int)t).ToArray();

    /// <summary>llama.cpp's text for tokens (pieces with special tokens rendered, bytes joined, then UTF-8 decoded).</summary>
    public string Detokenize(IEnumerable<int> tokens)
    {
        var bytes = new List<byte>();
        var buffer = new byte[256];
        foreach (int t in tokens)
        {
            int n = (int)_model.TokenToSpan(t, buffer, 0, true);
            bytes.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        return System.Text.Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Greedy continuation: argmax of llama.cpp's logits at each step.</summary>
    public int[] Greedy(int[] prompt, int count)
    {
        _ctx.MemoryClear(true);
        var batch = new LLamaBatch();
        for (int i = 0; i < prompt.Length; i++) batch.Add(prompt[i], i, LLamaSeqId.Zero, i == prompt.Length - 1);
        Decode(batch);
        var result = new List<int>();
        int pos = prompt.Length;
        for (int step = 0; step < count; step++)
        {
            var logits = _ctx.GetLogitsIth(batch.TokenCount - 1);
            int next = Sampler.ArgMax(logits);
            result.Add(next);
            batch.Clear();
            batch.Add(next, pos++, LLamaSeqId.Zero, true);
            Decode(batch);
        }
        return result.ToArray();
    }

    /// <summary>Logits at every position of <paramref name="tokens"/> ([n][vocab]), evaluated in one batch (or in
    /// batches of <paramref name="batchSize"/> tokens).</summary>
    public float[][] Logits(int[] tokens, int batchSize = 0)
    {
        _ctx.MemoryClear(true);
        if (batchSize <= 0) batchSize = tokens.Length;
        var all = new float[tokens.Length][];
        for (int start = 0; start < tokens.Length; start += batchSize)
        {
            var batch = new LLamaBatch();
            int end = Math.Min(tokens.Length, start + batchSize);
            for (int i = start; i < end; i++) batch.Add(tokens[i], i, LLamaSeqId.Zero, true);
            Decode(batch);
            for (int i = start; i < end; i++) all[i] = _ctx.GetLogitsIth(i - start).ToArray();
        }
        return all;
    }

    private void Decode(LLamaBatch batch)
    {
        var r = _ctx.Decode(batch);
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
    }

    public void Dispose()
    {
        _ctx.Dispose();
        _model.Dispose();
    }
}
