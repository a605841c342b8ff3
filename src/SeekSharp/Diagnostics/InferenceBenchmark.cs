using System.Diagnostics;
using SeekSharp.Gguf;
using SeekSharp.Inference;

namespace SeekSharp.Diagnostics;

/// <summary>One llama-bench style test: its name (pp512, tg128), tokens per repetition and the throughput of each repetition.</summary>
public sealed record BenchmarkSample(string Test, int Tokens, IReadOnlyList<double> TokensPerSecond)
{
    public double Mean => TokensPerSecond.Count == 0 ? 0 : TokensPerSecond.Average();

    /// <summary>Sample standard deviation (n - 1), as llama-bench prints it; 0 for a single repetition.</summary>
    public double StandardDeviation
    {
        get
        {
            int n = TokensPerSecond.Count;
            if (n < 2) return 0;
            double mean = Mean, sum = 0;
            foreach (double v in TokensPerSecond) sum += (v - mean) * (v - mean);
            return Math.Sqrt(sum / (n - 1));
        }
    }

    public double Median => MedianOf(TokensPerSecond);

    /// <summary>The middle value (the mean of the two middle ones for an even count); 0 when there are none.</summary>
    public static double MedianOf(IEnumerable<double> values)
    {
        var s = values.Order().ToArray();
        if (s.Length == 0) return 0;
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }
}

/// <summary>
/// llama-bench's measurements on an <see cref="InferenceSession"/>: prompt processing (ppN: N random tokens from an
/// empty cache, in batches of the session's batch size) and text generation (tgN: N single-token steps from an empty
/// cache), each repeated with the cache cleared in between, after one untimed warm-up run.
/// </summary>
public static class InferenceBenchmark
{
    public static BenchmarkSample PromptProcessing(InferenceSession session, int vocabSize, int tokens, int repetitions, int seed = 1)
    {
        Check(session, tokens, repetitions);
        var rng = new Random(seed);
        int[] prompt = new int[tokens];
        for (int i = 0; i < tokens; i++) prompt[i] = rng.Next(vocabSize);
        session.Reset();
        session.Evaluate(prompt); // warm-up: JIT tiers, page faults of the mapped weights, thread wake-up
        var rates = new List<double>(repetitions);
        for (int r = 0; r < repetitions; r++)
        {
            session.Reset();
            long t0 = Stopwatch.GetTimestamp();
            session.Evaluate(prompt);
            rates.Add(tokens / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        session.Reset();
        return new BenchmarkSample($"pp{tokens}", tokens, rates);
    }

    /// <summary>tgN: <paramref name="tokens"/> greedy single-token steps from an empty cache, per repetition.</summary>
    /// <param name="beforeRepetition">Called before each timed repetition with its index (untimed; e.g. a bandwidth probe).</param>
    public static BenchmarkSample TextGeneration(InferenceSession session, int vocabSize, int tokens, int repetitions, int seed = 1,
        Action<int>? beforeRepetition = null)
    {
        Check(session, tokens, repetitions);
        var rng = new Random(seed);
        int first = rng.Next(vocabSize);
        session.Reset();
        session.Evaluate([first]);
        var rates = new List<double>(repetitions);
        Span<int> one = stackalloc int[1];
        for (int r = 0; r < repetitions; r++)
        {
            beforeRepetition?.Invoke(r);
            session.Reset();
            one[0] = first;
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < tokens; i++)
            {
                var logits = session.Evaluate(one);
                one[0] = ArgMax(logits, vocabSize); // greedy, like a real decode loop
            }
            rates.Add(tokens / Stopwatch.GetElapsedTime(t0).TotalSeconds);
        }
        session.Reset();
        return new BenchmarkSample($"tg{tokens}", tokens, rates);
    }

    private static void Check(InferenceSession session, int tokens, int repetitions)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(repetitions, 1);
        if (tokens > session.ContextSize)
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens do not fit the context size {session.ContextSize}");
    }

    private static int ArgMax(ReadOnlySpan<float> logits, int vocabSize)
    {
        int best = 0;
        for (int i = 1; i < vocabSize && i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return best;
    }

    /// <summary>Total bytes of the file's tensors (llama-bench's "size").</summary>
    public static long ModelBytes(GgufFile file) => file.Tensors.Sum(t => t.ByteSize);

    /// <summary>Total number of weights (llama-bench's "params").</summary>
    public static long ParameterCount(GgufFile file) => file.Tensors.Sum(t => t.ElementCount);

    /// <summary>
    /// Weight bytes one decode step reads: every tensor except the token embedding, of which only one row is read
    /// (unless it doubles as the output projection, when the whole matrix is read). Stacked expert tensors
    /// (<c>*_exps.weight</c>) count only the experts a token uses (<c>expert_used_count</c> of <c>expert_count</c>),
    /// since decoding reads just the routed experts' rows.
    /// </summary>
    public static long WeightBytesPerToken(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        bool tied = !file.TryGetTensor("output.weight", out _);
        string arch = file.GetStringOrNull("general.architecture") ?? "";
        int experts = file.GetInt32($"{arch}.expert_count", 0), used = file.GetInt32($"{arch}.expert_used_count", 0);
        long total = 0;
        foreach (var t in file.Tensors)
        {
            if (t.Name == "token_embd.weight" && !tied)
                total += t.Rows == 0 ? 0 : t.ByteSize / t.Rows;
            else if (experts > 0 && used > 0 && used < experts && t.Name.EndsWith("_exps.weight", StringComparison.Ordinal))
                total += t.ByteSize / experts * used;
            else
                total += t.ByteSize;
        }
        return total;
    }

    /// <summary>The weight type holding most of the file's bytes (llama-bench names a model by it).</summary>
    public static GgmlType DominantType(GgufFile file) =>
        file.Tensors.Where(t => t.Dimensions.Length >= 2).GroupBy(t => t.Type)
            .OrderByDescending(g => g.Sum(t => t.ByteSize)).Select(g => g.Key).DefaultIfEmpty(GgmlType.F32).First();

    /// <summary>llama-bench's model column: architecture, size class and weight type, e.g. "qwen2 0.5B Q8_0".</summary>
    public static string Describe(GgufFile file)
    {
        string arch = file.GetStringOrNull("general.architecture") ?? "unknown";
        double p = ParameterCount(file);
        string size = p >= 1e9 ? $"{p / 1e9:0.#}B" : $"{p / 1e6:0}M";
        return $"{arch} {size} {GgmlTypeInfo.Name(DominantType(file)).ToUpperInvariant()}";
    }

    /// <summary>Dollars per million generated tokens at <paramref name="pricePerHour"/> for a machine producing
    /// <paramref name="tokensPerSecond"/>.</summary>
    public static double CostPerMillionTokens(double pricePerHour, double tokensPerSecond) =>
        tokensPerSecond <= 0 ? double.PositiveInfinity : pricePerHour / 3600.0 / tokensPerSecond * 1e6;
}
