using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using Xunit.Abstractions;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Op-by-op comparison with llama.cpp: its scheduler's eval callback hands every computed graph tensor (by graph name)
/// and our transformer's probe hands the same intermediates, so the first tensor that differs names the culprit.
/// </summary>
[Collection("GraphProbe")]
public class DeepSeek2ProbeTests(TestModels models, ITestOutputHelper output) : IClassFixture<TestModels>
{
    /// <summary>llama.cpp's captured graph tensors, "name [ne0,ne1,ne2,ne3]" to every evaluation of that tensor. Shared
    /// by the probe test classes, which the "GraphProbe" collection keeps from running at the same time.</summary>
    internal static readonly Dictionary<string, List<float[]>> s_ggml = new();

    // ggml_tensor field offsets (ggml.h): type 0, ne[4] 16, nb[4] 48, data 248, name[64] 256
    [UnmanagedCallersOnly(CallConvs = new[] { typeof(CallConvCdecl) })]
    internal static unsafe byte Eval(nint t, byte ask, nint user)
    {
        if (ask != 0) return 1;
        byte* p = (byte*)t;
        int type = *(int*)p;
        long* ne = (long*)(p + 16);
        ulong* nb = (ulong*)(p + 48);
        byte* data = *(byte**)(p + 248);
        string name = Marshal.PtrToStringUTF8((nint)(p + 256)) ?? "";
        if (type != 0 || data == null) return 1; // f32 only
        var v = new float[ne[0] * ne[1] * ne[2] * ne[3]];
        int k = 0;
        for (long i3 = 0; i3 < ne[3]; i3++)
            for (long i2 = 0; i2 < ne[2]; i2++)
                for (long i1 = 0; i1 < ne[1]; i1++)
                    for (long i0 = 0; i0 < ne[0]; i0++)
                        v[k++] = *(float*)(data + (ulong)i0 * nb[0] + (ulong)i1 * nb[1] + (ulong)i2 * nb[2] + (ulong)i3 * nb[3]);
        lock (s_ggml)
        {
            string key = $"{name} [{ne[0]},{ne[1]},{ne[2]},{ne[3]}]";
            if (!s_ggml.TryGetValue(key, out var list)) s_ggml[key] = list = new();
            list.Add(v);
        }
        return 1;
    }

    [Theory]
    [InlineData("tiny-v3", GgmlType.Q4_K)]
    [InlineData("tiny", GgmlType.Q4_K)]
    public unsafe void EveryIntermediateTensorIsBitIdentical(string preset, GgmlType type)
    {
        string path = DeepSeek2ConformanceTests.ModelPath(models, preset, type);
        using var model = LanguageModel.Load(path);
        int[] tokens = model.Tokenizer.Encode(ModelConformanceTests.Prompt + " jumps over the lazy dog.");
        s_ggml.Clear();
        delegate* unmanaged[Cdecl]<nint, byte, nint, byte> cb = &Eval;
        using (var reference = new LlamaCppReference(path, evalCallback: (nint)cb))
            reference.Logits(tokens);
        var ours = new List<(string Name, int Layer, float[] V)>();
        int layer = 0;
        DeepSeek2Transformer.Probe = (name, l, v) =>
        {
            if (l >= 0) layer = l;
            ours.Add((name, layer, v.ToArray()));
        };
        try
        {
            using var s = model.CreateSession(contextSize: 256, threads: 2);
            s.EvaluateAll(tokens);
        }
        finally { DeepSeek2Transformer.Probe = null; }
        var c = model.Config;
        int n = tokens.Length;
        var mismatches = new List<string>();
        foreach (var (name, l, v) in ours)
        {
            // llama.cpp's names: the concatenated per-head values are "kqv_out"; the weighted, normalised query latent is
            // the layer's "q" of q_lora width; the routing weights are named after the last step applied to them
            string[] gnames = name switch
            {
                "kqv_mla" => new[] { "kqv_mla", "kqv_out" },
                "q_a_norm" => new[] { "q" },
                "ffn_moe_weights" => new[] { "ffn_moe_weights_scaled", "ffn_moe_weights_norm", "ffn_moe_weights" },
                _ => new[] { name },
            };
            bool found = false, exact = false;
            string detail = "";
            foreach (string gname in gnames)
            {
                if (found) break;
                foreach (var (key, list) in s_ggml.Where(kv => kv.Key.StartsWith($"{gname}-{l} ", StringComparison.Ordinal)))
                    foreach (var g0 in list)
                    {
                        if (g0.Length != v.Length) continue;
                        var g = g0;
                        // [value][token][head] in ggml's batched per-head products, [value][head][token] in ours
                        if (key.StartsWith("kqv_mla-", StringComparison.Ordinal)) g = Permute12(g, c.ValueLengthMla, n, c.HeadCount);
                        if (key.StartsWith("kqv-", StringComparison.Ordinal)) g = Permute12(g, c.KvLoraRank, n, c.HeadCount);
                        found = true;
                        int diff = 0, first = -1;
                        for (int i = 0; i < g.Length; i++)
                            if (BitConverter.SingleToInt32Bits(g[i]) != BitConverter.SingleToInt32Bits(v[i])) { if (diff++ == 0) first = i; }
                        if (diff == 0) exact = true;
                        else detail += $" {key}: {diff}/{g.Length} differ, first at {first} ({g[first]:G9} vs ours {v[first]:G9});";
                    }
            }
            output.WriteLine($"{name}-{l}: {(exact ? "identical" : found ? "DIFFERS" + detail : "no llama.cpp tensor")}");
            if (!exact) mismatches.Add($"{name}-{l}{detail}");
        }
        Assert.Empty(mismatches);
    }

    private static float[] Permute12(float[] g, int a, int b, int c)
    {
        // g is [c][b][a] (ne0 = a, ne1 = b tokens, ne2 = c heads) -> [b][c][a]
        var r = new float[g.Length];
        for (int h = 0; h < c; h++)
            for (int t = 0; t < b; t++)
                Array.Copy(g, (h * b + t) * a, r, (t * c + h) * a, a);
        return r;
    }
}
