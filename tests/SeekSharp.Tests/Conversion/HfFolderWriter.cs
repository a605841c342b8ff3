using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Conversion;

/// <summary>
/// Test-only inverse of the converter: writes a GGUF model as a Hugging Face folder (config.json, tokenizer.json,
/// tokenizer_config.json, safetensors shards), undoing each mapping: GGUF names to HF names, ggml dimension order to
/// PyTorch order, Llama's Q/K row interleave back to split halves, stacked experts back to one matrix per expert and
/// attn_k_b/attn_v_b back into kv_b_proj.
/// </summary>
internal static class HfFolderWriter
{
    public sealed record Options
    {
        public int Shards { get; init; } = 1;
        public string? ChatTemplate { get; init; }
        /// <summary>Extra raw tensors (HF name → F32 values and shape), e.g. MTP layers the converter must drop.</summary>
        public Dictionary<string, (float[] Values, long[] Shape)> ExtraTensors { get; init; } = new();
        /// <summary>HF tensor names to leave out.</summary>
        public HashSet<string> Drop { get; init; } = new();
        /// <summary>HF names of F32 tensors to store as FP8 E4M3 with a weight_scale_inv per block of this size;
        /// the dequantized values the converter must reproduce are put in <see cref="Fp8Expected"/>.</summary>
        public HashSet<string> Fp8 { get; init; } = new();
        public int Fp8Block { get; init; } = 16;
        public Dictionary<string, float[]> Fp8Expected { get; } = new();
        /// <summary>Edits config.json before it is written.</summary>
        public Action<JsonObject>? EditConfig { get; init; }
    }

    private sealed record HfTensorData(string Name, string DType, long[] Shape, byte[] Data);

    public static void Write(string ggufPath, string dir, Options? options = null)
    {
        options ??= new Options();
        Directory.CreateDirectory(dir);
        using var g = GgufFile.Open(ggufPath);
        string arch = g.GetString("general.architecture");
        var vocab = GgufVocabulary.Read(g);
        var config = Config(g, arch, vocab);
        options.EditConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        WriteTokenizer(dir, vocab, options.ChatTemplate);

        var tensors = new List<HfTensorData>();
        int heads = g.GetInt32($"{arch}.attention.head_count"), kvHeads = g.GetInt32($"{arch}.attention.head_count_kv", heads);
        foreach (var t in g.Tensors)
        {
            if (t.Name == "rope_freqs.weight") continue; // computed by the converter from rope_scaling
            byte[] data = g.GetData(t).ToArray();
            string dtype = t.Type switch { GgmlType.F32 => "F32", GgmlType.F16 => "F16", GgmlType.BF16 => "BF16", _ => throw new NotSupportedException(t.Type.ToString()) };
            int elem = dtype == "F32" ? 4 : 2;
            long[] shape = t.Dimensions.Reverse().ToArray();
            if (arch == "llama" && (t.Name.EndsWith("attn_q.weight") || t.Name.EndsWith("attn_k.weight") || t.Name.EndsWith("attn_q.bias") || t.Name.EndsWith("attn_k.bias")))
                data = Repermute(data, shape[0], t.Name.Contains("attn_q") ? heads : kvHeads, data.Length / (int)shape[0]);
            if (t.Name.Contains("_exps."))
            {
                // [E, rows, cols] → one [rows, cols] per expert
                int layer = Layer(t.Name);
                string proj = t.Name.Contains("ffn_gate_exps") ? "gate_proj" : t.Name.Contains("ffn_up_exps") ? "up_proj" : "down_proj";
                int experts = (int)shape[0];
                int per = data.Length / experts;
                for (int e = 0; e < experts; e++)
                    tensors.Add(new($"model.layers.{layer}.mlp.experts.{e}.{proj}.weight", dtype, shape[1..], data.AsSpan(e * per, per).ToArray()));
                continue;
            }
            if (t.Name.EndsWith("attn_k_b.weight")) continue; // merged with attn_v_b below
            if (t.Name.EndsWith("attn_v_b.weight"))
            {
                var kb = g.GetTensor(t.Name.Replace("attn_v_b", "attn_k_b"));
                byte[] k = g.GetData(kb).ToArray();
                int nope = (int)kb.Dimensions[0], kvLora = (int)kb.Dimensions[1], h = (int)kb.Dimensions[2], v = (int)t.Dimensions[1];
                var kv = new byte[(long)h * (nope + v) * kvLora * elem];
                for (int hh = 0; hh < h; hh++)
                {
                    for (int c = 0; c < nope; c++)
                        for (int r = 0; r < kvLora; r++)
                            Buffer.BlockCopy(k, ((hh * kvLora + r) * nope + c) * elem, kv, ((hh * (nope + v) + c) * kvLora + r) * elem, elem);
                    for (int j = 0; j < v; j++)
                        Buffer.BlockCopy(data, (hh * v + j) * kvLora * elem, kv, (hh * (nope + v) + nope + j) * kvLora * elem, kvLora * elem);
                }
                tensors.Add(new($"model.layers.{Layer(t.Name)}.self_attn.kv_b_proj.weight", dtype, [(long)h * (nope + v), kvLora], kv));
                continue;
            }
            tensors.Add(new(HfName(t.Name), dtype, shape, data));
        }
        foreach (var (name, (values, shape)) in options.ExtraTensors)
        {
            var bytes = new byte[values.Length * 4];
            Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
            tensors.Add(new(name, "F32", shape, bytes));
        }
        tensors.RemoveAll(t => options.Drop.Contains(t.Name));
        foreach (string name in options.Fp8)
        {
            int i = tensors.FindIndex(t => t.Name == name);
            var t = tensors[i];
            var (codes, scales, expected) = EncodeFp8(t.Data, (int)t.Shape[0], (int)t.Shape[1], options.Fp8Block);
            tensors[i] = t with { DType = "F8_E4M3", Data = codes };
            int sr = ((int)t.Shape[0] + options.Fp8Block - 1) / options.Fp8Block, sc = ((int)t.Shape[1] + options.Fp8Block - 1) / options.Fp8Block;
            var sb = new byte[scales.Length * 4];
            Buffer.BlockCopy(scales, 0, sb, 0, sb.Length);
            tensors.Add(new(name + "_scale_inv", "F32", [sr, sc], sb));
            options.Fp8Expected[name] = expected;
        }
        WriteShards(dir, tensors, options.Shards);
    }

    /// <summary>Test-side FP8 E4M3 value of a code (written from the format's definition, independent of the library).</summary>
    private static float Fp8Value(int b)
    {
        int e = (b >> 3) & 15, m = b & 7;
        if (e == 15 && m == 7) return float.NaN;
        float v = e == 0 ? m * MathF.Pow(2, -9) : (8 + m) * MathF.Pow(2, e - 10);
        return (b & 0x80) != 0 ? -v : v;
    }

    private static (byte[] Codes, float[] Scales, float[] Expected) EncodeFp8(byte[] f32, int rows, int cols, int block)
    {
        var x = new float[rows * cols];
        Buffer.BlockCopy(f32, 0, x, 0, f32.Length);
        int sr = (rows + block - 1) / block, sc = (cols + block - 1) / block;
        var scales = new float[sr * sc];
        for (int br = 0; br < sr; br++)
            for (int bc = 0; bc < sc; bc++)
            {
                float max = 0;
                for (int r = br * block; r < Math.Min(rows, (br + 1) * block); r++)
                    for (int c = bc * block; c < Math.Min(cols, (bc + 1) * block); c++) max = Math.Max(max, Math.Abs(x[r * cols + c]));
                scales[br * sc + bc] = max == 0 ? 1 : max / 448f;
            }
        var codes = new byte[rows * cols];
        var expected = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                float s = scales[r / block * sc + c / block], target = x[r * cols + c] / s;
                int best = 0;
                for (int b = 0; b < 256; b++)
                    if (!float.IsNaN(Fp8Value(b)) && Math.Abs(Fp8Value(b) - target) < Math.Abs(Fp8Value(best) - target)) best = b;
                codes[r * cols + c] = (byte)best;
                expected[r * cols + c] = Fp8Value(best) * s;
            }
        return (codes, scales, expected);
    }

    private static int Layer(string ggufName) => int.Parse(ggufName.Split('.')[1]);

    /// <summary>Inverse of the converter's Q/K reorder: GGUF row h·d + 2i + s goes back to h·d + s·d/2 + i.</summary>
    private static byte[] Repermute(byte[] data, long rows, int heads, int rowBytes)
    {
        var result = new byte[data.Length];
        long d = rows / heads, half = d / 2;
        for (long r = 0; r < rows; r++)
        {
            long h = r / d, rem = r % d;
            long hf = h * d + (rem % 2) * half + rem / 2;
            Buffer.BlockCopy(data, (int)(r * rowBytes), result, (int)(hf * rowBytes), rowBytes);
        }
        return result;
    }

    private static string HfName(string n)
    {
        switch (n)
        {
            case "token_embd.weight": return "model.embed_tokens.weight";
            case "output_norm.weight": return "model.norm.weight";
            case "output.weight": return "lm_head.weight";
        }
        string[] parts = n.Split('.', 3);
        string p = $"model.layers.{parts[1]}.";
        string stem = parts[2][..parts[2].LastIndexOf('.')], suffix = parts[2][parts[2].LastIndexOf('.')..];
        string hf = stem switch
        {
            "attn_norm" => "input_layernorm",
            "ffn_norm" => "post_attention_layernorm",
            "attn_q" => "self_attn.q_proj",
            "attn_k" => "self_attn.k_proj",
            "attn_v" => "self_attn.v_proj",
            "attn_output" => "self_attn.o_proj",
            "attn_q_norm" => "self_attn.q_norm",
            "attn_k_norm" => "self_attn.k_norm",
            "ffn_gate" => "mlp.gate_proj",
            "ffn_up" => "mlp.up_proj",
            "ffn_down" => "mlp.down_proj",
            "attn_q_a" => "self_attn.q_a_proj",
            "attn_q_a_norm" => "self_attn.q_a_layernorm",
            "attn_q_b" => "self_attn.q_b_proj",
            "attn_kv_a_mqa" => "self_attn.kv_a_proj_with_mqa",
            "attn_kv_a_norm" => "self_attn.kv_a_layernorm",
            "ffn_gate_inp" => "mlp.gate",
            "ffn_gate_shexp" => "mlp.shared_experts.gate_proj",
            "ffn_up_shexp" => "mlp.shared_experts.up_proj",
            "ffn_down_shexp" => "mlp.shared_experts.down_proj",
            "exp_probs_b" => "mlp.gate.e_score_correction",
            _ => throw new NotSupportedException(n),
        };
        if (stem == "exp_probs_b") return p + "mlp.gate.e_score_correction_bias";
        return p + hf + suffix;
    }

    private static JsonObject Config(GgufFile g, string arch, Vocabulary vocab)
    {
        string a = arch;
        int U(string k) => g.GetInt32($"{a}.{k}");
        float F(string k) => g.GetSingle($"{a}.{k}");
        var c = new JsonObject
        {
            ["architectures"] = new JsonArray(arch switch
            {
                "llama" => "LlamaForCausalLM", "qwen2" => "Qwen2ForCausalLM", "qwen3" => "Qwen3ForCausalLM", "deepseek2" => "DeepseekV3ForCausalLM",
                _ => throw new NotSupportedException(arch),
            }),
            ["hidden_size"] = U("embedding_length"),
            ["intermediate_size"] = U("feed_forward_length"),
            ["num_hidden_layers"] = U("block_count"),
            ["num_attention_heads"] = U("attention.head_count"),
            ["max_position_embeddings"] = U("context_length"),
            ["rms_norm_eps"] = (double)F("attention.layer_norm_rms_epsilon"),
            ["rope_theta"] = (double)F("rope.freq_base"),
            ["vocab_size"] = vocab.Count,
            ["tie_word_embeddings"] = !g.TryGetTensor("output.weight", out _),
            ["torch_dtype"] = "float32",
        };
        if (vocab.BosId >= 0) c["bos_token_id"] = vocab.BosId;
        if (vocab.EosId >= 0) c["eos_token_id"] = vocab.EosId;
        if (arch == "deepseek2")
        {
            int kvLora = U("attention.kv_lora_rank"), rope = U("rope.dimension_count");
            c["num_key_value_heads"] = U("attention.head_count");
            c["kv_lora_rank"] = kvLora;
            c["qk_rope_head_dim"] = rope;
            c["qk_nope_head_dim"] = U("attention.key_length_mla") - rope;
            c["v_head_dim"] = U("attention.value_length_mla");
            c["q_lora_rank"] = g.ContainsKey($"{a}.attention.q_lora_rank") ? U("attention.q_lora_rank") : null;
            c["moe_intermediate_size"] = U("expert_feed_forward_length");
            c["n_routed_experts"] = U("expert_count");
            c["n_shared_experts"] = U("expert_shared_count");
            c["num_experts_per_tok"] = U("expert_used_count");
            c["first_k_dense_replace"] = U("leading_dense_block_count");
            c["routed_scaling_factor"] = (double)F("expert_weights_scale");
            c["norm_topk_prob"] = g.GetBool($"{a}.expert_weights_norm", false);
            c["scoring_func"] = U("expert_gating_func") == 2 ? "sigmoid" : "softmax";
            c["n_group"] = U("expert_group_count");
            c["topk_group"] = U("expert_group_used_count");
            c["num_nextn_predict_layers"] = 1;
            if (g.GetStringOrNull($"{a}.rope.scaling.type") == "yarn")
            {
                c["rope_scaling"] = new JsonObject
                {
                    ["type"] = "yarn",
                    ["factor"] = (double)F("rope.scaling.factor"),
                    ["original_max_position_embeddings"] = U("rope.scaling.original_context_length"),
                    ["beta_fast"] = (double)F("rope.scaling.yarn_beta_fast"),
                    ["beta_slow"] = (double)F("rope.scaling.yarn_beta_slow"),
                    ["mscale"] = 1.0,
                    ["mscale_all_dim"] = Math.Round(F("rope.scaling.yarn_log_multiplier") / 0.1, 6),
                };
            }
        }
        else
        {
            c["num_key_value_heads"] = U("attention.head_count_kv");
            c["head_dim"] = U("attention.key_length");
        }
        return c;
    }

    // the pre-tokenizer regexes of each family, as their tokenizer.json files spell them
    private static readonly Dictionary<string, string[]> PreRegex = new()
    {
        ["llama-bpe"] = ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        ["qwen2"] = ["(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
        ["deepseek-v3"] = ["\\p{N}{1,3}", "[一-龥\u3040-ゟ゠-ヿ]+",
            "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"],
    };

    private static void WriteTokenizer(string dir, Vocabulary vocab, string? chatTemplate)
    {
        var vocabObj = new JsonObject();
        var added = new JsonArray();
        for (int i = 0; i < vocab.Count; i++)
        {
            var type = vocab.TokenTypes[i];
            if (type == TokenType.Unused) continue; // the converter fills gaps as [PAD{id}]
            if (type is TokenType.Control or TokenType.UserDefined)
            {
                added.Add(new JsonObject
                {
                    ["id"] = i, ["content"] = vocab.Tokens[i], ["single_word"] = false, ["lstrip"] = false, ["rstrip"] = false,
                    ["normalized"] = type == TokenType.UserDefined, ["special"] = type == TokenType.Control,
                });
            }
            else
            {
                vocabObj[vocab.Tokens[i]] = i;
            }
        }
        var pres = new JsonArray();
        foreach (string regex in PreRegex[vocab.PreTokenizer == "deepseek-r1-qwen" ? "qwen2" : vocab.PreTokenizer])
            pres.Add(new JsonObject { ["type"] = "Split", ["pattern"] = new JsonObject { ["Regex"] = regex }, ["behavior"] = "Isolated", ["invert"] = false });
        pres.Add(new JsonObject { ["type"] = "ByteLevel", ["add_prefix_space"] = false, ["trim_offsets"] = true, ["use_regex"] = false });
        var merges = new JsonArray();
        foreach (string m in vocab.Merges) merges.Add(m);
        var tok = new JsonObject
        {
            ["version"] = "1.0",
            ["added_tokens"] = added,
            ["normalizer"] = null,
            ["pre_tokenizer"] = new JsonObject { ["type"] = "Sequence", ["pretokenizers"] = pres },
            ["model"] = new JsonObject { ["type"] = "BPE", ["dropout"] = null, ["vocab"] = vocabObj, ["merges"] = merges },
        };
        File.WriteAllText(Path.Combine(dir, "tokenizer.json"), tok.ToJsonString());
        var cfg = new JsonObject
        {
            ["add_bos_token"] = vocab.AddBos,
            ["add_eos_token"] = vocab.AddEos,
        };
        if (vocab.BosId >= 0) cfg["bos_token"] = vocab.Tokens[vocab.BosId];
        if (vocab.EosId >= 0) cfg["eos_token"] = new JsonObject { ["content"] = vocab.Tokens[vocab.EosId], ["special"] = true };
        if (chatTemplate != null) cfg["chat_template"] = chatTemplate;
        File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), cfg.ToJsonString());
    }

    private static void WriteShards(string dir, List<HfTensorData> tensors, int shards)
    {
        // safetensors' own writer orders entries by name
        var ordered = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        var weightMap = new JsonObject();
        int per = (ordered.Count + shards - 1) / shards;
        for (int s = 0; s < shards; s++)
        {
            var part = ordered.Skip(s * per).Take(per).ToList();
            string file = shards == 1 ? "model.safetensors" : $"model-{s + 1:D5}-of-{shards:D5}.safetensors";
            WriteSafeTensors(Path.Combine(dir, file), part);
            foreach (var t in part) weightMap[t.Name] = file;
        }
        if (shards > 1)
        {
            var index = new JsonObject { ["metadata"] = new JsonObject { ["total_size"] = tensors.Sum(t => (long)t.Data.Length) }, ["weight_map"] = weightMap };
            File.WriteAllText(Path.Combine(dir, "model.safetensors.index.json"), index.ToJsonString());
        }
    }

    public static void WriteSafeTensors(string path, IEnumerable<(string Name, string DType, long[] Shape, byte[] Data)> tensors) =>
        WriteSafeTensors(path, tensors.Select(t => new HfTensorData(t.Name, t.DType, t.Shape, t.Data)).ToList());

    private static void WriteSafeTensors(string path, List<HfTensorData> tensors)
    {
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var t in tensors)
        {
            var shape = new JsonArray();
            foreach (long d in t.Shape) shape.Add(d);
            header[t.Name] = new JsonObject { ["dtype"] = t.DType, ["shape"] = shape, ["data_offsets"] = new JsonArray(offset, offset + t.Data.Length) };
            offset += t.Data.Length;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padded = (json.Length + 7) / 8 * 8;
        using var fs = File.Create(path);
        fs.Write(BitConverter.GetBytes((ulong)padded));
        fs.Write(json);
        for (int i = json.Length; i < padded; i++) fs.WriteByte((byte)' ');
        foreach (var t in tensors) fs.Write(t.Data);
    }
}
