using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// DeepSeek-V2/V3 ("deepseek2") against llama.cpp on random-weight models: absorbed multi-head latent attention with a
/// latent cache, DeepSeekMoE routing (softmax and sigmoid gating, selection bias, groups, normalised and scaled
/// weights), shared experts and leading dense blocks. Two models cover the variants: "tiny" (V2 style: no query
/// compression, softmax, two shared experts, one dense block, YaRN with mscale_all_dim) and "tiny-v3" (V3 style:
/// query compression, sigmoid with bias, 4 groups of which 2 are used, normalised weights scaled by 2.5, one shared
/// expert, two dense blocks).
/// </summary>
public class DeepSeek2ConformanceTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    public static TheoryData<string, GgmlType> Cases()
    {
        var data = new TheoryData<string, GgmlType>();
        foreach (string preset in new[] { "tiny", "tiny-v3" })
            foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K })
                data.Add(preset, t);
        return data;
    }

    internal static string ModelPath(TestModels models, string preset, GgmlType type) =>
        models.Get("deepseek2", type, preset: preset);

    [Theory]
    [MemberData(nameof(Cases))]
    public void GreedyAndLogitsMatchLlamaCpp(string preset, GgmlType type)
    {
        string path = ModelPath(models, preset, type);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        Assert.IsType<DeepSeek2Transformer>(model.Model);
        int[] prompt = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        Assert.Equal(reference.Tokenize(ModelConformanceTests.Prompt, true, true), prompt);

        int[] expected = reference.Greedy(prompt, 32);
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        output.WriteLine($"greedy: {string.Join(",", actual)} ({actual.Distinct().Count()} distinct)");
        Assert.True(actual.Distinct().Count() > 4, "degenerate greedy output");
        Assert.Equal(expected, actual);

        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        using var tf = model.CreateSession(contextSize: 256, threads: 2, batchSize: 16);
        double tolerance = ModelConformanceTests.NmseTolerance(type);
        var report = LogitComparison.Compare(reference.Logits(tokens), tf.EvaluateAll(tokens), model.Config.VocabSize, tolerance);
        output.WriteLine($"{preset} {type}: max NMSE {report.MaxNmse:E2} at {report.WorstPosition}, min margin {report.MinMargin:G3}");
        Assert.True(report.MaxNmse <= tolerance, $"max NMSE {report.MaxNmse:E2} at position {report.WorstPosition} (tolerance {tolerance:E0})");
        Assert.Equal(0, report.ClearArgmaxMismatches);
    }

    /// <summary>
    /// Repacking off on both sides (llama-cli --no-repack): Q4_0 / Q4_K attention, shared and routed experts run the
    /// plain kernels; greedy tokens and teacher-forced logits (batches of 16) are bit-identical again. With repacking on
    /// (the default, the test above) the routed experts are packed too, as llama.cpp's mul_mat_id repacks them.
    /// </summary>
    [Theory]
    [InlineData("tiny", GgmlType.Q4_0)]
    [InlineData("tiny-v3", GgmlType.Q4_K)]
    public void WithoutRepackingMatchesLlamaCppNoRepack(string preset, GgmlType type)
    {
        string path = ModelPath(models, preset, type);
        using var reference = new LlamaCppReference(path, repack: false);
        using var model = LanguageModel.Load(path, new ModelLoadOptions { Repack = false });
        Assert.Null(((DeepSeek2Transformer)model.Model).Weights.Packed);
        int[] prompt = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 24, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(reference.Greedy(prompt, 24), actual);

        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        using var tf = model.CreateSession(contextSize: 256, threads: 2, batchSize: 16);
        ModelConformanceTests.AssertBitIdentical(reference.Logits(tokens), tf.EvaluateAll(tokens), model.Config.VocabSize);
    }

    /// <summary>Our default load packs the routed experts (all three stacks), not the per-head k_b / v_b matrices
    /// (3-D mul_mat weights, which llama.cpp leaves alone).</summary>
    [Fact]
    public void DefaultLoadPacksExpertsButNotPerHeadMatrices()
    {
        using var model = LanguageModel.Load(ModelPath(models, "tiny", GgmlType.Q4_0));
        var w = ((DeepSeek2Transformer)model.Model).Weights;
        Assert.NotNull(w.Packed);
        var moe = w.Layers.First(l => l.GateExperts != null);
        foreach (var stack in new[] { moe.GateExperts!, moe.UpExperts!, moe.DownExperts! })
            Assert.All(stack, m => Assert.Equal(Numerics.WeightPacking.Applies(m.Type, m.Rows, m.Cols), m.IsPacked));
        Assert.Contains(moe.GateExperts!, m => m.IsPacked);
        Assert.All(moe.Kb, m => Assert.False(m.IsPacked));
        Assert.All(moe.Vb, m => Assert.False(m.IsPacked));
        Assert.False(w.TokenEmbedding.IsPacked);
    }

    /// <summary>Long greedy runs on the 256-wide shapes (256-wide latent and expert rows): more positions in the
    /// latent attention and more rounding steps for a 1-ulp difference to surface.</summary>
    [Theory]
    [InlineData("tiny", GgmlType.Q8_0)]
    [InlineData("tiny-v3", GgmlType.Q8_0)]
    [InlineData("tiny", GgmlType.F16)]
    [InlineData("tiny-v3", GgmlType.Q4_K)]
    public void LongGreedyOnWideModelsMatchesLlamaCpp(string preset, GgmlType type)
    {
        string path = models.Get("deepseek2", type, preset: preset, wide: true);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        int[] prompt = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        int[] expected = reference.Greedy(prompt, 96);
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 96, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        int same = 0;
        while (same < expected.Length && expected[same] == actual[same]) same++;
        output.WriteLine($"{preset} {type} wide: greedy agrees for {same} of {expected.Length} ({actual.Distinct().Count()} distinct)");
        Assert.Equal(expected, actual);
    }

    [Theory]
    [InlineData("tiny", GgmlType.Q4_0)]
    [InlineData("tiny-v3", GgmlType.Q8_0)]
    [InlineData("tiny", GgmlType.Q4_K)]
    public void PerplexityWithinATenthOfAPercent(string preset, GgmlType type) =>
        ModelConformanceTests.CheckPerplexity(ModelPath(models, preset, type));
}

/// <summary>Older "deepseek2" GGUFs with the unsplit attn_kv_b: split at load and run absorbed.</summary>
public class DeepSeek2LegacyTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    /// <summary>Rewrites a split model as the older converter wrote it: attn_kv_b, no *_mla keys, MHA head sizes.</summary>
    internal static string MakeLegacy(TestModels models, string preset)
    {
        string src = DeepSeek2ConformanceTests.ModelPath(models, preset, GgmlType.F32);
        string path = Path.Combine(models.Folder, $"deepseek2-{preset}-legacy.gguf");
        if (File.Exists(path)) return path;
        using var f = GgufFile.Open(src);
        var c = ModelConfig.FromGguf(f);
        int heads = c.HeadCount, nope = c.QkNopeHeadDim, v = c.ValueLengthMla, kvLora = c.KvLoraRank;
        var w = new GgufWriter();
        foreach (var kv in f.Metadata)
            if (!kv.Key.EndsWith("_mla", StringComparison.Ordinal)) w.Set(kv.Key, kv.Value);
        w.Set("deepseek2.attention.key_length", (uint)c.KeyLengthMla);
        w.Set("deepseek2.attention.value_length", (uint)v);
        w.Set("deepseek2.attention.head_count_kv", (uint)heads);
        foreach (var t in f.Tensors)
        {
            if (t.Name.EndsWith("attn_v_b.weight", StringComparison.Ordinal)) continue;
            if (t.Name.EndsWith("attn_k_b.weight", StringComparison.Ordinal))
            {
                string prefix = t.Name[..^"attn_k_b.weight".Length];
                var kb = MemoryMarshal.Cast<byte, float>(f.GetData(t)).ToArray();
                f.TryGetTensor(prefix + "attn_v_b.weight", out var vt);
                var vb = MemoryMarshal.Cast<byte, float>(f.GetData(vt)).ToArray();
                var kvb = new float[heads * (nope + v) * kvLora];
                for (int h = 0; h < heads; h++)
                {
                    for (int j = 0; j < nope; j++)
                        for (int i = 0; i < kvLora; i++)
                            kvb[((long)h * (nope + v) + j) * kvLora + i] = kb[((long)h * kvLora + i) * nope + j];
                    for (int j = 0; j < v; j++)
                        Array.Copy(vb, ((long)h * v + j) * kvLora, kvb, ((long)h * (nope + v) + nope + j) * kvLora, kvLora);
                }
                w.AddTensor(prefix + "attn_kv_b.weight", GgmlType.F32, new long[] { kvLora, heads * (nope + v) }, MemoryMarshal.AsBytes(kvb.AsSpan()).ToArray());
                continue;
            }
            w.AddTensor(t.Name, t.Type, t.Dimensions, f.GetData(t).ToArray());
        }
        w.Write(path);
        return path;
    }

    [Fact]
    public void UnsplitKvBRunsLikeTheSplitModelAndLikeLlamaCpp()
    {
        string legacyPath = MakeLegacy(models, "tiny");
        using var legacy = LanguageModel.Load(legacyPath);
        using var split = LanguageModel.Load(DeepSeek2ConformanceTests.ModelPath(models, "tiny", GgmlType.F32));
        Assert.Equal(split.Config.CacheKeyWidth, legacy.Config.CacheKeyWidth);
        int[] tokens = split.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        using var a = legacy.CreateSession(contextSize: 64, threads: 2);
        using var b = split.CreateSession(contextSize: 64, threads: 2);
        float[] ours = a.EvaluateAll(tokens);
        Assert.Equal(b.EvaluateAll(tokens), ours); // the split is exact: same matrices, same order

        // llama.cpp runs legacy files without absorption (full per-head K/V in its f16 cache): same model, other rounding
        using var reference = new LlamaCppReference(legacyPath);
        var report = LogitComparison.Compare(reference.Logits(tokens), ours, legacy.Config.VocabSize, 1e-4);
        output.WriteLine($"legacy vs llama.cpp (non-absorbed): max NMSE {report.MaxNmse:E2}");
        Assert.True(report.MaxNmse < 1e-4, $"max NMSE {report.MaxNmse:E2}");
        Assert.Equal(0, report.ClearArgmaxMismatches);
    }
}

/// <summary>DeepSeek models quantized by llama-quantize and by our quantizer: same tensor types, same tokens.</summary>
public class DeepSeek2QuantizerTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData(LLama.Native.LLamaFtype.MOSTLY_Q8_0, "q8_0")]
    [InlineData(LLama.Native.LLamaFtype.MOSTLY_Q4_0, "q4_0")]
    public void OurQuantizerMatchesLlamaQuantize(LLama.Native.LLamaFtype ftype, string ours)
    {
        string f32 = DeepSeek2ConformanceTests.ModelPath(models, "tiny-v3", GgmlType.F32);
        string theirs = Path.Combine(models.Folder, $"deepseek2-llamacpp-{ours}.gguf");
        string mine = Path.Combine(models.Folder, $"deepseek2-seek-{ours}.gguf");
        LlamaCppReference.EnsureInitialized();
        Assert.True(LLama.LLamaQuantizer.Quantize(f32, theirs, ftype, nthread: 2, allowRequantize: true, quantizeOutputTensor: true));
        ModelQuantizer.Quantize(f32, mine, QuantizationTarget.Parse(ours));
        using (var a = GgufFile.Open(theirs))
        using (var b = GgufFile.Open(mine))
        {
            var types = a.Tensors.ToDictionary(t => t.Name, t => t.Type);
            var differing = b.Tensors.Where(t => types[t.Name] != t.Type).Select(t => $"{t.Name}: llama.cpp {types[t.Name]}, ours {t.Type}").ToList();
            foreach (var d in differing) output.WriteLine(d);
            Assert.Empty(differing);
        }
        using var reference = new LlamaCppReference(theirs);
        using var model = LanguageModel.Load(theirs);
        int[] prompt = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        using var session = model.CreateSession(contextSize: 128, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(reference.Greedy(prompt, 32), actual);
    }
}
