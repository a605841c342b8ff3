using System.Text.Json;
using System.Text.RegularExpressions;
using SeekSharp.Gguf;

namespace SeekSharp.Conversion;

/// <summary>What a Hugging Face tensor becomes.</summary>
internal enum MapKind { Plain, Expert, KvB, Skip }

/// <summary>The GGUF side of one Hugging Face tensor. <see cref="PermuteHeads"/> &gt; 0 asks for Llama's Q/K row
/// reordering with that many heads; experts carry their layer, index and projection for stacking.</summary>
internal readonly record struct MappedTensor(MapKind Kind, string GgufName, int Layer = -1, int Expert = -1, string? Projection = null, int PermuteHeads = 0)
{
    public static MappedTensor Skip => new(MapKind.Skip, "");
}

/// <summary>A tensor the architecture expects, with its ggml dimensions (innermost first).</summary>
internal readonly record struct ExpectedTensor(long[] Dims, bool Required);

/// <summary>
/// The mapping of one Hugging Face architecture class to a GGUF architecture, as llama.cpp's convert_hf_to_gguf.py
/// does it: metadata keys, tensor names, and the shapes each tensor must have.
/// </summary>
internal abstract partial class ConversionArchitecture
{
    public abstract string GgufName { get; }
    public abstract IReadOnlyList<string> HfArchitectures { get; }

    /// <summary>Defaults transformers' config class would supply for absent keys.</summary>
    public virtual void ApplyDefaults(HfConfig c) { }

    /// <summary>Architecture hyperparameters (general.* and tokenizer keys are written by the converter).</summary>
    public abstract void WriteParameters(GgufWriter w, HfConfig c);

    /// <summary>The GGUF name of a source tensor; null when it cannot be mapped.</summary>
    public abstract MappedTensor? Map(string hfName, HfConfig c);

    /// <summary>Every tensor the converted model may hold, with its shape and whether it must be present.</summary>
    public abstract IReadOnlyDictionary<string, ExpectedTensor> Expected(HfConfig c);

    /// <summary>Tensors the converter computes (written first, as convert_hf_to_gguf's generate_extra_tensors).</summary>
    public virtual IEnumerable<(string Name, float[] Values)> ExtraTensors(HfConfig c) => [];

    public static IReadOnlyList<ConversionArchitecture> All { get; } = new ConversionArchitecture[]
    {
        new LlamaConversion(), new Qwen2Conversion(), new Qwen3Conversion(), new Deepseek2Conversion(),
    };

    public static IEnumerable<string> SupportedNames => All.SelectMany(a => a.HfArchitectures);

    public static ConversionArchitecture? Find(string hfArchitecture) =>
        All.FirstOrDefault(a => a.HfArchitectures.Contains(hfArchitecture, StringComparer.Ordinal));

    [GeneratedRegex(@"^model\.layers\.(\d+)\.(.+)$")]
    protected static partial Regex LayerName();

    /// <summary>Layer index and the rest of a "model.layers.N.rest" name.</summary>
    protected static bool TryLayer(string name, out int layer, out string rest)
    {
        var m = LayerName().Match(name);
        if (m.Success && int.TryParse(m.Groups[1].Value, out layer))
        {
            rest = m.Groups[2].Value;
            return true;
        }
        layer = -1;
        rest = "";
        return false;
    }

    /// <summary>Splits "x.weight"/"x.bias" into the base and the suffix.</summary>
    protected static bool TrySuffix(string name, out string stem, out string suffix)
    {
        foreach (string s in (ReadOnlySpan<string>)[".weight", ".bias"])
        {
            if (name.EndsWith(s, StringComparison.Ordinal))
            {
                stem = name[..^s.Length];
                suffix = s;
                return true;
            }
        }
        stem = name;
        suffix = "";
        return false;
    }

    /// <summary>Names shared by the Llama family (HF module → GGUF tensor), for the parts of a layer they all have.</summary>
    protected static string? LlamaLayerTensor(string stem) => stem switch
    {
        "input_layernorm" => "attn_norm",
        "post_attention_layernorm" => "ffn_norm",
        "self_attn.q_proj" => "attn_q",
        "self_attn.k_proj" => "attn_k",
        "self_attn.v_proj" => "attn_v",
        "self_attn.o_proj" => "attn_output",
        "self_attn.q_norm" => "attn_q_norm",
        "self_attn.k_norm" => "attn_k_norm",
        "mlp.gate_proj" => "ffn_gate",
        "mlp.up_proj" => "ffn_up",
        "mlp.down_proj" => "ffn_down",
        _ => null,
    };

    /// <summary>Tensors outside the layers, common to every architecture here.</summary>
    protected static MappedTensor? MapGlobal(string hfName, HfConfig c, bool dropTiedHead = false)
    {
        switch (hfName)
        {
            case "model.embed_tokens.weight": return new(MapKind.Plain, "token_embd.weight");
            case "model.norm.weight": return new(MapKind.Plain, "output_norm.weight");
            case "lm_head.weight":
                // tied embeddings: llama.cpp reuses token_embd; the converter drops a stored copy only for deepseek2
                return dropTiedHead && c.GetBoolOrNull("tie_word_embeddings") == true ? MappedTensor.Skip : new(MapKind.Plain, "output.weight");
        }
        if (hfName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || hfName.EndsWith(".attention.masked_bias", StringComparison.Ordinal)
            || hfName.EndsWith(".attention.bias", StringComparison.Ordinal))
            return MappedTensor.Skip;
        return null;
    }

    /// <summary>convert_hf_to_gguf's TextModel.set_gguf_parameters: the keys every text model gets.</summary>
    protected void WriteCommonParameters(GgufWriter w, HfConfig c)
    {
        string a = GgufName;
        w.Set($"{a}.block_count", (uint)c.GetInt("num_hidden_layers"));
        if (c.GetIntOrNull("max_position_embeddings") is int ctx) w.Set($"{a}.context_length", (uint)ctx);
        w.Set($"{a}.embedding_length", (uint)c.GetInt("hidden_size"));
        if (c.GetIntOrNull("intermediate_size") is int ff) w.Set($"{a}.feed_forward_length", (uint)ff);
        w.Set($"{a}.attention.head_count", (uint)c.GetInt("num_attention_heads"));
        if (c.GetIntOrNull("num_key_value_heads") is int kv) w.Set($"{a}.attention.head_count_kv", (uint)kv);

        if (c.RopeScaling is JsonElement rope)
        {
            string? type = Str(rope, "rope_type") ?? Str(rope, "type");
            double? factor = Num(rope, "factor");
            if (type == "linear" && factor is double lf)
            {
                w.Set($"{a}.rope.scaling.type", "linear");
                w.Set($"{a}.rope.scaling.factor", (float)lf);
            }
            else if (type == "yarn" && factor is double yf)
            {
                w.Set($"{a}.rope.scaling.type", "yarn");
                w.Set($"{a}.rope.scaling.factor", (float)yf);
                double orig = Num(rope, "original_max_position_embeddings")
                    ?? throw new InvalidDataException($"{c.Path}: yarn rope_scaling needs original_max_position_embeddings");
                w.Set($"{a}.rope.scaling.original_context_length", (uint)orig);
                if (Num(rope, "extrapolation_factor") is double ext) w.Set($"{a}.rope.scaling.yarn_ext_factor", (float)ext);
                if ((Num(rope, "attention_factor") ?? Num(rope, "attn_factor")) is double att) w.Set($"{a}.rope.scaling.yarn_attn_factor", (float)att);
                if (Num(rope, "beta_fast") is double bf) w.Set($"{a}.rope.scaling.yarn_beta_fast", (float)bf);
                if (Num(rope, "beta_slow") is double bs) w.Set($"{a}.rope.scaling.yarn_beta_slow", (float)bs);
            }
            else if (type is not (null or "llama3" or "default"))
            {
                throw new NotSupportedException($"rope_scaling type '{type}' is not supported by the converter");
            }
        }
        double? theta = (c.RopeScaling is JsonElement rp ? Num(rp, "rope_theta") : null) ?? c.GetDoubleOrNull("rope_theta");
        if (theta is double t) w.Set($"{a}.rope.freq_base", (float)t);
        if (c.GetDoubleOrNull("rms_norm_eps") is double eps) w.Set($"{a}.attention.layer_norm_rms_epsilon", (float)eps);
        if ((c.GetIntOrNull("num_local_experts") ?? c.GetIntOrNull("num_experts")) is int ne) w.Set($"{a}.expert_count", (uint)ne);
        if (c.GetIntOrNull("num_experts_per_tok") is int nu) w.Set($"{a}.expert_used_count", (uint)nu);
        if (c.GetIntOrNull("n_group") is int ng) w.Set($"{a}.expert_group_count", (uint)ng);
        if (c.GetIntOrNull("topk_group") is int tg) w.Set($"{a}.expert_group_used_count", (uint)tg);
        string? score = c.GetStringOrNull("scoring_func");
        if (score != null)
        {
            w.Set($"{a}.expert_gating_func", score switch
            {
                "softmax" => 1u,
                "sigmoid" => 2u,
                _ => throw new NotSupportedException($"expert scoring function '{score}' is not supported"),
            });
        }
        if (c.GetIntOrNull("head_dim") is int hd)
        {
            w.Set($"{a}.attention.key_length", (uint)hd);
            w.Set($"{a}.attention.value_length", (uint)hd);
        }
    }

    protected static string? Str(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    protected static double? Num(JsonElement o, string key) =>
        o.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    protected static long[] Dims(params long[] d) => d;
}
