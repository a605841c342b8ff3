using System.Diagnostics;
using SeekSharp.Tokenization;

namespace SeekSharp.Inference;

/// <summary>A generated token and the text it completes (empty while a UTF-8 character is still incomplete).</summary>
public readonly record struct GeneratedToken(int Id, string Text);

/// <summary>Timings of one generation, in llama.cpp's terms.</summary>
public sealed class GenerationStats
{
    public int PromptTokens { get; internal set; }
    public int GeneratedTokens { get; internal set; }
    public TimeSpan PromptTime { get; internal set; }
    public TimeSpan GenerationTime { get; internal set; }
    public double PromptTokensPerSecond => PromptTokens / Math.Max(PromptTime.TotalSeconds, 1e-9);
    public double GenerationTokensPerSecond => GeneratedTokens / Math.Max(GenerationTime.TotalSeconds, 1e-9);
    public string StopReason { get; internal set; } = "";
}

/// <summary>Runs a prompt through a session and streams sampled tokens until a limit, an end-of-generation token,
/// a full context or cancellation.</summary>
public static class TextGenerator
{
    /// <param name="maxTokens">Tokens to generate; negative means until end of generation or a full context.</param>
    public static IEnumerable<GeneratedToken> Generate(InferenceSession session, BpeTokenizer tokenizer,
        IReadOnlyList<int> prompt, int maxTokens, Sampler sampler, GenerationStats? stats = null,
        bool stopAtEndOfGeneration = true, CancellationToken cancellation = default)
    {
        stats ??= new GenerationStats();
        if (prompt.Count == 0) throw new ArgumentException("the prompt is empty (no tokens)");
        var clock = Stopwatch.StartNew();
        var promptArray = prompt as int[] ?? prompt.ToArray();
        foreach (int t in promptArray) sampler.Accept(t);
        var logits = session.Evaluate(promptArray);
        stats.PromptTokens = promptArray.Length;
        stats.PromptTime = clock.Elapsed;
        clock.Restart();
        var decoder = new StreamingDecoder(tokenizer);
        int generated = 0;
        var single = new int[1];
        while (maxTokens < 0 || generated < maxTokens)
        {
            if (cancellation.IsCancellationRequested) { stats.StopReason = "cancelled"; break; }
            int next = sampler.Sample(logits);
            sampler.Accept(next);
            if (stopAtEndOfGeneration && tokenizer.IsEndOfGeneration(next)) { stats.StopReason = "eos"; break; }
            generated++;
            stats.GeneratedTokens = generated;
            yield return new GeneratedToken(next, decoder.Push(next));
            stats.GenerationTime = clock.Elapsed;
            if (maxTokens >= 0 && generated >= maxTokens) { stats.StopReason = "length"; break; }
            if (session.Position >= session.ContextSize) { stats.StopReason = "context"; break; }
            single[0] = next;
            logits = session.Evaluate(single);
        }
        string tail = decoder.Flush();
        if (tail.Length > 0) yield return new GeneratedToken(-1, tail);
        stats.GenerationTime = clock.Elapsed;
        if (stats.StopReason == "") stats.StopReason = "length";
    }
}
