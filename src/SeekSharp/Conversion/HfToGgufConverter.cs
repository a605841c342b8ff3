using System.Text.Json;
using SeekSharp.Gguf;
using SeekSharp.Models;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Tokenization;

namespace SeekSharp.Conversion;

/// <summary>Options of <see cref="HfToGgufConverter.Convert"/>.</summary>
public sealed record ConvertOptions
{
    /// <summary>Weight type, as <c>seek quantize</c> names them; null for convert_hf_to_gguf's "auto": bf16 when the
    /// first 2-D source tensor in 16-bit float is bf16, f16 when it is f16, and f16 when there is none.</summary>
    public QuantizationTarget? Type { get; init; }

    /// <summary>tokenizer.ggml.pre to write; null to recognise it from the tokenizer's pre-tokenizer regexes.</summary>
    public string? PreTokenizer { get; init; }

    /// <summary>general.name; null for the folder's name.</summary>
    public string? Name { get; init; }
}

/// <summary>A planned output tensor.</summary>
internal sealed record PlannedTensor(string Name, GgmlType Type, long[] Dims, RowProducer Rows);

/// <summary>
/// Converts a Hugging Face model folder to GGUF the way llama.cpp's convert_hf_to_gguf.py does, for Llama, Qwen2,
/// Qwen3 and DeepSeek V2/V3. Everything is planned and checked (names, shapes, tokenizer) before the output is
/// opened; tensor data then streams row by row from the memory-mapped shards into an atomically written file.
/// </summary>
public static class HfToGgufConverter
{
    public static void Convert(string modelFolder, string outputPath, ConvertOptions? options = null, IProgress<double>? progress = null)
    {
        options ??= new ConvertOptions();
        using var folder = HfModelFolder.Open(modelFolder);
        var writer = Plan(folder, options);
        writer.Write(outputPath, progress);
    }

    internal static GgufWriter Plan(HfModelFolder folder, ConvertOptions options)
    {
        var config = folder.Config;
        string hfArch = config.Architecture ?? throw new InvalidDataException($"{config.Path}: no \"architectures\" entry");
        var arch = ConversionArchitecture.Find(hfArch)
            ?? throw new NotSupportedException($"architecture '{hfArch}' is not supported (supported: {string.Join(", ", ConversionArchitecture.SupportedNames)})");
        arch.ApplyDefaults(config);

        var target = options.Type ?? AutoTarget(folder);
        var w = new GgufWriter();
        w.Set("general.architecture", arch.GgufName);
        w.Set("general.type", "model");
        w.Set("general.name", options.Name ?? new DirectoryInfo(folder.Path).Name);
        arch.WriteParameters(w, config);
        w.Set("general.file_type", (uint)target.FileType);
        w.Set("general.quantization_version", 2u);
        WriteTokenizer(w, folder, config, options);

        var tensors = PlanTensors(folder, arch, config);
        CheckAgainstExpected(tensors, arch.Expected(config));
        int layers = config.GetInt("num_hidden_layers");
        bool hasOutput = tensors.Any(t => t.Name == "output.weight");
        foreach (var t in tensors)
        {
            var type = TypeFor(t, target, layers, hasOutput);
            var rows = t.Rows;
            long rowCount = 1;
            for (int i = 1; i < t.Dims.Length; i++) rowCount *= t.Dims[i];
            w.AddTensor(t.Name, type, t.Dims, s => WriteRows(rows, type, rowCount, s));
        }
        return w;
    }

    /// <summary>convert_hf_to_gguf's "auto" outtype.</summary>
    private static QuantizationTarget AutoTarget(HfModelFolder folder)
    {
        foreach (var t in folder.Tensors)
        {
            if (t.Shape.Length < 2) continue;
            if (t.Info.DType == SafeTensorDType.BF16) return QuantizationTarget.Parse("bf16");
            if (t.Info.DType == SafeTensorDType.F16) return QuantizationTarget.Parse("f16");
        }
        return QuantizationTarget.Parse("f16");
    }

    /// <summary>
    /// The converter's type rules: 1-D tensors, norms, the MoE router (ffn_gate_inp) and anything not named
    /// ".weight" stay f32; the rest get the target, with llama.cpp's quantize choices for quantized targets
    /// (<see cref="ModelQuantizer.TypeFor"/>: f16 fallback when a row does not fit the block size, Q6_K output...).
    /// </summary>
    internal static GgmlType TypeFor(PlannedTensor t, QuantizationTarget target, int layers, bool hasOutput)
    {
        if (t.Dims.Length <= 1 || t.Name.EndsWith("_norm.weight", StringComparison.Ordinal) || !t.Name.EndsWith(".weight", StringComparison.Ordinal)
            || t.Name.Contains(".ffn_gate_inp.", StringComparison.Ordinal) || t.Name.Contains(".ffn_gate_inp_shexp.", StringComparison.Ordinal))
            return GgmlType.F32;
        return ModelQuantizer.TypeFor(new GgufTensorInfo(t.Name, GgmlType.F32, t.Dims, 0, 0), target, layers, hasOutput);
    }

    private static List<PlannedTensor> PlanTensors(HfModelFolder folder, ConversionArchitecture arch, HfConfig config)
    {
        var result = new List<PlannedTensor>();
        foreach (var (name, values) in arch.ExtraTensors(config))
            result.Add(new PlannedTensor(name, GgmlType.F32, [values.Length], new ConstantRows(values)));

        // FP8 checkpoints: each weight has a weight_scale_inv of per-block multipliers
        var (blockRows, blockCols) = BlockSize(config);
        var scales = new Dictionary<string, HfTensor>(StringComparer.Ordinal);
        foreach (var t in folder.Tensors)
            if (t.Name.EndsWith("_scale_inv", StringComparison.Ordinal)) scales[t.Name[..^"_scale_inv".Length]] = t;
        SourceReader Reader(HfTensor t) => new(t, scales.GetValueOrDefault(t.Name), blockRows, blockCols);

        var experts = new Dictionary<(int Layer, string Projection), SourceReader?[]>();
        int expertCount = config.GetIntOrNull("n_routed_experts") ?? 0;
        foreach (var t in folder.Tensors)
        {
            if (t.Name.EndsWith("_scale_inv", StringComparison.Ordinal))
            {
                if (!folder.TryGetTensor(t.Name[..^"_scale_inv".Length], out _))
                    throw new InvalidDataException($"scale '{t.Name}' has no weight '{t.Name[..^"_scale_inv".Length]}'");
                continue;
            }
            if (t.Name.EndsWith(".activation_scale", StringComparison.Ordinal)) continue;
            if (arch.Map(t.Name, config) is not MappedTensor m)
                throw new InvalidDataException($"cannot map tensor '{t.Name}' ({string.Join("x", t.Shape)}) to {arch.GgufName}");
            switch (m.Kind)
            {
                case MapKind.Skip:
                    break;
                case MapKind.Plain:
                {
                    var reader = Reader(t);
                    long[] dims = t.Shape.Length == 0 ? [1] : t.Shape.Reverse().ToArray();
                    RowProducer rows = m.PermuteHeads <= 0 ? new MappedRows(reader, reader.Rows)
                        : t.Shape.Length == 1 ? new PermutedVector(reader, HeadPermutation(t, m.PermuteHeads))
                        : new MappedRows(reader, reader.Rows, HeadPermutation(t, m.PermuteHeads));
                    result.Add(new PlannedTensor(m.GgufName, GgmlType.F32, dims, rows));
                    break;
                }
                case MapKind.Expert:
                {
                    if (expertCount <= 0) throw new InvalidDataException($"tensor '{t.Name}' is an expert but config.json has no n_routed_experts");
                    if (m.Expert >= expertCount) throw new InvalidDataException($"tensor '{t.Name}': expert {m.Expert} is out of range (n_routed_experts = {expertCount})");
                    var key = (m.Layer, m.Projection!);
                    if (!experts.TryGetValue(key, out var list)) experts[key] = list = new SourceReader?[expertCount];
                    list[m.Expert] = Reader(t);
                    // stacked once all three projections of the layer are complete, in down, gate, up order (as the converter)
                    var all = new[] { "down_proj", "gate_proj", "up_proj" };
                    if (all.All(p => experts.TryGetValue((m.Layer, p), out var l) && l.All(x => x != null)))
                    {
                        foreach (string p in all)
                        {
                            var readers = experts[(m.Layer, p)]!.Select(x => x!).ToArray();
                            var first = readers[0];
                            foreach (var r in readers)
                                if (!r.Shape.SequenceEqual(first.Shape))
                                    throw new InvalidDataException($"experts of layer {m.Layer} {p} have different shapes ([{string.Join(", ", first.Shape)}] and [{string.Join(", ", r.Shape)}])");
                            if (first.Shape.Length != 2) throw new InvalidDataException($"expert tensor '{first.Name}' must be 2-D");
                            result.Add(new PlannedTensor($"blk.{m.Layer}.ffn_{p[..^5]}_exps.weight", GgmlType.F32,
                                [first.Shape[1], first.Shape[0], readers.Length], new StackedRows(readers)));
                            experts.Remove((m.Layer, p));
                        }
                    }
                    break;
                }
                case MapKind.KvB:
                {
                    int heads = config.GetInt("num_attention_heads"), nope = config.GetInt("qk_nope_head_dim"), v = config.GetInt("v_head_dim");
                    var reader = Reader(t);
                    if (t.Shape.Length != 2 || t.Shape[0] != (long)heads * (nope + v))
                        throw new InvalidDataException($"tensor '{t.Name}' is [{string.Join(", ", t.Shape)}], expected [{(long)heads * (nope + v)}, kv_lora_rank]");
                    int kvLora = (int)t.Shape[1];
                    string p = $"blk.{m.Layer}.";
                    result.Add(new PlannedTensor(p + "attn_k_b.weight", GgmlType.F32, [nope, kvLora, heads],
                        new TransposedHeadRows(reader, heads, nope, v, kvLora)));
                    result.Add(new PlannedTensor(p + "attn_v_b.weight", GgmlType.F32, [kvLora, v, heads],
                        new MappedRows(reader, (long)heads * v, r => r / v * (nope + v) + nope + r % v)));
                    break;
                }
            }
        }
        foreach (var ((layer, p), list) in experts)
        {
            int missing = Array.FindIndex(list, x => x == null);
            throw new InvalidDataException($"missing tensor 'model.layers.{layer}.mlp.experts.{(missing < 0 ? 0 : missing)}.{(missing < 0 ? OtherProjection(experts, layer) : p)}.weight'");
        }
        return result;
    }

    private static string OtherProjection<T>(Dictionary<(int, string), T> experts, int layer) =>
        new[] { "down_proj", "gate_proj", "up_proj" }.First(p => !experts.ContainsKey((layer, p)));

    /// <summary>
    /// Hugging Face's Llama checkpoints keep each head's two rotary halves apart; ggml's Llama RoPE rotates adjacent
    /// pairs. Output row h·d + 2i + s comes from input row h·d + s·d/2 + i (d = rows per head).
    /// </summary>
    private static Func<long, long> HeadPermutation(HfTensor t, int heads)
    {
        long rows = t.Shape.Length == 0 ? 1 : t.Shape[0];
        if (heads <= 0 || rows % (2L * heads) != 0)
            throw new InvalidDataException($"tensor '{t.Name}' has {rows} rows, which do not split into {heads} heads of rotary pairs");
        if (t.Shape.Length > 2) throw new InvalidDataException($"tensor '{t.Name}' must be a matrix or a vector to reorder its heads");
        long d = rows / heads, half = d / 2;
        return r =>
        {
            long h = r / d, rem = r % d;
            return h * d + (rem % 2) * half + rem / 2;
        };
    }

    private static (int, int) BlockSize(HfConfig config)
    {
        if (config.TryGetElement("quantization_config", out var q) && q.ValueKind == JsonValueKind.Object)
        {
            string? method = q.TryGetProperty("quant_method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            if (method != "fp8") throw new NotSupportedException($"quantization method '{method}' is not supported (only fp8 block-scaled checkpoints)");
            if (q.TryGetProperty("weight_block_size", out var b) && b.ValueKind == JsonValueKind.Array && b.GetArrayLength() == 2
                && b[0].TryGetInt32(out int r) && b[1].TryGetInt32(out int c) && r > 0 && c > 0)
                return (r, c);
        }
        return (128, 128);
    }

    private static void CheckAgainstExpected(List<PlannedTensor> tensors, IReadOnlyDictionary<string, ExpectedTensor> expected)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            if (!seen.Add(t.Name)) throw new InvalidDataException($"two source tensors map to '{t.Name}'");
            if (!expected.TryGetValue(t.Name, out var e))
                throw new InvalidDataException($"unexpected tensor '{t.Name}' for this configuration");
            if (!e.Dims.SequenceEqual(t.Dims))
                throw new InvalidDataException($"tensor '{t.Name}' has shape [{string.Join(", ", t.Dims)}], config.json implies [{string.Join(", ", e.Dims)}] (ggml order)");
        }
        foreach (var (name, e) in expected)
            if (e.Required && !seen.Contains(name))
                throw new InvalidDataException($"missing tensor '{name}'");
    }

    private static void WriteRows(RowProducer rows, GgmlType type, long rowCount, Stream s)
    {
        int cols = rows.Columns;
        long rowBytes = GgmlTypeInfo.RowSize(type, cols);
        // rows are gathered into a slab (~4 MiB of floats), encoded in parallel and written in one call
        int perSlab = (int)Math.Max(1, Math.Min(rowCount, (1 << 20) / Math.Max(1, cols)));
        var slab = new float[(long)perSlab * cols];
        var buffer = new byte[perSlab * rowBytes];
        int filled = 0;
        long produced = 0;
        void Flush()
        {
            int n = filled;
            if (n == 1 || type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16)
                for (int i = 0; i < n; i++) Encode(i);
            else
                Parallel.For(0, n, Encode);
            s.Write(buffer, 0, (int)(n * rowBytes));
            filled = 0;
        }
        void Encode(int i) => Quantizer.QuantizeRow(type, slab.AsSpan(i * cols, cols), buffer.AsSpan((int)(i * rowBytes), (int)rowBytes));
        rows.Produce(row =>
        {
            if (row.Length != cols) throw new InvalidOperationException($"row of {row.Length} values, expected {cols}");
            row.CopyTo(slab.AsSpan(filled * cols, cols));
            produced++;
            if (++filled == perSlab) Flush();
        });
        if (filled > 0) Flush();
        if (produced != rowCount) throw new InvalidOperationException($"produced {produced} rows, expected {rowCount}");
    }

    private static void WriteTokenizer(GgufWriter w, HfModelFolder folder, HfConfig config, ConvertOptions options)
    {
        string tokenizerJson = folder.FindFile("tokenizer.json")
            ?? throw new FileNotFoundException($"{folder.Path} has no tokenizer.json (only byte-level BPE tokenizers are converted)");
        string? tokenizerConfig = folder.FindFile("tokenizer_config.json");
        // SentencePiece vocabularies (Llama 2 and older) come as tokenizer.model or as a byte-fallback BPE in tokenizer.json
        if (folder.FindFile("tokenizer.model") != null || ByteFallback(tokenizerJson))
            throw new NotSupportedException($"{folder.Path}: SentencePiece tokenizers are not supported (only byte-level BPE, tokenizer.ggml.model \"gpt2\")");
        var vocab = HuggingFaceTokenizerJson.Load(tokenizerJson, tokenizerConfig, options.PreTokenizer, config.GetIntOrNull("vocab_size"));
        if (options.PreTokenizer is null && vocab.PreTokenizer == "default")
            throw new NotSupportedException($"{tokenizerJson}: the pre-tokenizer was not recognised; name it with --pre (e.g. llama-bpe, qwen2, deepseek-v3)");
        // gguf.SpecialVocab falls back on config.json's ids
        if (vocab.BosId < 0 && config.GetIntOrNull("bos_token_id") is int bos && bos < vocab.Count) vocab = With(vocab, bos: bos);
        if (vocab.EosId < 0 && config.GetIntOrNull("eos_token_id") is int eos && eos < vocab.Count) vocab = With(vocab, eos: eos);
        GgufVocabulary.Write(w, vocab);

        string? template = null;
        if (tokenizerConfig != null)
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(tokenizerConfig));
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("chat_template", out var ct))
            {
                if (ct.ValueKind == JsonValueKind.String) template = ct.GetString();
                else if (ct.ValueKind == JsonValueKind.Array)
                {
                    // named templates: "default" is tokenizer.chat_template, the others tokenizer.chat_template.NAME
                    var names = new List<string>();
                    foreach (var item in ct.EnumerateArray())
                    {
                        if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("name", out var n) || !item.TryGetProperty("template", out var tt)
                            || n.ValueKind != JsonValueKind.String || tt.ValueKind != JsonValueKind.String) continue;
                        if (n.GetString() == "default") template = tt.GetString();
                        else
                        {
                            w.Set($"tokenizer.chat_template.{n.GetString()}", tt.GetString()!);
                            names.Add(n.GetString()!);
                        }
                    }
                    if (names.Count > 0) w.Set("tokenizer.chat_templates", names.ToArray());
                }
            }
        }
        if (folder.FindFile("chat_template.jinja") is string jinja) template = File.ReadAllText(jinja);
        if (template != null) w.Set("tokenizer.chat_template", template);
    }

    private static bool ByteFallback(string tokenizerJson)
    {
        using var stream = File.OpenRead(tokenizerJson);
        using var doc = JsonDocument.Parse(stream, new JsonDocumentOptions { MaxDepth = 256 });
        return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("model", out var m) && m.ValueKind == JsonValueKind.Object
            && m.TryGetProperty("byte_fallback", out var b) && b.ValueKind == JsonValueKind.True;
    }

    private static Vocabulary With(Vocabulary v, int? bos = null, int? eos = null) => new()
    {
        Tokens = v.Tokens,
        TokenTypes = v.TokenTypes,
        Merges = v.Merges,
        PreTokenizer = v.PreTokenizer,
        BosId = bos ?? v.BosId,
        EosId = eos ?? v.EosId,
        EotId = v.EotId,
        PadId = v.PadId,
        UnknownId = v.UnknownId,
        AddBos = v.AddBos,
        AddEos = v.AddEos,
    };
}
