using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Conformance;

public class DeepSeek2Scratch(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData("llama", GgmlType.Q4_K, true, 0)]
    [InlineData("qwen2", GgmlType.Q4_K, true, 0)]
    public void Probe(string preset, GgmlType type, bool wide, int batch)
    {
        string path = preset is "llama" or "qwen2" ? models.Get(preset, type) : models.Get("deepseek2", type, preset: preset, wide: wide);
        using var reference = new LlamaCppReference(path);
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog. " + ModelConformanceTests.Prompt);
        var exp = reference.Logits(tokens, batch);
        using var tf = model.CreateSession(contextSize: 256, threads: 2, batchSize: batch == 0 ? 128 : batch);
        var act = tf.EvaluateAll(tokens);
        int vocab = model.Config.VocabSize;
        for (int p = 0; p < tokens.Length; p++)
        {
            double err = 0, norm = 0;
            for (int i = 0; i < vocab; i++) { double df = act[p * vocab + i] - exp[p][i]; err += df * df; norm += exp[p][i] * (double)exp[p][i]; }
            if (err > 0) output.WriteLine($"{p}: {err / norm:E1}");
        }
    }
}
