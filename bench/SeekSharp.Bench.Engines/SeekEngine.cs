using System.Diagnostics;
using SeekSharp.Diagnostics;
using SeekSharp.Inference;

namespace SeekSharp.Bench.Engines;

/// <summary>SeekSharp's side: the same loops as <c>seek bench</c> (InferenceBenchmark), F16 KV cache, batch 512.</summary>
internal static class SeekEngine
{
    public static EngineResult Run(Options o)
    {
        long t0 = Stopwatch.GetTimestamp();
        using var model = LanguageModel.Load(o.Models[0]);
        using var session = model.CreateSession(Math.Max(o.Prompt, o.Gen + 1) + 16, o.Threads, 512, KvCacheType.F16);
        session.Evaluate(FirstPrompt(model.Config.VocabSize));
        double loadToFirst = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        session.Reset();
        var pp = InferenceBenchmark.PromptProcessing(session, model.Config.VocabSize, o.Prompt, o.Reps);
        var tg = InferenceBenchmark.TextGeneration(session, model.Config.VocabSize, o.Gen, o.Reps);
        return new EngineResult(pp.TokensPerSecond.ToArray(), tg.TokensPerSecond.ToArray(), loadToFirst,
            ProcessMemory.PeakResidentBytes() / (1024.0 * 1024));
    }

    /// <summary>The load→first-token prompt: 8 fixed token ids, the same for both engines.</summary>
    public static int[] FirstPrompt(int vocab) => Enumerable.Range(0, 8).Select(i => (i * 7919 + 11) % vocab).ToArray();
}
