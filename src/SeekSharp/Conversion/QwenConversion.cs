using SeekSharp.Gguf;

namespace SeekSharp.Conversion;

/// <summary>Qwen2ForCausalLM → "qwen2": Llama's layout with Q/K/V biases and NeoX RoPE, so no Q/K reordering.</summary>
internal class Qwen2Conversion : LlamaConversion
{
    public override string GgufName => "qwen2";
    public override IReadOnlyList<string> HfArchitectures { get; } = ["Qwen2ForCausalLM"];

    public override void ApplyDefaults(HfConfig c)
    {
        int heads = c.GetInt("num_attention_heads");
        // Qwen2Config has no head_dim (key_length is only written when config.json names one)
        c.WithDefaults(("num_key_value_heads", heads), ("rope_theta", 10000.0), ("rms_norm_eps", 1e-6), ("max_position_embeddings", 32768),
            ("tie_word_embeddings", false));
    }

    public override void WriteParameters(GgufWriter w, HfConfig c) => WriteCommonParameters(w, c);

    public override MappedTensor? Map(string hfName, HfConfig c)
    {
        var m = base.Map(hfName, c);
        return m is MappedTensor t ? t with { PermuteHeads = 0 } : null;
    }

    protected override void AddLayerExtras(Dictionary<string, ExpectedTensor> e, string p, HfConfig c, long d, long q, long kv, long hd)
    {
        e[p + "attn_q.bias"] = new(Dims(q), true);
        e[p + "attn_k.bias"] = new(Dims(kv), true);
        e[p + "attn_v.bias"] = new(Dims(kv), true);
    }

    public override IEnumerable<(string Name, float[] Values)> ExtraTensors(HfConfig c) => [];
}

/// <summary>Qwen3ForCausalLM → "qwen3": no biases, per-head RMS norms on Q and K, head_dim 128 unless stated.</summary>
internal sealed class Qwen3Conversion : Qwen2Conversion
{
    public override string GgufName => "qwen3";
    public override IReadOnlyList<string> HfArchitectures { get; } = ["Qwen3ForCausalLM"];

    public override void ApplyDefaults(HfConfig c)
    {
        base.ApplyDefaults(c);
        c.WithDefaults(("head_dim", 128));
    }

    protected override void AddLayerExtras(Dictionary<string, ExpectedTensor> e, string p, HfConfig c, long d, long q, long kv, long hd)
    {
        e[p + "attn_q_norm.weight"] = new(Dims(hd), true);
        e[p + "attn_k_norm.weight"] = new(Dims(hd), true);
        if (c.GetBoolOrNull("attention_bias") == true)
        {
            e[p + "attn_q.bias"] = new(Dims(q), true);
            e[p + "attn_k.bias"] = new(Dims(kv), true);
            e[p + "attn_v.bias"] = new(Dims(kv), true);
        }
    }
}
