using SeekSharp.Gguf;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Tokenization;

namespace SeekSharp.Models;

/// <summary>What <c>seek model new</c> builds: a real architecture and shape with random weights.</summary>
public sealed record RandomModelOptions
{
    public required ArchitectureFamily Architecture { get; init; }
    public required ModelPreset Shape { get; init; }
    public GgmlType WeightType { get; init; } = GgmlType.F32;
    /// <summary>Vocabulary to embed; null trains a small synthetic one.</summary>
    public Vocabulary? Vocabulary { get; init; }
    public ulong Seed { get; init; } = 42;
    public string? Name { get; init; }
    /// <summary>Chat template to store as tokenizer.chat_template; null stores ChatML when the synthetic vocabulary
    /// (which has &lt;|im_start|&gt; and &lt;|im_end|&gt;) is used, and nothing otherwise.</summary>
    public string? ChatTemplate { get; init; }
}

/// <summary>
/// Writes random-weight GGUF models of real architectures. Weights are drawn so that next-token distributions are
/// peaked (output rows have log-normally spread norms, giving clear top-1 margins), which keeps greedy comparisons
/// between engines meaningful: rounding noise cannot flip the choice. Each tensor has its own seeded stream, so files
/// are reproducible and generated row by row without holding the model in memory.
/// </summary>
public static class RandomModelBuilder
{
    public static GgufWriter Build(RandomModelOptions o)
    {
        var s = o.Shape;
        var family = o.Architecture;
        string arch = family.Name;
        // Without a real vocabulary, a small trained one is padded to the preset's size so tensors keep real shapes.
        var vocab = o.Vocabulary ?? SyntheticVocabulary.PadTo(SyntheticVocabulary.Create(512, family.DefaultPreTokenizer), s.VocabSize);
        int nVocab = vocab.Tokens.Length;
        int d = s.EmbeddingLength, hd = s.HeadDim, ff = s.FeedForwardLength;
        int qDim = s.HeadCount * hd, kvDim = s.KvHeadCount * hd;

        var w = new GgufWriter();
        w.Set("general.architecture", arch);
        w.Set("general.name", o.Name ?? $"seek-random-{arch}-{s.Name}");
        w.Set("general.file_type", (uint)FileType(o.WeightType));
        w.Set("general.quantization_version", 2u);
        w.Set($"{arch}.vocab_size", (uint)nVocab);
        w.Set($"{arch}.context_length", (uint)s.ContextLength);
        w.Set($"{arch}.embedding_length", (uint)d);
        w.Set($"{arch}.block_count", (uint)s.LayerCount);
        w.Set($"{arch}.feed_forward_length", (uint)ff);
        w.Set($"{arch}.attention.head_count", (uint)s.HeadCount);
        w.Set($"{arch}.rope.freq_base", s.RopeFreqBase);
        w.Set($"{arch}.attention.layer_norm_rms_epsilon", s.RmsNormEpsilon);
        var specs = new List<TensorSpec>
        {
            new("token_embd.weight", d, nVocab, Init.Embedding, true),
        };
        if (s.DeepSeek is DeepSeekShape ds)
        {
            w.Set($"{arch}.block_count", (uint)(s.LayerCount + ds.NextNLayers));
            AddDeepSeek2(w, arch, s, ds, specs);
        }
        else
        {
            w.Set($"{arch}.attention.head_count_kv", (uint)s.KvHeadCount);
            w.Set($"{arch}.attention.key_length", (uint)hd);
            w.Set($"{arch}.attention.value_length", (uint)hd);
            w.Set($"{arch}.rope.dimension_count", (uint)hd);
        }
        GgufVocabulary.Write(w, vocab);
        if ((o.ChatTemplate ?? (o.Vocabulary is null ? Chat.ModelChatTemplate.ChatML : null)) is string template)
            w.Set("tokenizer.chat_template", template);

        for (int l = 0; l < (s.DeepSeek == null ? s.LayerCount : 0); l++)
        {
            string p = $"blk.{l}.";
            specs.Add(new(p + "attn_norm.weight", d, 1, Init.Norm, false));
            specs.Add(new(p + "attn_q.weight", d, qDim, Init.Projection, true));
            specs.Add(new(p + "attn_k.weight", d, kvDim, Init.Projection, true));
            specs.Add(new(p + "attn_v.weight", d, kvDim, Init.Projection, true));
            if (family.HasQkvBias)
            {
                specs.Add(new(p + "attn_q.bias", qDim, 1, Init.Bias, false));
                specs.Add(new(p + "attn_k.bias", kvDim, 1, Init.Bias, false));
                specs.Add(new(p + "attn_v.bias", kvDim, 1, Init.Bias, false));
            }
            if (family.HasQkNorm)
            {
                specs.Add(new(p + "attn_q_norm.weight", hd, 1, Init.Norm, false));
                specs.Add(new(p + "attn_k_norm.weight", hd, 1, Init.Norm, false));
            }
            specs.Add(new(p + "attn_output.weight", qDim, d, Init.Residual, true));
            specs.Add(new(p + "ffn_norm.weight", d, 1, Init.Norm, false));
            specs.Add(new(p + "ffn_gate.weight", d, ff, Init.Projection, true));
            specs.Add(new(p + "ffn_up.weight", d, ff, Init.Projection, true));
            specs.Add(new(p + "ffn_down.weight", ff, d, Init.Residual, true));
        }
        specs.Add(new("output_norm.weight", d, 1, Init.Norm, false));
        if (!s.TiedEmbeddings) specs.Add(new("output.weight", d, nVocab, s.DeepSeek != null ? Init.MildOutput : Init.Output, true));

        foreach (var spec in specs)
        {
            GgmlType type = spec.Quantizable ? EffectiveType(o.WeightType, spec.Columns) : GgmlType.F32;
            ulong seed = o.Seed ^ Fnv1a(spec.Name);
            var captured = spec with { Tied = s.TiedEmbeddings };
            long[] dims = spec.Stack > 1 ? new long[] { spec.Columns, spec.Rows, spec.Stack }
                : spec.Rows == 1 ? new long[] { spec.Columns } : new long[] { spec.Columns, spec.Rows };
            w.AddTensor(spec.Name, type, dims, stream => WriteRows(stream, captured, type, seed));
        }
        return w;
    }

    /// <summary>Keys and tensors of a "deepseek2" model, named and shaped as convert_hf_to_gguf.py writes them
    /// (split attn_k_b/attn_v_b, the MLA cache described as one KV head of kv_lora_rank + rope).</summary>
    private static void AddDeepSeek2(GgufWriter w, string arch, ModelPreset s, DeepSeekShape ds, List<TensorSpec> specs)
    {
        int d = s.EmbeddingLength, heads = s.HeadCount, kMla = ds.QkNopeHeadDim + ds.QkRopeHeadDim;
        w.Set($"{arch}.attention.head_count_kv", 1u);
        w.Set($"{arch}.attention.key_length", (uint)(ds.KvLoraRank + ds.QkRopeHeadDim));
        w.Set($"{arch}.attention.value_length", (uint)ds.KvLoraRank);
        w.Set($"{arch}.attention.key_length_mla", (uint)kMla);
        w.Set($"{arch}.attention.value_length_mla", (uint)ds.VHeadDim);
        w.Set($"{arch}.rope.dimension_count", (uint)ds.QkRopeHeadDim);
        w.Set($"{arch}.attention.q_lora_rank", (uint)ds.QLoraRank);
        w.Set($"{arch}.attention.kv_lora_rank", (uint)ds.KvLoraRank);
        w.Set($"{arch}.leading_dense_block_count", (uint)ds.LeadingDenseBlocks);
        w.Set($"{arch}.expert_count", (uint)ds.ExpertCount);
        w.Set($"{arch}.expert_used_count", (uint)ds.ExpertUsedCount);
        w.Set($"{arch}.expert_shared_count", (uint)ds.ExpertSharedCount);
        w.Set($"{arch}.expert_feed_forward_length", (uint)ds.ExpertFeedForwardLength);
        w.Set($"{arch}.expert_weights_scale", ds.RoutedScaling);
        w.Set($"{arch}.expert_weights_norm", ds.NormalizeWeights);
        w.Set($"{arch}.expert_gating_func", (uint)ds.Gating);
        if (ds.ExpertGroups > 1)
        {
            w.Set($"{arch}.expert_group_count", (uint)ds.ExpertGroups);
            w.Set($"{arch}.expert_group_used_count", (uint)ds.ExpertGroupsUsed);
        }
        if (ds.NextNLayers > 0) w.Set($"{arch}.nextn_predict_layers", (uint)ds.NextNLayers);
        if (ds.YarnFactor > 0)
        {
            w.Set($"{arch}.rope.scaling.type", "yarn");
            w.Set($"{arch}.rope.scaling.factor", ds.YarnFactor);
            w.Set($"{arch}.rope.scaling.original_context_length", (uint)ds.YarnOriginalContext);
            // the converter writes 0.1 × mscale_all_dim
            w.Set($"{arch}.rope.scaling.yarn_log_multiplier", 0.1f * ds.YarnMscaleAllDim);
        }

        int shared = ds.ExpertFeedForwardLength * ds.ExpertSharedCount;
        for (int l = 0; l < s.LayerCount + ds.NextNLayers; l++)
        {
            string p = $"blk.{l}.";
            specs.Add(new(p + "attn_norm.weight", d, 1, Init.Norm, false));
            if (ds.QLoraRank > 0)
            {
                specs.Add(new(p + "attn_q_a.weight", d, ds.QLoraRank, Init.Projection, true));
                specs.Add(new(p + "attn_q_a_norm.weight", ds.QLoraRank, 1, Init.Norm, false));
                specs.Add(new(p + "attn_q_b.weight", ds.QLoraRank, heads * kMla, Init.Projection, true));
            }
            else specs.Add(new(p + "attn_q.weight", d, heads * kMla, Init.Projection, true));
            specs.Add(new(p + "attn_kv_a_mqa.weight", d, ds.KvLoraRank + ds.QkRopeHeadDim, Init.Projection, true));
            specs.Add(new(p + "attn_kv_a_norm.weight", ds.KvLoraRank, 1, Init.Norm, false));
            specs.Add(new(p + "attn_k_b.weight", ds.QkNopeHeadDim, ds.KvLoraRank, Init.Projection, true) { Stack = heads });
            specs.Add(new(p + "attn_v_b.weight", ds.KvLoraRank, ds.VHeadDim, Init.Projection, true) { Stack = heads });
            specs.Add(new(p + "attn_output.weight", heads * ds.VHeadDim, d, Init.Residual, true));
            specs.Add(new(p + "ffn_norm.weight", d, 1, Init.Norm, false));
            if (l < ds.LeadingDenseBlocks)
            {
                specs.Add(new(p + "ffn_gate.weight", d, s.FeedForwardLength, Init.Projection, true));
                specs.Add(new(p + "ffn_up.weight", d, s.FeedForwardLength, Init.Projection, true));
                specs.Add(new(p + "ffn_down.weight", s.FeedForwardLength, d, Init.Residual, true));
            }
            else
            {
                // the router stays f32, as the converter and llama-quantize keep it
                specs.Add(new(p + "ffn_gate_inp.weight", d, ds.ExpertCount, Init.Router, false));
                if (ds.SelectionBias) specs.Add(new(p + "exp_probs_b.bias", ds.ExpertCount, 1, Init.Bias, false));
                specs.Add(new(p + "ffn_gate_exps.weight", d, ds.ExpertFeedForwardLength, Init.Projection, true) { Stack = ds.ExpertCount });
                specs.Add(new(p + "ffn_up_exps.weight", d, ds.ExpertFeedForwardLength, Init.Projection, true) { Stack = ds.ExpertCount });
                specs.Add(new(p + "ffn_down_exps.weight", ds.ExpertFeedForwardLength, d, Init.Residual, true) { Stack = ds.ExpertCount });
                if (shared > 0)
                {
                    specs.Add(new(p + "ffn_gate_shexp.weight", d, shared, Init.Projection, true));
                    specs.Add(new(p + "ffn_up_shexp.weight", d, shared, Init.Projection, true));
                    specs.Add(new(p + "ffn_down_shexp.weight", shared, d, Init.Residual, true));
                }
            }
            if (l >= s.LayerCount)
            {
                // multi-token-prediction block extras (DeepSeek-V3's MTP module)
                specs.Add(new(p + "nextn.enorm.weight", d, 1, Init.Norm, false));
                specs.Add(new(p + "nextn.hnorm.weight", d, 1, Init.Norm, false));
                specs.Add(new(p + "nextn.eh_proj.weight", 2 * d, d, Init.Projection, true));
                specs.Add(new(p + "nextn.shared_head_norm.weight", d, 1, Init.Norm, false));
            }
        }
    }

    /// <summary>Type a tensor really gets: K-quants need rows that are multiples of 256, so narrower tensors fall back
    /// (as llama.cpp's quantizer does: q4_K→q5_0, q5_K→q5_1, q6_K→q8_0; q2_K/q3_K→q4_0).</summary>
    public static GgmlType EffectiveType(GgmlType wanted, long columns)
    {
        if (columns % GgmlTypeInfo.BlockSize(wanted) == 0) return wanted;
        var fallback = wanted switch
        {
            GgmlType.Q4_K => GgmlType.Q5_0,
            GgmlType.Q5_K => GgmlType.Q5_1,
            GgmlType.Q6_K or GgmlType.Q8_K => GgmlType.Q8_0,
            GgmlType.Q2_K or GgmlType.Q3_K => GgmlType.Q4_0,
            _ => GgmlType.F16,
        };
        return columns % GgmlTypeInfo.BlockSize(fallback) == 0 ? fallback : GgmlType.F16;
    }

    public static int FileType(GgmlType type) => type switch
    {
        GgmlType.F32 => 0,
        GgmlType.F16 => 1,
        GgmlType.Q4_0 => 2,
        GgmlType.Q4_1 => 3,
        GgmlType.Q8_0 => 7,
        GgmlType.Q5_0 => 8,
        GgmlType.Q5_1 => 9,
        GgmlType.Q2_K => 10,
        GgmlType.Q3_K => 12,
        GgmlType.Q4_K => 15,
        GgmlType.Q5_K => 17,
        GgmlType.Q6_K => 18,
        GgmlType.BF16 => 32,
        _ => throw new NotSupportedException($"cannot write models of type {GgmlTypeInfo.Name(type)}"),
    };

    private enum Init { Embedding, Norm, Projection, Residual, Bias, Output, Router, Sharp, MildOutput }

    private sealed record TensorSpec(string Name, int Columns, int Rows, Init Init, bool Quantizable)
    {
        public bool Tied { get; init; }
        /// <summary>Number of matrices in a 3-D tensor (experts, or per-head matrices).</summary>
        public int Stack { get; init; } = 1;
    }

    private static void WriteRows(Stream stream, TensorSpec spec, GgmlType type, ulong seed)
    {
        var rng = new GaussianRandom(seed);
        var values = new float[spec.Columns];
        var bytes = new byte[GgmlTypeInfo.RowSize(type, spec.Columns)];
        for (long r = 0; r < (long)spec.Rows * spec.Stack; r++)
        {
            FillRow(values, spec, rng);
            Quantizer.QuantizeRow(type, values, bytes);
            stream.Write(bytes);
        }
    }

    private static void FillRow(float[] row, TensorSpec spec, GaussianRandom rng)
    {
        int n = row.Length;
        switch (spec.Init)
        {
            case Init.Norm:
                for (int i = 0; i < n; i++) row[i] = 1f + 0.2f * (rng.NextUniform() - 0.5f);
                break;
            case Init.Bias:
                for (int i = 0; i < n; i++) row[i] = 0.2f * rng.NextGaussian();
                break;
            case Init.Embedding:
            {
                // Unit-scale embeddings keep the current token audible in the residual stream. Tied to the output
                // they must not have spread norms, or the longest rows would win every step.
                float scale = spec.Tied ? 1f : MathF.Exp(0.5f * rng.NextGaussian());
                for (int i = 0; i < n; i++) row[i] = scale * rng.NextGaussian();
                break;
            }
            case Init.Output:
            {
                // Logits get a natural spread (std about 4) from a 4/sqrt(d) scale; log-normal row norms make a few
                // tokens stand out, so the top-1 choice has a clear margin.
                float scale = 4f / MathF.Sqrt(spec.Columns) * MathF.Exp(1.0f * rng.NextGaussian());
                for (int i = 0; i < n; i++) row[i] = scale * rng.NextGaussian();
                break;
            }
            case Init.Router:
            {
                // Router logits spread by a few units so expert choices have clear margins (a near-tie flipped by
                // rounding would send a token to another expert and make the engines' outputs incomparable).
                float std = 3f / MathF.Sqrt(spec.Columns);
                for (int i = 0; i < n; i++) row[i] = std * rng.NextGaussian();
                break;
            }
            case Init.MildOutput:
            {
                // As Output with half the spread of row norms: MoE models' hidden states are smoother, and a few very
                // long output rows would otherwise absorb greedy runs into one repeated token.
                float scale = 4f / MathF.Sqrt(spec.Columns) * MathF.Exp(0.5f * rng.NextGaussian());
                for (int i = 0; i < n; i++) row[i] = scale * rng.NextGaussian();
                break;
            }
            case Init.Sharp:
            {
                float std = 3f / MathF.Sqrt(spec.Columns);
                for (int i = 0; i < n; i++) row[i] = std * rng.NextGaussian();
                break;
            }
            case Init.Projection:
            {
                float std = 1f / MathF.Sqrt(spec.Columns);
                for (int i = 0; i < n; i++) row[i] = std * rng.NextGaussian();
                break;
            }
            default:
            {
                // Residual branches as loud as the embedding: the next token is a nonlinear function of the context
                // rather than an echo of the current token, so greedy runs wander instead of repeating at once.
                float std = 0.5f / MathF.Sqrt(spec.Columns);
                for (int i = 0; i < n; i++) row[i] = std * rng.NextGaussian();
                break;
            }
        }
    }

    private static ulong Fnv1a(string s)
    {
        ulong h = 14695981039346656037UL;
        foreach (char c in s) h = (h ^ c) * 1099511628211UL;
        return h;
    }

    /// <summary>SplitMix64 with Box-Muller: tiny, fast and identical on every platform.</summary>
    private sealed class GaussianRandom(ulong seed)
    {
        private ulong _state = seed;
        private float? _spare;

        private ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public float NextUniform() => (Next() >> 40) * (1.0f / (1 << 24));

        public float NextGaussian()
        {
            if (_spare is float s)
            {
                _spare = null;
                return s;
            }
            double u1 = ((Next() >> 11) + 1.0) / (1UL << 53), u2 = (Next() >> 11) * (1.0 / (1UL << 53));
            double r = Math.Sqrt(-2 * Math.Log(u1));
            _spare = (float)(r * Math.Sin(2 * Math.PI * u2));
            return (float)(r * Math.Cos(2 * Math.PI * u2));
        }
    }
}
