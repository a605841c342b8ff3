using System.Text.Json;
using SeekSharp.Gguf;

namespace SeekSharp.Conversion;

/// <summary>
/// DeepseekV2ForCausalLM / DeepseekV3ForCausalLM → "deepseek2", as current convert_hf_to_gguf.py writes it:
/// MLA is stored for the absorbed form (head_count_kv 1, key_length = kv_lora_rank + rope dims, value_length =
/// kv_lora_rank, the per-head sizes in key_length_mla / value_length_mla), kv_b_proj is split into attn_k_b
/// (transposed per head) and attn_v_b, routed experts are stacked into 3-D ffn_*_exps tensors, the router's
/// e_score_correction_bias becomes exp_probs_b.bias, and multi-token-prediction layers (index ≥
/// num_hidden_layers) are dropped, as llama.cpp does not use them.
/// </summary>
internal sealed class Deepseek2Conversion : ConversionArchitecture
{
    public override string GgufName => "deepseek2";
    public override IReadOnlyList<string> HfArchitectures { get; } = ["DeepseekV2ForCausalLM", "DeepseekV3ForCausalLM"];

    public override void ApplyDefaults(HfConfig c)
    {
        bool v3 = c.Architecture == "DeepseekV3ForCausalLM";
        c.WithDefaults(("rms_norm_eps", 1e-6), ("rope_theta", 10000.0), ("max_position_embeddings", v3 ? 4096 : 2048),
            ("tie_word_embeddings", false), ("scoring_func", v3 ? "sigmoid" : "softmax"), ("kv_lora_rank", 512),
            ("first_k_dense_replace", v3 ? 3 : 0), ("routed_scaling_factor", v3 ? 2.5 : 1.0), ("norm_topk_prob", v3),
            ("n_shared_experts", v3 ? 1 : 0));
    }

    public override void WriteParameters(GgufWriter w, HfConfig c)
    {
        string a = GgufName;
        WriteCommonParameters(w, c);
        // MLA runs as multi-query attention over the compressed cache
        w.Set($"{a}.attention.head_count_kv", 1u);
        bool moe = c.GetIntOrNull("n_routed_experts") != null;
        w.Set($"{a}.leading_dense_block_count", (uint)(c.GetIntOrNull("first_k_dense_replace") ?? (moe ? 0 : c.GetInt("num_hidden_layers"))));
        w.Set($"{a}.vocab_size", (uint)c.GetInt("vocab_size"));
        if (c.GetIntOrNull("q_lora_rank") is int ql) w.Set($"{a}.attention.q_lora_rank", (uint)ql);
        int kvLora = c.GetInt("kv_lora_rank"), rope = c.GetInt("qk_rope_head_dim"), nope = c.GetInt("qk_nope_head_dim");
        w.Set($"{a}.attention.kv_lora_rank", (uint)kvLora);
        w.Set($"{a}.attention.key_length", (uint)(kvLora + rope));
        w.Set($"{a}.attention.value_length", (uint)kvLora);
        w.Set($"{a}.attention.key_length_mla", (uint)(nope + rope));
        w.Set($"{a}.attention.value_length_mla", (uint)c.GetInt("v_head_dim"));
        w.Set($"{a}.expert_feed_forward_length", (uint)(c.GetIntOrNull("moe_intermediate_size") ?? c.GetInt("intermediate_size")));
        if (c.GetIntOrNull("n_routed_experts") is int ne) w.Set($"{a}.expert_count", (uint)ne);
        w.Set($"{a}.expert_shared_count", (uint)(c.GetIntOrNull("n_shared_experts") ?? 0));
        if (c.GetDoubleOrNull("routed_scaling_factor") is double s) w.Set($"{a}.expert_weights_scale", (float)s);
        if (c.GetBoolOrNull("norm_topk_prob") == true) w.Set($"{a}.expert_weights_norm", true);
        w.Set($"{a}.rope.dimension_count", (uint)rope);
        if (c.RopeScaling is JsonElement r && Num(r, "mscale_all_dim") is double mscale)
            w.Set($"{a}.rope.scaling.yarn_log_multiplier", (float)(0.1 * mscale));
    }

    public override MappedTensor? Map(string hfName, HfConfig c)
    {
        if (MapGlobal(hfName, c, dropTiedHead: true) is MappedTensor g) return g;
        if (!TryLayer(hfName, out int layer, out string rest)) return null;
        if (layer >= c.GetInt("num_hidden_layers")) return MappedTensor.Skip; // MTP (next-n prediction) layers
        string p = $"blk.{layer}.";
        if (rest == "mlp.gate.e_score_correction_bias") return new(MapKind.Plain, p + "exp_probs_b.bias");
        if (rest == "self_attn.kv_b_proj.weight") return new(MapKind.KvB, p + "attn_kv_b.weight", layer);
        if (rest.StartsWith("mlp.experts.", StringComparison.Ordinal))
        {
            // mlp.experts.{e}.{gate,up,down}_proj.weight
            string[] parts = rest.Split('.');
            if (parts.Length == 5 && int.TryParse(parts[2], out int expert) && expert >= 0 && parts[4] == "weight"
                && parts[3] is "gate_proj" or "up_proj" or "down_proj")
                return new(MapKind.Expert, $"{p}ffn_{parts[3][..^5]}_exps.weight", layer, expert, parts[3]);
            return null;
        }
        if (!TrySuffix(rest, out string stem, out string suffix)) return null;
        string? t = stem switch
        {
            "self_attn.q_a_proj" => "attn_q_a",
            "self_attn.q_a_layernorm" => "attn_q_a_norm",
            "self_attn.q_b_proj" => "attn_q_b",
            "self_attn.kv_a_proj_with_mqa" => "attn_kv_a_mqa",
            "self_attn.kv_a_layernorm" => "attn_kv_a_norm",
            "mlp.gate" => "ffn_gate_inp",
            "mlp.shared_experts.gate_proj" => "ffn_gate_shexp",
            "mlp.shared_experts.up_proj" => "ffn_up_shexp",
            "mlp.shared_experts.down_proj" => "ffn_down_shexp",
            _ => LlamaLayerTensor(stem) is string s && s is not ("attn_k" or "attn_v" or "attn_q_norm" or "attn_k_norm") ? s : null,
        };
        return t is null ? null : new(MapKind.Plain, $"{p}{t}{suffix}");
    }

    public override IReadOnlyDictionary<string, ExpectedTensor> Expected(HfConfig c)
    {
        var e = new Dictionary<string, ExpectedTensor>(StringComparer.Ordinal);
        long d = c.GetInt("hidden_size"), vocab = c.GetInt("vocab_size"), heads = c.GetInt("num_attention_heads");
        long kvLora = c.GetInt("kv_lora_rank"), rope = c.GetInt("qk_rope_head_dim"), nope = c.GetInt("qk_nope_head_dim"), v = c.GetInt("v_head_dim");
        int? qLora = c.GetIntOrNull("q_lora_rank");
        int? experts = c.GetIntOrNull("n_routed_experts");
        long ff = c.GetInt("intermediate_size"), moeFf = c.GetIntOrNull("moe_intermediate_size") ?? ff;
        long shared = (c.GetIntOrNull("n_shared_experts") ?? 0) * moeFf;
        int dense = c.GetIntOrNull("first_k_dense_replace") ?? (experts is null ? c.GetInt("num_hidden_layers") : 0);
        e["token_embd.weight"] = new(Dims(d, vocab), true);
        e["output_norm.weight"] = new(Dims(d), true);
        e["output.weight"] = new(Dims(d, vocab), c.GetBoolOrNull("tie_word_embeddings") != true);
        for (int l = 0; l < c.GetInt("num_hidden_layers"); l++)
        {
            string p = $"blk.{l}.";
            e[p + "attn_norm.weight"] = new(Dims(d), true);
            if (qLora is int q)
            {
                e[p + "attn_q_a.weight"] = new(Dims(d, q), true);
                e[p + "attn_q_a_norm.weight"] = new(Dims(q), true);
                e[p + "attn_q_b.weight"] = new(Dims(q, heads * (nope + rope)), true);
            }
            else
            {
                e[p + "attn_q.weight"] = new(Dims(d, heads * (nope + rope)), true);
            }
            e[p + "attn_kv_a_mqa.weight"] = new(Dims(d, kvLora + rope), true);
            e[p + "attn_kv_a_norm.weight"] = new(Dims(kvLora), true);
            e[p + "attn_k_b.weight"] = new(Dims(nope, kvLora, heads), true);
            e[p + "attn_v_b.weight"] = new(Dims(kvLora, v, heads), true);
            e[p + "attn_output.weight"] = new(Dims(heads * v, d), true);
            e[p + "ffn_norm.weight"] = new(Dims(d), true);
            if (l < dense || experts is null)
            {
                e[p + "ffn_gate.weight"] = new(Dims(d, ff), true);
                e[p + "ffn_up.weight"] = new(Dims(d, ff), true);
                e[p + "ffn_down.weight"] = new(Dims(ff, d), true);
            }
            else
            {
                long n = experts.Value;
                e[p + "ffn_gate_inp.weight"] = new(Dims(d, n), true);
                e[p + "exp_probs_b.bias"] = new(Dims(n), false);
                e[p + "ffn_gate_exps.weight"] = new(Dims(d, moeFf, n), true);
                e[p + "ffn_up_exps.weight"] = new(Dims(d, moeFf, n), true);
                e[p + "ffn_down_exps.weight"] = new(Dims(moeFf, d, n), true);
                if (shared > 0)
                {
                    e[p + "ffn_gate_shexp.weight"] = new(Dims(d, shared), true);
                    e[p + "ffn_up_shexp.weight"] = new(Dims(d, shared), true);
                    e[p + "ffn_down_shexp.weight"] = new(Dims(shared, d), true);
                }
            }
        }
        return e;
    }
}
