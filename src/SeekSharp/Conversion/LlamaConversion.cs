using System.Text.Json;
using SeekSharp.Gguf;

namespace SeekSharp.Conversion;

/// <summary>
/// LlamaForCausalLM → "llama". Hugging Face stores Q and K with each head's rotary halves split (NeoX order);
/// ggml's Llama RoPE rotates adjacent pairs, so rows are interleaved back per head ("unpermute"). Llama 3's
/// rope_scaling "llama3" becomes a rope_freqs.weight tensor of per-frequency divisors.
/// </summary>
internal class LlamaConversion : ConversionArchitecture
{
    public override string GgufName => "llama";
    public override IReadOnlyList<string> HfArchitectures { get; } = ["LlamaForCausalLM", "LLaMAForCausalLM"];

    public override void ApplyDefaults(HfConfig c)
    {
        int heads = c.GetInt("num_attention_heads");
        c.WithDefaults(("num_key_value_heads", heads), ("rope_theta", 10000.0), ("rms_norm_eps", 1e-6), ("max_position_embeddings", 2048),
            ("head_dim", c.GetInt("hidden_size") / heads), ("tie_word_embeddings", false));
    }

    public override void WriteParameters(GgufWriter w, HfConfig c)
    {
        WriteCommonParameters(w, c);
        w.Set("llama.vocab_size", (uint)c.GetInt("vocab_size"));
        w.Set("llama.rope.dimension_count", (uint)HeadDim(c));
    }

    protected static int HeadDim(HfConfig c) => c.GetIntOrNull("head_dim") ?? c.GetInt("hidden_size") / c.GetInt("num_attention_heads");

    public override MappedTensor? Map(string hfName, HfConfig c)
    {
        if (MapGlobal(hfName, c) is MappedTensor g) return g;
        if (!TryLayer(hfName, out int layer, out string rest) || !TrySuffix(rest, out string stem, out string suffix)) return null;
        if (LlamaLayerTensor(stem) is not string t) return null;
        int permute = stem switch
        {
            "self_attn.q_proj" => c.GetInt("num_attention_heads"),
            "self_attn.k_proj" => c.GetInt("num_key_value_heads"),
            _ => 0,
        };
        return new(MapKind.Plain, $"blk.{layer}.{t}{suffix}", PermuteHeads: permute);
    }

    public override IReadOnlyDictionary<string, ExpectedTensor> Expected(HfConfig c)
    {
        var e = new Dictionary<string, ExpectedTensor>(StringComparer.Ordinal);
        long d = c.GetInt("hidden_size"), vocab = c.GetInt("vocab_size"), ff = c.GetInt("intermediate_size");
        long hd = HeadDim(c), q = c.GetInt("num_attention_heads") * hd, kv = c.GetInt("num_key_value_heads") * hd;
        e["token_embd.weight"] = new(Dims(d, vocab), true);
        e["output_norm.weight"] = new(Dims(d), true);
        e["output.weight"] = new(Dims(d, vocab), c.GetBoolOrNull("tie_word_embeddings") != true);
        if (ExtraTensors(c).Any()) e["rope_freqs.weight"] = new(Dims(hd / 2), true);
        bool attnBias = c.GetBoolOrNull("attention_bias") == true, mlpBias = c.GetBoolOrNull("mlp_bias") == true;
        for (int l = 0; l < c.GetInt("num_hidden_layers"); l++)
        {
            string p = $"blk.{l}.";
            e[p + "attn_norm.weight"] = new(Dims(d), true);
            e[p + "attn_q.weight"] = new(Dims(d, q), true);
            e[p + "attn_k.weight"] = new(Dims(d, kv), true);
            e[p + "attn_v.weight"] = new(Dims(d, kv), true);
            e[p + "attn_output.weight"] = new(Dims(q, d), true);
            e[p + "ffn_norm.weight"] = new(Dims(d), true);
            e[p + "ffn_gate.weight"] = new(Dims(d, ff), true);
            e[p + "ffn_up.weight"] = new(Dims(d, ff), true);
            e[p + "ffn_down.weight"] = new(Dims(ff, d), true);
            AddLayerExtras(e, p, c, d, q, kv, hd);
            if (attnBias)
            {
                e[p + "attn_q.bias"] = new(Dims(q), true);
                e[p + "attn_k.bias"] = new(Dims(kv), true);
                e[p + "attn_v.bias"] = new(Dims(kv), true);
                e[p + "attn_output.bias"] = new(Dims(d), true);
            }
            if (mlpBias)
            {
                e[p + "ffn_gate.bias"] = new(Dims(ff), true);
                e[p + "ffn_up.bias"] = new(Dims(ff), true);
                e[p + "ffn_down.bias"] = new(Dims(d), true);
            }
        }
        return e;
    }

    protected virtual void AddLayerExtras(Dictionary<string, ExpectedTensor> e, string p, HfConfig c, long d, long q, long kv, long hd) { }

    public override IEnumerable<(string Name, float[] Values)> ExtraTensors(HfConfig c)
    {
        if (c.RopeScaling is not JsonElement rope || !string.Equals(Str(rope, "rope_type") ?? "", "llama3", StringComparison.OrdinalIgnoreCase))
            yield break;
        // Llama 3.1's frequency-dependent scaling, as llama.cpp's converter precomputes it: high frequencies keep
        // their period, low ones are divided by the factor, and the band between is smoothed. The converter does
        // this arithmetic on float32 tensors, so it is done in float here too.
        float theta = (float)(Num(rope, "rope_theta") ?? c.GetDoubleOrNull("rope_theta") ?? 10000.0);
        int dim = HeadDim(c);
        float factor = (float)(Num(rope, "factor") ?? 8.0);
        double low = Num(rope, "low_freq_factor") ?? 1.0, high = Num(rope, "high_freq_factor") ?? 4.0;
        // the converter reads this from the top level of config.json (not from rope_scaling), defaulting to 8192
        double oldContext = c.GetDoubleOrNull("original_max_position_embeddings") ?? 8192;
        double lowWavelen = oldContext / low, highWavelen = oldContext / high;
        var factors = new float[dim / 2];
        for (int i = 0; i < factors.Length; i++)
        {
            float freq = 1.0f / MathF.Pow(theta, (2 * i) / (float)dim);
            float wavelen = (float)(2 * Math.PI) / freq;
            if (wavelen < highWavelen) factors[i] = 1f;
            else if (wavelen > lowWavelen) factors[i] = factor;
            else
            {
                float smooth = ((float)oldContext / wavelen - (float)low) / (float)(high - low);
                factors[i] = 1f / ((1f - smooth) / factor + smooth);
            }
        }
        yield return ("rope_freqs.weight", factors);
    }
}
