using SeekSharp.Gguf;
using SeekSharp.Inference;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Our engine against llama.cpp on the same random-weight files: greedy continuations must be identical token for
/// token, logits under teacher forcing must agree within a normalized-MSE tolerance (with argmax agreement wherever
/// llama.cpp's top-1 margin is clear), and perplexity within 0.1 %.
/// </summary>
public class ModelConformanceTests(TestModels models) : IClassFixture<TestModels>
{
    public const string Prompt = "The capital of France is Paris. Once upon a time, the quick brown fox";

    /// <summary>Normalized MSE allowed between our logits and llama.cpp's at any position.</summary>
    public const double NmseTolerance = 1e-4;

    public static TheoryData<string, GgmlType> Cases()
    {
        var data = new TheoryData<string, GgmlType>();
        foreach (string arch in new[] { "llama", "qwen2", "qwen3" })
            foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K })
                data.Add(arch, t);
        return data;
    }

    public static TheoryData<string, GgmlType> MoreTypes()
    {
        var data = new TheoryData<string, GgmlType>();
        foreach (var t in new[] { GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q5_K })
            data.Add("qwen2", t);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    [MemberData(nameof(MoreTypes))]
    public void GreedyContinuationIsIdentical(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        int[] prompt = model.Tokenizer.Encode(Prompt);
        Assert.Equal(reference.Tokenize(Prompt, true, true), prompt);

        int[] expected = reference.Greedy(prompt, 40);
        using var session = model.CreateSession(contextSize: 512, threads: 2);
        var sampler = new Sampler(SamplingOptions.Greedy);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 40, sampler, stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    [MemberData(nameof(MoreTypes))]
    public void TeacherForcedLogitsAgree(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(Prompt + " jumps over the lazy dog. " + Prompt);
        float[][] expected = reference.Logits(tokens);

        using var session = model.CreateSession(contextSize: 512, threads: 2, batchSize: 16);
        float[] actual = session.EvaluateAll(tokens);
        int vocab = model.Config.VocabSize;
        var report = LogitComparison.Compare(expected, actual, vocab);
        Assert.True(report.MaxNmse < NmseTolerance, $"max NMSE {report.MaxNmse:E2} at position {report.WorstPosition} (tolerance {NmseTolerance:E0})");
        Assert.True(report.ClearArgmaxMismatches == 0, $"{report.ClearArgmaxMismatches} positions with a clear llama.cpp top-1 disagree");
    }

    [Theory]
    [InlineData("llama", GgmlType.F16)]
    [InlineData("qwen2", GgmlType.Q8_0)]
    [InlineData("qwen3", GgmlType.Q4_K)]
    public void PerplexityWithinATenthOfAPercent(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        using var model = LanguageModel.Load(path);
        string text = string.Concat(Enumerable.Repeat(Prompt + " jumps over the lazy dog, and then it ran away into the forest. ", 12));
        int[] tokens = model.Tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
        const int ctx = 64;
        using var session = model.CreateSession(contextSize: ctx, threads: 2);
        var ours = PerplexityEvaluator.Evaluate(session, tokens, model.Tokenizer.Vocabulary.BosId, model.Tokenizer.Vocabulary.AddBos);

        using var reference = new LlamaCppReference(path, contextSize: ctx);
        double nll = 0;
        int count = 0;
        for (int c = 0; c < tokens.Length / ctx; c++)
        {
            int[] chunk = tokens.Skip(c * ctx).Take(ctx).ToArray();
            chunk[0] = model.Tokenizer.Vocabulary.BosId;
            var logits = reference.Logits(chunk);
            for (int j = ctx / 2; j < ctx - 1; j++)
            {
                nll -= logits[j][tokens[c * ctx + j + 1]] - Numerics.Softmax.LogSumExp(logits[j]);
                count++;
            }
        }
        double expected = Math.Exp(nll / count);
        Assert.Equal(count, ours.ScoredTokens);
        Assert.True(Math.Abs(ours.Perplexity / expected - 1) < 1e-3, $"PPL ours {ours.Perplexity} vs llama.cpp {expected}");
    }
}

/// <summary>Per-position comparison of two logit matrices.</summary>
public sealed record LogitComparison(double MaxNmse, int WorstPosition, int ClearArgmaxMismatches, double MinMargin)
{
    public static LogitComparison Compare(float[][] expected, float[] actual, int vocab)
    {
        double worst = 0;
        int worstAt = -1, mismatches = 0;
        double minMargin = double.MaxValue;
        for (int p = 0; p < expected.Length; p++)
        {
            var e = expected[p];
            var a = actual.AsSpan(p * vocab, vocab);
            double err = 0, norm = 0;
            for (int i = 0; i < vocab; i++)
            {
                double diff = a[i] - e[i];
                err += diff * diff;
                norm += (double)e[i] * e[i];
            }
            double nmse = err / Math.Max(norm, 1e-30);
            if (nmse > worst) { worst = nmse; worstAt = p; }
            // top-1 margin of the reference, relative to the logits' scale
            int best = LlamaCppReference.ArgMax(e);
            float second = float.NegativeInfinity;
            for (int i = 0; i < vocab; i++) if (i != best && e[i] > second) second = e[i];
            double rms = Math.Sqrt(norm / vocab);
            double margin = (e[best] - second) / Math.Max(rms, 1e-30);
            minMargin = Math.Min(minMargin, margin);
            // a clear margin: larger than twice the RMS error the tolerance allows
            if (margin > 2 * Math.Sqrt(ModelConformanceTests.NmseTolerance) && LlamaCppReference.ArgMax(a) != best) mismatches++;
        }
        return new LogitComparison(worst, worstAt, mismatches, minMargin);
    }
}
