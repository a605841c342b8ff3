using SeekSharp.Gguf;

namespace SeekSharp.Models;

/// <summary>How RoPE pairs dimensions: ggml's "normal" mode rotates adjacent pairs (Llama),
/// NeoX mode rotates dimension i with i + n/2 (Qwen).</summary>
public enum RopeLayout { Normal, NeoX }

/// <summary>RoPE frequency scaling as llama.cpp reads it from <c>{arch}.rope.scaling.type</c>.</summary>
public enum RopeScaling { None, Linear, Yarn }

/// <summary>How a mixture-of-experts router turns its logits into expert scores (llama.cpp's expert_gating_func:
/// 1 = softmax, DeepSeek-V2; 2 = sigmoid, DeepSeek-V3).</summary>
public enum ExpertGating { Softmax = 1, Sigmoid = 2 }

/// <summary>
/// Hyperparameters of a decoder-only transformer, read from GGUF metadata with the keys (and defaults) that
/// llama.cpp uses, so a file means the same model to both engines.
/// </summary>
public sealed record ModelConfig
{
    public required string Architecture { get; init; }
    public required int VocabSize { get; init; }
    public required int EmbeddingLength { get; init; }
    public required int LayerCount { get; init; }
    public required int FeedForwardLength { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int KeyLength { get; init; }
    public required int ValueLength { get; init; }
    public int ContextLength { get; init; } = 4096;
    public float RmsNormEpsilon { get; init; } = 1e-5f;
    public int RopeDimensions { get; init; }
    public float RopeFreqBase { get; init; } = 10000f;
    public RopeLayout RopeLayout { get; init; }
    public RopeScaling RopeScaling { get; init; }
    /// <summary>llama.cpp's freq_scale = 1 / scaling factor.</summary>
    public float RopeFreqScale { get; init; } = 1f;
    public int RopeOriginalContext { get; init; }
    public float YarnExtFactor { get; init; }
    public float YarnAttnFactor { get; init; } = 1f;
    public float YarnBetaFast { get; init; } = 32f;
    public float YarnBetaSlow { get; init; } = 1f;
    public bool HasQkvBias { get; init; }
    public bool HasQkNorm { get; init; }

    // ---- DeepSeek-V2/V3 (GGUF "deepseek2"): multi-head latent attention and DeepSeekMoE. Zero elsewhere. ----

    /// <summary>Rank of the query compression (attention.q_lora_rank); 0 = one full query projection (V2-Lite).</summary>
    public int QLoraRank { get; init; }
    /// <summary>Rank of the key/value latent (attention.kv_lora_rank): what the cache holds per token and layer,
    /// besides the shared RoPE key. Non-zero marks a model with multi-head latent attention.</summary>
    public int KvLoraRank { get; init; }
    /// <summary>Per-head query/key length after decompression (attention.key_length_mla): no-RoPE part + RoPE part.</summary>
    public int KeyLengthMla { get; init; }
    /// <summary>Per-head value length after decompression (attention.value_length_mla).</summary>
    public int ValueLengthMla { get; init; }
    public int LeadingDenseBlocks { get; init; }
    public int ExpertCount { get; init; }
    public int ExpertUsedCount { get; init; }
    public int ExpertSharedCount { get; init; }
    public int ExpertFeedForwardLength { get; init; }
    /// <summary>Routed scaling factor (expert_weights_scale); 0 and 1 mean none, as in llama.cpp.</summary>
    public float ExpertWeightsScale { get; init; }
    public bool ExpertWeightsNorm { get; init; }
    public ExpertGating ExpertGating { get; init; } = ExpertGating.Softmax;
    public int ExpertGroupCount { get; init; }
    public int ExpertGroupUsedCount { get; init; }
    /// <summary>YaRN mscale_all_dim as llama.cpp keeps it (the GGUF stores 0.1 × this).</summary>
    public float YarnLogMultiplier { get; init; }
    /// <summary>Multi-token-prediction blocks appended after the main ones (nextn_predict_layers).</summary>
    public int NextNLayers { get; init; }

    public int GroupSize => HeadCount / KvHeadCount;

    /// <summary>True for multi-head latent attention with the absorbed (latent) cache.</summary>
    public bool IsMla => KvLoraRank > 0;
    public int QkRopeHeadDim => RopeDimensions;
    public int QkNopeHeadDim => KeyLengthMla - RopeDimensions;

    /// <summary>Values the KV cache holds per token and layer: keys and values of every KV head, or for MLA one
    /// latent row (kv_lora_rank + the RoPE key) that serves as both.</summary>
    public int CacheKeyWidth => IsMla ? KvLoraRank + RopeDimensions : KvHeadCount * KeyLength;
    public int CacheValueWidth => IsMla ? 0 : KvHeadCount * ValueLength;

    /// <summary>
    /// Softmax scale of MLA attention as llama.cpp's deepseek2 graph computes it: the RoPE attn_factor llama.cpp
    /// passes (already divided by YaRN's 1 + 0.1·ln s) is undone, multiplied by YaRN's mscale_all_dim term, squared,
    /// and divided by √(key_length_mla).
    /// </summary>
    public float MlaAttentionScale
    {
        get
        {
            float attnFactorOrg = YarnAttnFactor * (1.0f + 0.1f * MathF.Log(1.0f / RopeFreqScale));
            float mscale = attnFactorOrg * (1.0f + 0.1f * YarnLogMultiplier * MathF.Log(1.0f / RopeFreqScale));
            return 1.0f * mscale * mscale / MathF.Sqrt(KeyLengthMla);
        }
    }

    public static ModelConfig FromGguf(GgufFile file)
    {
        string arch = file.GetStringOrNull("general.architecture")
            ?? throw new GgufFormatException("missing general.architecture: not a model file");
        var family = ArchitectureRegistry.Find(arch)
            ?? throw new NotSupportedException($"unsupported architecture '{arch}' (supported: {string.Join(", ", ArchitectureRegistry.Names)})");

        int Req(string key)
        {
            string full = $"{arch}.{key}";
            if (!file.TryGetValue(full, out var v)) throw new GgufFormatException($"missing hyperparameter '{full}'");
            int value = v.AsInt32();
            if (value <= 0) throw new GgufFormatException($"hyperparameter '{full}' = {value} must be positive");
            return value;
        }
        int Opt(string key, int fallback) => file.GetInt32($"{arch}.{key}", fallback);
        float OptF(string key, float fallback) => file.GetSingle($"{arch}.{key}", fallback);

        int nEmbd = Req("embedding_length");
        int nHead = Req("attention.head_count");
        int nKv = Opt("attention.head_count_kv", nHead);
        if (nKv <= 0 || nHead % nKv != 0)
            throw new GgufFormatException($"head_count {nHead} is not a multiple of head_count_kv {nKv}");
        int keyLength = Opt("attention.key_length", nEmbd / nHead);
        int valueLength = Opt("attention.value_length", nEmbd / nHead);
        int vocab = file.GetInt32($"{arch}.vocab_size", 0);
        if (vocab <= 0 && file.TryGetValue("tokenizer.ggml.tokens", out var tokens)) vocab = tokens.AsArray().Count;
        if (vocab <= 0 && file.TryGetTensor("token_embd.weight", out var embd)) vocab = (int)embd.Rows;

        string scalingName = file.GetStringOrNull($"{arch}.rope.scaling.type") ?? "none";
        var scaling = scalingName switch
        {
            "none" => RopeScaling.None,
            "linear" => RopeScaling.Linear,
            "yarn" => RopeScaling.Yarn,
            _ => throw new NotSupportedException($"rope scaling type '{scalingName}' is not supported"),
        };
        float factor = OptF("rope.scaling.factor", 0f);
        float freqScale = factor == 0f ? 1f : 1f / factor;
        if (!file.ContainsKey($"{arch}.rope.scaling.factor") && file.TryGetValue($"{arch}.rope.scale_linear", out var lin))
            freqScale = 1f / lin.AsSingle();
        int nCtxTrain = Opt("context_length", 4096);
        bool deepseek2 = arch == "deepseek2";
        // llama.cpp takes ext_factor from its context parameters (unset: 1 for YaRN, else 0), not from the file: a
        // GGUF that writes rope.scaling.yarn_ext_factor = 0 still runs with 1 there (checked against LLamaSharp 0.30).
        float yarnExt = scaling == RopeScaling.Yarn ? 1f : 0f;
        float ropeFreqScale = scaling == RopeScaling.None ? 1f : freqScale;
        float logMul = 0f;
        if (file.TryGetValue($"{arch}.rope.scaling.yarn_log_multiplier", out var lm))
            logMul = deepseek2 ? lm.AsSingle() / 0.1f : lm.AsSingle(); // llama.cpp undoes the converter's 0.1 for deepseek2
        // llama.cpp's context setup: with YaRN active the attn_factor handed to RoPE is mscale(s, mscale)/mscale(s,
        // mscale_all_dim) divided by 1 + 0.1·ln s (ggml's rope multiplies that back in), times rope.scaling.attn_factor.
        float attnFactor = 1f;
        if (yarnExt != 0f)
        {
            static float GetMscale(float scale, float m) => scale <= 1.0f ? 1.0f : (0.1f * m * MathF.Log(scale) + 1.0f);
            float s = 1.0f / ropeFreqScale;
            if (logMul != 0f)
            {
                float m = deepseek2 && logMul != 1.0f ? logMul : 1.0f;
                attnFactor = GetMscale(s, m) / GetMscale(s, logMul);
            }
            else attnFactor = GetMscale(s, 1.0f);
            attnFactor *= 1.0f / (1.0f + 0.1f * MathF.Log(s));
        }
        attnFactor *= OptF("rope.scaling.attn_factor", 1f);

        var config = new ModelConfig
        {
            Architecture = arch,
            VocabSize = vocab,
            EmbeddingLength = nEmbd,
            LayerCount = Req("block_count"),
            FeedForwardLength = Req("feed_forward_length"),
            HeadCount = nHead,
            KvHeadCount = nKv,
            KeyLength = keyLength,
            ValueLength = valueLength,
            ContextLength = nCtxTrain,
            RmsNormEpsilon = OptF("attention.layer_norm_rms_epsilon", 1e-5f),
            RopeDimensions = Opt("rope.dimension_count", keyLength),
            RopeFreqBase = OptF("rope.freq_base", 10000f),
            RopeLayout = family.RopeLayout,
            RopeScaling = scaling,
            RopeFreqScale = ropeFreqScale,
            RopeOriginalContext = Opt("rope.scaling.original_context_length", nCtxTrain),
            // llama.cpp: ext_factor defaults to 1 for YaRN and 0 otherwise; attn_factor 1.
            YarnExtFactor = yarnExt,
            YarnAttnFactor = attnFactor,
            YarnBetaFast = OptF("rope.scaling.yarn_beta_fast", 32f),
            YarnBetaSlow = OptF("rope.scaling.yarn_beta_slow", 1f),
            HasQkvBias = family.HasQkvBias,
            HasQkNorm = family.HasQkNorm,
            YarnLogMultiplier = logMul,
        };
        if (deepseek2) config = ReadDeepSeek2(file, config, vocab);
        config.Validate();
        return config;
    }

    /// <summary>The hyperparameters llama.cpp's deepseek2 loader reads, with its defaults and its quirks.</summary>
    private static ModelConfig ReadDeepSeek2(GgufFile file, ModelConfig c, int vocab)
    {
        const string a = "deepseek2";
        int mainLayers = c.LayerCount;
        int nextn = file.GetInt32($"{a}.nextn_predict_layers", 0);
        if (nextn < 0 || nextn >= mainLayers) throw new GgufFormatException($"nextn_predict_layers {nextn} must be below block_count {mainLayers}");
        // llama.cpp recognises the "lite" models (no query compression) by their layer count and then ignores q_lora_rank.
        bool lite = mainLayers == 27 || mainLayers == 26 || (mainLayers == 48 && vocab == 128256);
        int qLora = lite ? 0 : file.TryGetValue($"{a}.attention.q_lora_rank", out var ql) ? ql.AsInt32()
            : throw new GgufFormatException($"missing hyperparameter '{a}.attention.q_lora_rank'");
        int kvLora = file.TryGetValue($"{a}.attention.kv_lora_rank", out var kl) ? kl.AsInt32()
            : throw new GgufFormatException($"missing hyperparameter '{a}.attention.kv_lora_rank'");
        int kMla = file.GetInt32($"{a}.attention.key_length_mla", 0);
        int vMla = file.GetInt32($"{a}.attention.value_length_mla", 0);
        if (kMla == 0 || vMla == 0)
        {
            // Older files (unsplit attn_kv_b) describe the decompressed heads in key_length/value_length.
            kMla = c.KeyLength;
            vMla = c.ValueLength;
        }
        int gating = file.GetInt32($"{a}.expert_gating_func", 0);
        var cfg = c with
        {
            LayerCount = mainLayers - nextn,
            NextNLayers = nextn,
            QLoraRank = qLora,
            KvLoraRank = kvLora,
            KeyLengthMla = kMla,
            ValueLengthMla = vMla,
            LeadingDenseBlocks = file.GetInt32($"{a}.leading_dense_block_count", 0),
            ExpertCount = file.GetInt32($"{a}.expert_count", 0),
            ExpertUsedCount = file.GetInt32($"{a}.expert_used_count", 0),
            ExpertSharedCount = file.GetInt32($"{a}.expert_shared_count", 0),
            ExpertFeedForwardLength = file.GetInt32($"{a}.expert_feed_forward_length", 0),
            ExpertWeightsScale = file.GetSingle($"{a}.expert_weights_scale", 0f),
            ExpertWeightsNorm = file.GetBool($"{a}.expert_weights_norm", false),
            // files from before the key existed are DeepSeek-V2/V2.5: softmax
            ExpertGating = gating == 2 ? ExpertGating.Sigmoid : gating is 0 or 1 ? ExpertGating.Softmax
                : throw new NotSupportedException($"expert gating function {gating} is not supported"),
            ExpertGroupCount = file.GetInt32($"{a}.expert_group_count", 0),
            ExpertGroupUsedCount = file.GetInt32($"{a}.expert_group_used_count", 0),
        };
        if (cfg.KvLoraRank <= 0) throw new GgufFormatException("kv_lora_rank must be positive");
        if (cfg.QkNopeHeadDim < 1) throw new GgufFormatException($"key_length_mla {kMla} must exceed rope.dimension_count {c.RopeDimensions}");
        if (cfg.LeadingDenseBlocks < cfg.LayerCount)
        {
            if (cfg.ExpertCount <= 0 || cfg.ExpertUsedCount <= 0 || cfg.ExpertUsedCount > cfg.ExpertCount)
                throw new GgufFormatException($"expert_count {cfg.ExpertCount} / expert_used_count {cfg.ExpertUsedCount} are invalid");
            if (cfg.ExpertFeedForwardLength <= 0) throw new GgufFormatException("expert_feed_forward_length must be positive");
            if (cfg.ExpertGroupCount > 1 && (cfg.ExpertCount % cfg.ExpertGroupCount != 0 || cfg.ExpertGroupUsedCount <= 0 || cfg.ExpertGroupUsedCount > cfg.ExpertGroupCount))
                throw new GgufFormatException($"expert groups {cfg.ExpertGroupCount}/{cfg.ExpertGroupUsedCount} do not divide {cfg.ExpertCount} experts");
        }
        return cfg;
    }

    public void Validate()
    {
        if (VocabSize <= 0) throw new GgufFormatException("vocabulary size is unknown (no vocab_size, tokens or token_embd)");
        if (RopeDimensions <= 0 || RopeDimensions > KeyLength || RopeDimensions % 2 != 0)
            throw new GgufFormatException($"rope.dimension_count {RopeDimensions} must be even and at most key_length {KeyLength}");
        if (KeyLength % 2 != 0) throw new GgufFormatException($"key_length {KeyLength} must be even");
        if (KeyLength > Numerics.Attention.MaxHeadLength || ValueLength > Numerics.Attention.MaxHeadLength)
            throw new GgufFormatException($"key_length {KeyLength} / value_length {ValueLength} exceed the supported maximum of {Numerics.Attention.MaxHeadLength}");
    }
}
