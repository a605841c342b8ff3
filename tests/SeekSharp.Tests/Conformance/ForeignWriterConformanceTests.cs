using LLama;
using LLama.Native;
using SeekSharp.Gguf;
using SeekSharp.Inference;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Files written by another GGUF writer — llama.cpp's own quantizer (llama-quantize, with its per-tensor type mixes
/// such as Q4_K_M) — must also run token-for-token like llama.cpp.
/// </summary>
public class ForeignWriterConformanceTests(TestModels models) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData("qwen2", LLamaFtype.MOSTLY_Q4_K_M)]
    [InlineData("llama", LLamaFtype.MOSTLY_Q8_0)]
    [InlineData("qwen3", LLamaFtype.MOSTLY_Q4_0)]
    [InlineData("qwen3", LLamaFtype.MOSTLY_Q6_K)]
    [InlineData("llama", LLamaFtype.MOSTLY_Q5_K_M)]
    public void ModelsQuantizedByLlamaCppRunIdentically(string arch, LLamaFtype ftype)
    {
        // a K-quant-compatible (256-wide) F32 source written by us, then quantized by llama.cpp's writer
        string f32Wide = models.Get(arch, GgmlType.F32, wide: true);
        string target = Path.Combine(models.Folder, $"{arch}-llamacpp-{ftype}.gguf");
        LlamaCppReference.EnsureInitialized();
        Assert.True(LLamaQuantizer.Quantize(f32Wide, target, ftype, nthread: 2, allowRequantize: true, quantizeOutputTensor: false));

        using (var file = GgufFile.Open(target))
            Assert.Contains(file.Tensors, t => t.Type != GgmlType.F32);

        using var reference = new LlamaCppReference(target);
        using var model = LanguageModel.Load(target);
        int[] prompt = model.Tokenizer.Encode(ModelConformanceTests.Prompt);
        int[] expected = reference.Greedy(prompt, 32);
        using var session = model.CreateSession(contextSize: 256, threads: 2);
        int[] actual = TextGenerator.Generate(session, model.Tokenizer, prompt, 32, new Sampler(SamplingOptions.Greedy), stopAtEndOfGeneration: false)
            .Where(t => t.Id >= 0).Select(t => t.Id).ToArray();
        Assert.Equal(expected, actual);
    }
}
