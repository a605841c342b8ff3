using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Our engine against llama.cpp on the same random-weight files: greedy continuations must be identical token for
/// token, logits under teacher forcing bit-identical, and perplexity within 0.1 %.
/// </summary>
public class ModelConformanceTests(TestModels models) : IClassFixture<TestModels>
{
    public const string Prompt = "The capital of France is Paris. Once upon a time, the quick brown fox";

    /// <summary>
    /// Normalized MSE allowed between our logits and llama.cpp's at any position: none. Every architecture and weight
    /// type does ggml's arithmetic in ggml's order (activation rounding, dot-product order, fused RoPE, vector exp in
    /// softmax and SwiGLU, f16 attention products), so the logits are bit-identical; the NMSE is still reported so a
    /// regression shows its size.
    /// </summary>
    public static double NmseTolerance(GgmlType type) => 0;

    /// <summary>Asserts every logit equals llama.cpp's bit for bit (NMSE 0 and no argmax disagreement follow).</summary>
    internal static void AssertBitIdentical(float[][] expected, ReadOnlySpan<float> actual, int vocab)
    {
        int differ = 0, first = -1;
        for (int p = 0; p < expected.Length; p++)
            for (int i = 0; i < vocab; i++)
                if (BitConverter.SingleToInt32Bits(expected[p][i]) != BitConverter.SingleToInt32Bits(actual[p * vocab + i]))
                    if (differ++ == 0) first = p;
        if (differ > 0)
        {
            var report = LogitComparison.Compare(expected, actual.ToArray(), vocab, 1e-6);
            Assert.Fail($"{differ} logits differ from llama.cpp's (first at position {first}); max NMSE {report.MaxNmse:E2} at position {report.WorstPosition}");
        }
    }

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
        // every architecture: before RoPE, SwiGLU and attention were rounded as ggml's, llama Q5_K and qwen3 Q3_K
        // greedy runs left llama.cpp's after 5 and 8 tokens
        foreach (string arch in new[] { "llama", "qwen2", "qwen3" })
            foreach (var t in new[] { GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q5_K })
                data.Add(arch, t);
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

        // our batches of 16 against llama.cpp's single batch: batching must not change a bit either
        using var session = model.CreateSession(contextSize: 512, threads: 2, batchSize: 16);
        AssertBitIdentical(expected, session.EvaluateAll(tokens), model.Config.VocabSize);
    }

    /// <summary>
    /// Repacking off on both sides (llama-cli --no-repack, <see cref="ModelLoadOptions.Repack"/> false): Q4_0 and Q4_K
    /// then run the plain kernels, whose order differs from the repacked one; greedy tokens and teacher-forced logits
    /// (our batches of 16) are identical again.
    /// </summary>
    [Theory]
    [InlineData("llama", GgmlType.Q4_0)]
    [InlineData("qwen2", GgmlType.Q4_K)]
    [InlineData("qwen3", GgmlType.Q4_0)]
    [InlineData("qwen3", GgmlType.Q4_K)]
    [InlineData("llama", GgmlType.Q2_K)]
    public void WithoutRepackingMatchesLlamaCppNoRepack(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        using var reference = new LlamaCppReference(path, repack: false);
        using var model = LanguageModel.Load(path, new ModelLoadOptions { Repack = false });
        Assert.Null(((Models.DecoderTransformer)model.Model).Weights.Packed);
        int[] tokens = model.Tokenizer.Encode(Prompt + " jumps over the lazy dog. " + Prompt);
        using var session = model.CreateSession(contextSize: 512, threads: 2, batchSize: 16);
        AssertBitIdentical(reference.Logits(tokens), session.EvaluateAll(tokens), model.Config.VocabSize);
        session.Reset();
        int[] prompt = model.Tokenizer.Encode(Prompt);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 24, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(reference.Greedy(prompt, 24), actual);
    }

    /// <summary>
    /// The two llama.cpp settings really differ on these files (so the tests above and below check two orders), and
    /// our default load packs exactly the Q4 matrices llama.cpp repacks: not the token embedding, which it reads by rows.
    /// </summary>
    [Theory]
    [InlineData("qwen2", GgmlType.Q4_0)]
    [InlineData("llama", GgmlType.Q4_K)]
    [InlineData("qwen3", GgmlType.Q2_K)]
    public void RepackingChangesTheBitsAndPacksTheProductWeights(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        int[] tokens;
        float[][] on, off;
        using (var model = LanguageModel.Load(path))
        {
            tokens = model.Tokenizer.Encode(Prompt);
            var w = ((Models.DecoderTransformer)model.Model).Weights;
            Assert.NotNull(w.Packed);
            Assert.False(w.TokenEmbedding.IsPacked);
            foreach (var l in w.Layers)
                foreach (var m in new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.FfnGate, l.FfnUp, l.FfnDown })
                    Assert.Equal(WeightPacking.Applies(m.Type, m.Rows, m.Cols), m.IsPacked);
        }
        using (var reference = new LlamaCppReference(path, repack: true)) on = reference.Logits(tokens);
        using (var reference = new LlamaCppReference(path, repack: false)) off = reference.Logits(tokens);
        Assert.NotEqual(on.SelectMany(r => r).ToArray(), off.SelectMany(r => r).ToArray());
    }

    /// <summary>Tied output projection (the token embedding reused), as in Qwen2.5-0.5B and Qwen3-0.6B.</summary>
    [Theory]
    [InlineData("qwen2", GgmlType.Q8_0)]
    [InlineData("qwen3", GgmlType.F16)]
    [InlineData("llama", GgmlType.Q4_K)]
    [InlineData("qwen2", GgmlType.Q4_0)]
    public void TiedOutputModelsMatch(string arch, GgmlType type)
    {
        string path = models.Get(arch, type, tied: true);
        using (var file = GgufFile.Open(path)) Assert.False(file.TryGetTensor("output.weight", out _));
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(Prompt + " jumps over the lazy dog.");
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        AssertBitIdentical(reference.Logits(tokens), session.EvaluateAll(tokens), model.Config.VocabSize);
        session.Reset();
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, tokens, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(reference.Greedy(tokens, 32), actual);
    }

    /// <summary>RoPE scaling as long-context models set it: linear, YaRN, and Llama 3's per-frequency divisors
    /// (rope_freqs.weight), each through the fused rotation in both layouts.</summary>
    [Theory]
    [InlineData("llama", "linear", false)]
    [InlineData("llama", "yarn", true)]
    [InlineData("qwen2", "yarn", false)]
    [InlineData("qwen3", "linear", false)]
    public void RopeScaledModelsMatch(string arch, string scaling, bool freqFactors)
    {
        var family = Models.ArchitectureRegistry.Find(arch)!;
        var shape = family.Presets.First(p => p.Name == "tiny");
        var w = Models.RandomModelBuilder.Build(new Models.RandomModelOptions { Architecture = family, Shape = shape, WeightType = GgmlType.Q8_0, Seed = 1234 });
        w.Set($"{arch}.rope.scaling.type", scaling);
        w.Set($"{arch}.rope.scaling.factor", 4f);
        w.Set($"{arch}.rope.scaling.original_context_length", 32u);
        if (freqFactors)
        {
            int half = shape.HeadDim / 2;
            var bytes = new byte[half * 4];
            for (int i = 0; i < half; i++) BitConverter.TryWriteBytes(bytes.AsSpan(i * 4), 1f + 7f * i / (half - 1));
            w.AddTensor("rope_freqs.weight", GgmlType.F32, new long[] { half }, bytes);
        }
        string path = Path.Combine(models.Folder, $"{arch}-rope-{scaling}{(freqFactors ? "-freqs" : "")}.gguf");
        w.Write(path);

        using var reference = new LlamaCppReference(path, contextSize: 256);
        using var model = LanguageModel.Load(path);
        Assert.Equal(freqFactors, model.Model is Models.DecoderTransformer dt && dt.Weights.RopeFreqFactors != null);
        Assert.Equal(0.25f, model.Config.RopeFreqScale);
        Assert.Equal(scaling == "yarn", model.Config.YarnExtFactor != 0);
        int[] tokens = model.Tokenizer.Encode(Prompt + " jumps over the lazy dog. " + Prompt);
        using var session = model.CreateSession(contextSize: 256, threads: 2, batchSize: 16);
        AssertBitIdentical(reference.Logits(tokens), session.EvaluateAll(tokens), model.Config.VocabSize);
        session.Reset();
        int[] prompt = model.Tokenizer.Encode(Prompt);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(reference.Greedy(prompt, 32), actual);
    }

    public const string Multilingual =
        "<｜begin▁of▁sentence｜>DeepSeek-R1 thinks first: <think>2 + 2 = 4</think> Réponse : quatre. 北京是中国的首都。 " +
        "東京は日本の首都です。 مرحبا بالعالم 🙂👩‍💻 def f(x):\n\treturn x ** 2  # 12345678901234567890";

    /// <summary>Models carrying the real DeepSeek-V3 and Qwen3 vocabularies (129k and 151k tokens).</summary>
    [Theory]
    [InlineData("qwen2", "deepseek-v3", GgmlType.Q8_0)]
    [InlineData("qwen3", "qwen3", GgmlType.Q4_0)]
    [InlineData("llama", "deepseek-v3", GgmlType.F16)]
    public void RealVocabularyModelsMatch(string arch, string vocabName, GgmlType type)
    {
        string path = models.Get(arch, type, RealVocabularies.Load(vocabName), vocabName);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        Assert.Equal(reference.VocabSize, model.Config.VocabSize);
        int[] prompt = model.Tokenizer.Encode(Multilingual);
        Assert.Equal(reference.Tokenize(Multilingual, true, true), prompt);

        int[] expected = reference.Greedy(prompt, 32);
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(expected, actual);

        session.Reset();
        AssertBitIdentical(reference.Logits(prompt), session.EvaluateAll(prompt), model.Config.VocabSize);
    }

    [Theory]
    [InlineData("llama", GgmlType.F16)]
    [InlineData("qwen2", GgmlType.Q8_0)]
    [InlineData("qwen3", GgmlType.Q4_K)]
    public void PerplexityWithinATenthOfAPercent(string arch, GgmlType type) => CheckPerplexity(models.Get(arch, type));

    /// <summary>Our perplexity over the model's own samples equals llama.cpp's (from its logits) within 0.1 %.</summary>
    internal static void CheckPerplexity(string path)
    {
        using var model = LanguageModel.Load(path);
        // Score text the model itself samples (temperature 1): random-weight models find any human text absurdly
        // unlikely, and a perplexity of 1e15 magnifies tiny logit differences; their own samples give a natural scale.
        int[] tokens;
        using (var gen = model.CreateSession(contextSize: 300, threads: 2))
        {
            var sampler = new Sampler(new SamplingOptions { Temperature = 1f, TopK = 0, TopP = 1f, MinP = 0f, Seed = 7 });
            int[] prompt = model.Tokenizer.Encode(Prompt);
            tokens = prompt.Concat(TextGenerator.Generate(gen, model.Tokenizer, prompt, 256, sampler, stopAtEndOfGeneration: false)
                .Where(t => t.Id >= 0).Select(t => t.Id)).ToArray();
        }
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
public sealed record LogitComparison(double MaxNmse, int WorstPosition, int ClearArgmaxMismatches, double MinMargin, double LargestMismatchMargin)
{
    public static LogitComparison Compare(float[][] expected, float[] actual, int vocab, double tolerance)
    {
        double worst = 0;
        int worstAt = -1, mismatches = 0;
        double minMargin = double.MaxValue, largestMismatch = 0;
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
            int best = Sampler.ArgMax(e);
            float second = float.NegativeInfinity;
            for (int i = 0; i < vocab; i++) if (i != best && e[i] > second) second = e[i];
            double rms = Math.Sqrt(norm / vocab);
            double margin = (e[best] - second) / Math.Max(rms, 1e-30);
            minMargin = Math.Min(minMargin, margin);
            // A clear margin: the tolerance allows an RMS logit error of sqrt(tol)·rms; single logits may stray about
            // twice that, and a flip needs the top two to move towards each other, hence 4·sqrt(tol).
            if (Sampler.ArgMax(a) != best)
            {
                largestMismatch = Math.Max(largestMismatch, margin);
                if (margin > 4 * Math.Sqrt(tolerance)) mismatches++;
            }
        }
        return new LogitComparison(worst, worstAt, mismatches, minMargin, largestMismatch);
    }
}
