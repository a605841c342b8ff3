using System.Diagnostics;
using LLama.Native;
using SeekSharp.Diagnostics;

namespace SeekSharp.Bench.Engines;

/// <summary>
/// llama.cpp's side through LLamaSharp, with the defaults a user gets: mmap, weight repacking on (use_extra_bufts),
/// flash attention on its default (auto), F16 KV cache, n_batch = n_ubatch = 512. Same loops as SeekEngine: random
/// tokens, pp from an empty cache with only the last token's logits, tg one token at a time with greedy argmax.
/// </summary>
internal static class LlamaEngine
{
    public const string Settings = "LLamaModelParams.Default() (mmap, repack/extra buffer types on), LLamaContextParams.Default() " +
        "(flash attention auto, KV f16), n_batch = n_ubatch = 512, n_threads = n_threads_batch = -t";

    public static EngineResult Run(Options o)
    {
        NativeLibraryConfig.All.WithLogCallback((level, message) => { });
        NativeApi.llama_empty_call(); // load the native library before the clock starts, as .NET loads SeekSharp.dll
        long t0 = Stopwatch.GetTimestamp();
        var mp = LLamaModelParams.Default();
        mp.n_gpu_layers = 0;
        using var model = SafeLlamaModelHandle.LoadFromFile(o.Models[0], mp);
        var cp = LLamaContextParams.Default();
        cp.n_ctx = (uint)(Math.Max(o.Prompt, o.Gen + 1) + 16);
        cp.n_batch = 512;
        cp.n_ubatch = 512;
        cp.n_threads = o.Threads;
        cp.n_threads_batch = o.Threads;
        using var ctx = SafeLLamaContextHandle.Create(model, cp);
        int vocab = model.Vocab.Count;
        Decode(ctx, SeekEngine.FirstPrompt(vocab), 0);
        double loadToFirst = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;

        var rng = new Random(1);
        int[] prompt = Enumerable.Range(0, o.Prompt).Select(_ => rng.Next(vocab)).ToArray();
        var pp = new double[o.Reps];
        ctx.MemoryClear();
        Decode(ctx, prompt, 0); // warm-up
        for (int r = 0; r < o.Reps; r++)
        {
            ctx.MemoryClear();
            long s = Stopwatch.GetTimestamp();
            Decode(ctx, prompt, 0);
            pp[r] = o.Prompt / Stopwatch.GetElapsedTime(s).TotalSeconds;
        }

        int first = new Random(1).Next(vocab);
        var tg = new double[o.Reps];
        ctx.MemoryClear();
        Decode(ctx, [first], 0); // warm-up
        for (int r = 0; r < o.Reps; r++)
        {
            ctx.MemoryClear();
            int token = first;
            long s = Stopwatch.GetTimestamp();
            for (int i = 0; i < o.Gen; i++)
            {
                Decode(ctx, [token], i);
                token = ArgMax(ctx.GetLogitsIth(0), vocab);
            }
            tg[r] = o.Gen / Stopwatch.GetElapsedTime(s).TotalSeconds;
        }
        return new EngineResult(pp, tg, loadToFirst, ProcessMemory.PeakResidentBytes() / (1024.0 * 1024));
    }

    private static void Decode(SafeLLamaContextHandle ctx, int[] tokens, int pos0)
    {
        var batch = new LLamaBatch();
        for (int i = 0; i < tokens.Length; i++) batch.Add(tokens[i], pos0 + i, LLamaSeqId.Zero, i == tokens.Length - 1);
        var r = ctx.Decode(batch);
        if (r != DecodeResult.Ok) throw new InvalidOperationException($"llama.cpp decode failed: {r}");
    }

    private static int ArgMax(Span<float> logits, int vocab)
    {
        int best = 0;
        for (int i = 1; i < vocab; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}
