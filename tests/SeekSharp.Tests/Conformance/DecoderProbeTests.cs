using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Op-by-op comparison of the llama/qwen2/qwen3 decoder with llama.cpp's graph tensors (its eval callback), as
/// <see cref="DeepSeek2ProbeTests"/> does for deepseek2: the first probed intermediate that differs names the culprit.
/// </summary>
[Collection("GraphProbe")]
public class DecoderProbeTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    [Theory]
    [InlineData("llama", GgmlType.Q4_K)]
    [InlineData("qwen2", GgmlType.Q4_K)]
    [InlineData("qwen3", GgmlType.Q6_K)]
    [InlineData("qwen3", GgmlType.BF16)]
    public unsafe void EveryIntermediateTensorIsBitIdentical(string arch, GgmlType type)
    {
        string path = models.Get(arch, type);
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        var ggml = DeepSeek2ProbeTests.s_ggml;
        ggml.Clear();
        delegate* unmanaged[Cdecl]<nint, byte, nint, byte> cb = &DeepSeek2ProbeTests.Eval;
        using (var reference = new LlamaCppReference(path, evalCallback: (nint)cb))
            reference.Logits(tokens);
        var ours = new List<(string Name, int Layer, float[] V)>();
        DecoderTransformer.Probe = (name, l, v) => ours.Add((name, l, v.ToArray()));
        try
        {
            using var s = model.CreateSession(contextSize: 256, threads: 2);
            s.EvaluateAll(tokens);
        }
        finally { DecoderTransformer.Probe = null; }
        var mismatches = new List<string>();
        foreach (var (name, l, v) in ours)
        {
            string prefix = l >= 0 ? $"{name}-{l} " : $"{name} ";
            bool found = false, exact = false;
            string detail = "";
            // several graph tensors share a name (e.g. Qcur before and after RoPE): any one equal to ours counts
            foreach (var (key, list) in ggml.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal)))
                foreach (var g in list)
                {
                    if (g.Length != v.Length) continue;
                    found = true;
                    int diff = 0, first = -1;
                    for (int i = 0; i < g.Length; i++)
                        if (BitConverter.SingleToInt32Bits(g[i]) != BitConverter.SingleToInt32Bits(v[i])) { if (diff++ == 0) first = i; }
                    if (diff == 0) exact = true;
                    else detail += $" {key}: {diff}/{g.Length} differ, first at {first} ({g[first]:G9} vs ours {v[first]:G9});";
                }
            output.WriteLine($"{prefix.TrimEnd()}: {(exact ? "identical" : found ? "DIFFERS" + detail : "no llama.cpp tensor")}");
            if (!exact) mismatches.Add($"{prefix.TrimEnd()}{detail}");
        }
        Assert.Empty(mismatches);
    }
}
