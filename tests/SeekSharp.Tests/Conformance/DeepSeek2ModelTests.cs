using SeekSharp.Cli;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using SeekSharp.Numerics;

namespace SeekSharp.Tests.Conformance;

/// <summary>DeepSeek-V2/V3 pieces that need no reference engine: the latent cache size, routing, MTP blocks, presets.</summary>
public class DeepSeek2ModelTests(TestModels models) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData("tiny", KvCacheType.F16)]
    [InlineData("tiny-v3", KvCacheType.F32)]
    public void KvCacheHoldsOnlyTheLatentAndTheRopeKey(string preset, KvCacheType type)
    {
        string path = DeepSeek2ConformanceTests.ModelPath(models, preset, GgmlType.F32);
        using var model = LanguageModel.Load(path);
        var c = model.Config;
        var shape = Models.Architectures.DeepSeek2.Family.Presets.First(p => p.Name == preset).DeepSeek!;
        int element = type == KvCacheType.F16 ? 2 : 4;
        long expected = (long)(shape.KvLoraRank + shape.QkRopeHeadDim) * c.LayerCount * element;
        Assert.True(c.IsMla);
        Assert.Equal(shape.KvLoraRank + shape.QkRopeHeadDim, c.CacheKeyWidth);
        Assert.Equal(0, c.CacheValueWidth);
        Assert.Equal(expected, KvCache.BytesPerToken(c, type));
        using var session = model.CreateSession(contextSize: 64, threads: 1, cacheType: type);
        Assert.Equal(expected * 64, session.Cache.SizeInBytes);
        session.Evaluate(model.Tokenizer.Encode("hello world"));
        Assert.True(session.Position > 0);

        if (type == KvCacheType.F16)
        {
            var stdout = new StringWriter();
            var stderr = new StringWriter();
            Assert.Equal(0, SeekCli.Run(["info", path], stdout, stderr));
            Assert.Contains($"KV cache:      {expected} B per token (f16)", stdout.ToString());
            Assert.Contains("architecture:  deepseek2", stdout.ToString());
            Assert.Contains($"attention: multi-head latent (MLA), q_lora_rank {(shape.QLoraRank > 0 ? shape.QLoraRank.ToString() : "none")}, " +
                $"kv_lora_rank {shape.KvLoraRank}, nope dims {shape.QkNopeHeadDim}, rope dims {shape.QkRopeHeadDim}", stdout.ToString());
            Assert.Contains($"experts: {shape.ExpertCount} routed ({shape.ExpertUsedCount} used per token), {shape.ExpertSharedCount} shared", stdout.ToString());
            Assert.Contains($"router: {(shape.Gating == ExpertGating.Sigmoid ? "sigmoid" : "softmax")}{(shape.SelectionBias ? " with selection bias" : "")}", stdout.ToString());
        }
    }

    [Fact]
    public void SoftmaxRoutingPicksTheBestExpertsWithUnnormalisedWeights()
    {
        float[] logits = [0.5f, 2f, -1f, 1f];
        var experts = new int[2];
        var weights = new float[2];
        ExpertRouting.Route(logits.ToArray(), sigmoid: false, ReadOnlySpan<float>.Empty, 1, 1, normalize: false, scale: 1f,
            new float[4], experts, weights);
        Assert.Equal([1, 3], experts);
        double sum = logits.Sum(v => Math.Exp(v));
        Assert.Equal(Math.Exp(2) / sum, weights[0], 5);
        Assert.Equal(Math.Exp(1) / sum, weights[1], 5);
    }

    [Fact]
    public void SigmoidRoutingUsesTheBiasForChoiceOnlyAndLimitsGroups()
    {
        // 8 experts in 4 groups of 2; only 2 groups may be used.
        float[] logits = [3f, -3f, 0f, 0f, 1f, 1f, 2.5f, -2f];
        float[] bias = [0f, 0f, 0f, 0f, 0f, 0f, -5f, 0f]; // expert 6 is strong but its bias hides it
        var experts = new int[2];
        var weights = new float[2];
        ExpertRouting.Route(logits.ToArray(), sigmoid: true, bias, groups: 4, groupsUsed: 2, normalize: true, scale: 2.5f,
            new float[8], experts, weights);
        // group scores (top-2 sums of biased sigmoid): g0 = σ3+σ-3 = 1, g1 = 1, g2 = 2σ1 ≈ 1.46, g3 = σ2.5-5+σ-2 < 0
        // → groups 2 and then 0 (first of the tied 0/1); best experts there: 0 (σ3), then 4.
        Assert.Equal([0, 4], experts);
        float s0 = 1f / (1f + MathF.Exp(-3f)), s4 = 1f / (1f + MathF.Exp(-1f));
        Assert.Equal(2.5f * s0 / (s0 + s4), weights[0], 5);
        Assert.Equal(2.5f * s4 / (s0 + s4), weights[1], 5);
    }

    [Fact]
    public void MultiTokenPredictionBlocksLoadButDoNotRun()
    {
        var family = Models.Architectures.DeepSeek2.Family;
        var preset = family.Presets.First(p => p.Name == "tiny-v3");
        preset = preset with { DeepSeek = preset.DeepSeek! with { NextNLayers = 1 } };
        string path = Path.Combine(models.Folder, "deepseek2-mtp.gguf");
        RandomModelBuilder.Build(new RandomModelOptions { Architecture = family, Shape = preset, Seed = 1234 }).Write(path);
        using var withMtp = LanguageModel.Load(path);
        Assert.Equal(preset.LayerCount, withMtp.Config.LayerCount);
        Assert.Equal(1, withMtp.Config.NextNLayers);
        var weights = ((DeepSeek2Transformer)withMtp.Model).Weights;
        Assert.Contains(weights.NextNTensors, t => t.Name == $"blk.{preset.LayerCount}.nextn.eh_proj.weight");
        Assert.Contains(weights.NextNTensors, t => t.Name == $"blk.{preset.LayerCount}.attn_kv_a_mqa.weight");

        // the main model is the same as without the MTP block: same logits
        using var plain = LanguageModel.Load(DeepSeek2ConformanceTests.ModelPath(models, "tiny-v3", GgmlType.F32));
        int[] tokens = plain.Tokenizer.Encode("The quick brown fox");
        using var a = withMtp.CreateSession(contextSize: 32, threads: 1);
        using var b = plain.CreateSession(contextSize: 32, threads: 1);
        Assert.Equal(b.EvaluateAll(tokens), a.EvaluateAll(tokens));
    }

    [Fact]
    public void PresetsDescribeRealShapes()
    {
        var presets = Models.Architectures.DeepSeek2.Family.Presets.ToDictionary(p => p.Name);
        var lite = presets["deepseek-v2-lite"];
        Assert.Equal((2048, 27, 10944, 16), (lite.EmbeddingLength, lite.LayerCount, lite.FeedForwardLength, lite.HeadCount));
        Assert.Equal(new DeepSeekShape(0, 512, 128, 64, 128, 64, 6, 2, 1408, 1, ExpertGating.Softmax, false, false, 1f, 1, 1, 40f, 4096, 0.707f), lite.DeepSeek);
        var v3 = presets["deepseek-v3-mini"].DeepSeek!;
        Assert.True(v3.QLoraRank > 0 && v3.Gating == ExpertGating.Sigmoid && v3.SelectionBias && v3.NormalizeWeights && v3.ExpertGroups > 1);
        Assert.Equal(2.5f, v3.RoutedScaling);
    }

    [Fact]
    public void SeekModelNewWritesARunnableDeepSeekModel()
    {
        string path = Path.Combine(models.Folder, "cli-deepseek2.gguf");
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        Assert.True(SeekCli.Run(["model", "new", "--arch", "deepseek2", "--preset", "tiny-v3", "--type", "q8_0", path], stdout, stderr) == 0, stderr.ToString());
        stdout = new StringWriter();
        Assert.True(SeekCli.Run(["run", "-m", path, "-p", "Hello", "-n", "8", "--temp", "0", "--ignore-eos", "-t", "2"], stdout, stderr) == 0, stderr.ToString());
        Assert.NotEmpty(stdout.ToString());
    }
}
