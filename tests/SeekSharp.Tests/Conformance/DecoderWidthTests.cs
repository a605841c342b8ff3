using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Tests.Kernels;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Both decoders (llama/qwen2/qwen3, and deepseek2's latent attention and experts) at every vector width down to
/// scalar: the f16 product orders they mirror must not depend on the path taken, so logits are bit-identical across
/// widths, batched prefill and one-token decode both.
/// </summary>
[Collection("Kernels")]
public class DecoderWidthTests(TestModels models) : IClassFixture<TestModels>
{
    private static float[] Run(LanguageModel model, int[] tokens)
    {
        using var session = model.CreateSession(contextSize: 128, threads: 2, batchSize: 8);
        var all = session.EvaluateAll(tokens).ToList();
        foreach (int t in new[] { 5, 17, 42 }) all.AddRange(session.Evaluate([t]).ToArray());
        return all.ToArray();
    }

    [Theory]
    [InlineData("qwen2", GgmlType.Q4_K)]
    [InlineData("llama", GgmlType.F16)]
    public void EveryVectorWidthGivesTheSameLogits(string arch, GgmlType type) => AssertSameLogitsAtEveryWidth(models.Get(arch, type));

    [Theory]
    [InlineData("tiny-v3", GgmlType.F16)]
    [InlineData("tiny", GgmlType.Q8_0)]
    public void EveryVectorWidthGivesTheSameDeepSeek2Logits(string preset, GgmlType type) =>
        AssertSameLogitsAtEveryWidth(DeepSeek2ConformanceTests.ModelPath(models, preset, type));

    private static void AssertSameLogitsAtEveryWidth(string path)
    {
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        float[] expected;
        using (new ForcedWidth(512)) expected = Run(model, tokens);
        foreach (int width in Cases.Widths)
            using (new ForcedWidth(width))
                Assert.Equal(expected, Run(model, tokens));
    }
}
