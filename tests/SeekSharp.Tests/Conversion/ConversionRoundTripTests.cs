using SeekSharp.Conversion;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Conversion;

/// <summary>
/// GGUF → Hugging Face folder (test-only inverse writer) → converter → GGUF must give back every tensor byte for byte
/// and the metadata that defines the model.
/// </summary>
public sealed class ConversionRoundTripTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("seek-convert").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }

    private string BuildModel(string arch, GgmlType type, bool tied = false, string? pre = null)
    {
        var family = ArchitectureRegistry.Find(arch)!;
        var shape = family.Presets.First(p => p.Name == "tiny") with { TiedEmbeddings = tied };
        Vocabulary? vocab = pre is null ? null : SyntheticVocabulary.PadTo(SyntheticVocabulary.Create(512, pre), shape.VocabSize);
        string path = Path.Combine(_dir, $"{arch}-{type}-{tied}.gguf");
        RandomModelBuilder.Build(new RandomModelOptions { Architecture = family, Shape = shape, WeightType = type, Vocabulary = vocab, Seed = 77 }).Write(path);
        return path;
    }

    private string RoundTrip(string gguf, ConvertOptions options, HfFolderWriter.Options? writer = null)
    {
        string hf = Path.Combine(_dir, Path.GetFileNameWithoutExtension(gguf) + "-hf");
        HfFolderWriter.Write(gguf, hf, writer);
        string output = Path.Combine(_dir, Path.GetFileNameWithoutExtension(gguf) + "-converted.gguf");
        HfToGgufConverter.Convert(hf, output, options);
        return output;
    }

    internal static void AssertSameTensors(GgufFile expected, GgufFile actual)
    {
        Assert.Equal(expected.Tensors.Select(t => t.Name).Order(), actual.Tensors.Select(t => t.Name).Order());
        foreach (var e in expected.Tensors)
        {
            var a = actual.GetTensor(e.Name);
            Assert.True(e.Type == a.Type, $"{e.Name}: {e.Type} vs {a.Type}");
            Assert.True(e.Dimensions.SequenceEqual(a.Dimensions), $"{e.Name}: [{string.Join(",", e.Dimensions)}] vs [{string.Join(",", a.Dimensions)}]");
            Assert.True(expected.GetData(e).SequenceEqual(actual.GetData(a)), $"{e.Name}: bytes differ");
        }
    }

    private static void AssertSameVocabulary(GgufFile expected, GgufFile actual)
    {
        var e = GgufVocabulary.Read(expected);
        var a = GgufVocabulary.Read(actual);
        Assert.Equal(e.Tokens, a.Tokens);
        Assert.Equal(e.TokenTypes, a.TokenTypes);
        Assert.Equal(e.Merges, a.Merges);
        Assert.Equal(e.PreTokenizer, a.PreTokenizer);
        Assert.Equal((e.BosId, e.EosId, e.AddBos, e.AddEos), (a.BosId, a.EosId, a.AddBos, a.AddEos));
    }

    [Theory]
    [InlineData("llama", GgmlType.F32, false, 1)]
    [InlineData("llama", GgmlType.F16, true, 2)]
    [InlineData("qwen2", GgmlType.F32, false, 1)]
    [InlineData("qwen2", GgmlType.F16, true, 3)]
    [InlineData("qwen3", GgmlType.F32, true, 1)]
    [InlineData("qwen3", GgmlType.F16, false, 2)]
    public void DenseModelsRoundTrip(string arch, GgmlType type, bool tied, int shards)
    {
        // qwen2's default vocabulary says deepseek-r1-qwen, whose regex is qwen2's; only a hash of real
        // tokenizations tells them apart, so this model uses the qwen2 name
        string original = BuildModel(arch, type, tied, arch == "qwen2" ? "qwen2" : null);
        // f16 models go through the "auto" type (an f16 source gives f16); f32 must be asked for
        var options = new ConvertOptions { Type = type == GgmlType.F32 ? QuantizationTarget.Parse("f32") : null };
        string converted = RoundTrip(original, options, new HfFolderWriter.Options { Shards = shards, ChatTemplate = "{{ messages[0]['content'] }}" });

        using var e = GgufFile.Open(original);
        using var a = GgufFile.Open(converted);
        AssertSameTensors(e, a);
        Assert.Equal(ModelConfig.FromGguf(e), ModelConfig.FromGguf(a));
        AssertSameVocabulary(e, a);
        Assert.Equal(arch, a.GetString("general.architecture"));
        Assert.Equal(e.GetInt32("general.file_type"), a.GetInt32("general.file_type"));
        Assert.Equal("{{ messages[0]['content'] }}", a.GetString("tokenizer.chat_template"));
    }

    [Theory]
    [InlineData("llama", GgmlType.F16)]
    [InlineData("qwen2", GgmlType.F32)]
    public void ConvertedModelGeneratesTheSameTokens(string arch, GgmlType type)
    {
        string original = BuildModel(arch, type, pre: arch == "qwen2" ? "qwen2" : null);
        string converted = RoundTrip(original, new ConvertOptions { Type = QuantizationTarget.Parse(GgmlTypeInfo.Name(type)) });
        Assert.Equal(Greedy(original), Greedy(converted));
    }

    private static int[] Greedy(string path)
    {
        using var model = LanguageModel.Load(path);
        using var session = model.CreateSession(contextSize: 64, threads: 1);
        int[] prompt = model.Tokenizer.Encode("Hello world, this is", addSpecial: true, parseSpecial: false);
        var result = new List<int>();
        int next = Sampler.ArgMax(session.Evaluate(prompt));
        var one = new int[1];
        for (int i = 0; i < 12; i++)
        {
            result.Add(next);
            one[0] = next;
            next = Sampler.ArgMax(session.Evaluate(one));
        }
        return result.ToArray();
    }

    [Fact]
    public void QuantizedTargetsFollowTheQuantizersChoices()
    {
        string original = BuildModel("llama", GgmlType.F32);
        string converted = RoundTrip(original, new ConvertOptions { Type = QuantizationTarget.Parse("q8_0") });
        using var a = GgufFile.Open(converted);
        Assert.Equal(GgmlType.Q8_0, a.GetTensor("blk.0.attn_q.weight").Type);
        Assert.Equal(GgmlType.Q8_0, a.GetTensor("output.weight").Type);
        Assert.Equal(GgmlType.F32, a.GetTensor("blk.0.attn_norm.weight").Type);
        Assert.Equal(7, a.GetInt32("general.file_type"));
        // Q8_0 of the same floats as seek quantize makes
        string quantized = Path.Combine(_dir, "q8.gguf");
        ModelQuantizer.Quantize(original, quantized, QuantizationTarget.Parse("q8_0"));
        using var q = GgufFile.Open(quantized);
        AssertSameTensors(q, a);
    }

    [Fact]
    public void Llama3RopeScalingBecomesRopeFreqs()
    {
        string original = BuildModel("llama", GgmlType.F32);
        string converted = RoundTrip(original, new ConvertOptions { Type = QuantizationTarget.Parse("f32") }, new HfFolderWriter.Options
        {
            EditConfig = c => c["rope_scaling"] = new System.Text.Json.Nodes.JsonObject
            {
                ["rope_type"] = "llama3", ["factor"] = 8.0, ["low_freq_factor"] = 1.0, ["high_freq_factor"] = 4.0, ["original_max_position_embeddings"] = 8192,
            },
        });
        using var a = GgufFile.Open(converted);
        var t = a.GetTensor("rope_freqs.weight");
        Assert.Equal(GgmlType.F32, t.Type);
        float[] f = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(a.GetData(t)).ToArray();
        Assert.Equal(8, f.Length); // head_dim 16 / 2
        Assert.Equal(1f, f[0]); // the fastest frequency keeps its period
        Assert.Equal(8f, f[^1]); // theta 500000: the slowest one is beyond the low-frequency wavelength
        Assert.False(a.ContainsKey("llama.rope.scaling.type"));
        // Llama 3.1's formula in double precision (the converter works in float32)
        double theta = a.GetSingle("llama.rope.freq_base");
        for (int i = 0; i < f.Length; i++)
        {
            double wavelen = 2 * Math.PI * Math.Pow(theta, 2.0 * i / 16);
            double want = wavelen < 2048 ? 1 : wavelen > 8192 ? 8 : 1 / ((1 - (8192 / wavelen - 1) / 3) / 8 + (8192 / wavelen - 1) / 3);
            Assert.Equal(want, f[i], 5);
        }
        Assert.Contains(f, x => x > 1 && x < 8); // the smoothed band is exercised
    }

    [Theory]
    [InlineData(true, GgmlType.F16)]
    [InlineData(false, GgmlType.BF16)]
    public void Deepseek2RoundTrips(bool qLora, GgmlType type)
    {
        string original = Path.Combine(_dir, $"ds2-{qLora}.gguf");
        Deepseek2Gguf.Build(qLora, type).Write(original);
        int d = Deepseek2Gguf.Embedding;
        string converted = RoundTrip(original, new ConvertOptions(), new HfFolderWriter.Options
        {
            Shards = 2,
            // a multi-token-prediction layer after the last block: llama.cpp's converter drops it
            ExtraTensors = { ["model.layers.2.self_attn.kv_a_layernorm.weight"] = (new float[32], [32]), ["model.layers.2.eh_proj.weight"] = (new float[d * 2 * d], [d, 2 * d]) },
        });
        using var e = GgufFile.Open(original);
        using var a = GgufFile.Open(converted);
        AssertSameTensors(e, a);
        foreach (var kv in e.Metadata)
        {
            if (kv.Key == "general.name") continue;
            Assert.True(a.TryGetValue(kv.Key, out var v), $"missing {kv.Key}");
            Assert.True(Equals(kv.Value.Value, v.Value) || kv.Value.Type == GgufValueType.Array && kv.Value.AsArray().Count == v.AsArray().Count,
                $"{kv.Key}: {kv.Value.Value} vs {v.Value}");
        }
        AssertSameVocabulary(e, a);
    }

    [Fact]
    public void Fp8BlockScaledWeightsAreDequantized()
    {
        string original = BuildModel("llama", GgmlType.F32);
        var writer = new HfFolderWriter.Options
        {
            Fp8 = { "model.layers.0.mlp.up_proj.weight", "model.layers.1.self_attn.o_proj.weight" },
            EditConfig = c => c["quantization_config"] = new System.Text.Json.Nodes.JsonObject
            {
                ["quant_method"] = "fp8", ["fmt"] = "e4m3", ["weight_block_size"] = new System.Text.Json.Nodes.JsonArray(16, 16),
            },
        };
        string converted = RoundTrip(original, new ConvertOptions { Type = QuantizationTarget.Parse("f32") }, writer);
        using var e = GgufFile.Open(original);
        using var a = GgufFile.Open(converted);
        foreach (var (hf, gguf) in new[] { ("model.layers.0.mlp.up_proj.weight", "blk.0.ffn_up.weight"), ("model.layers.1.self_attn.o_proj.weight", "blk.1.attn_output.weight") })
        {
            var t = a.GetTensor(gguf);
            Assert.Equal(GgmlType.F32, t.Type);
            Assert.Equal(e.GetTensor(gguf).Dimensions, t.Dimensions);
            Assert.Equal(writer.Fp8Expected[hf], System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(a.GetData(t)).ToArray());
        }
        Assert.False(a.TryGetTensor("blk.0.ffn_up.weight_scale_inv", out _));
        Assert.True(e.GetData(e.GetTensor("blk.0.attn_q.weight")).SequenceEqual(a.GetData(a.GetTensor("blk.0.attn_q.weight"))));
    }

    /// <summary>DeepSeek-V3's real tokenizer.json and tokenizer_config.json (vendored test data) through the converter.</summary>
    [Fact]
    public void RealDeepseekV3TokenizerConverts()
    {
        var vocab = Tokenization.TokenizerTestData.Vocabulary("deepseek-v3");
        string original = Path.Combine(_dir, "ds2-real-vocab.gguf");
        Deepseek2Gguf.Build(qLora: true, GgmlType.F16, vocab).Write(original);
        string hf = Path.Combine(_dir, "ds2-real-vocab-hf");
        HfFolderWriter.Write(original, hf);
        foreach (string file in new[] { "tokenizer.json", "tokenizer_config.json" })
        {
            using var gz = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(Tokenization.TokenizerTestData.Directory, "deepseek-v3", file + ".gz")),
                System.IO.Compression.CompressionMode.Decompress);
            using var outFile = File.Create(Path.Combine(hf, file));
            gz.CopyTo(outFile);
        }
        string converted = Path.Combine(_dir, "ds2-real-vocab-converted.gguf");
        HfToGgufConverter.Convert(hf, converted);
        using var e = GgufFile.Open(original);
        using var a = GgufFile.Open(converted);
        AssertSameVocabulary(e, a);
        Assert.Equal("deepseek-v3", a.GetString("tokenizer.ggml.pre"));
        using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(hf, "tokenizer_config.json")));
        Assert.Equal(config.RootElement.GetProperty("chat_template").GetString(), a.GetString("tokenizer.chat_template"));
        AssertSameTensors(e, a);
    }
}
