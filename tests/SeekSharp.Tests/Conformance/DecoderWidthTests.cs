using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Tests.Kernels;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// The llama/qwen2/qwen3 forward pass (its attention runs through the f16 product orders of LatentAttention) at every
/// vector width down to scalar: logits bit-identical across widths, batched prefill and one-token decode both.
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
    public void EveryVectorWidthGivesTheSameLogits(string arch, GgmlType type)
    {
        using var model = LanguageModel.Load(models.Get(arch, type));
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        float[] expected;
        using (new ForcedWidth(512)) expected = Run(model, tokens);
        foreach (int width in Cases.Widths)
            using (new ForcedWidth(width))
                Assert.Equal(expected, Run(model, tokens));
    }
}
