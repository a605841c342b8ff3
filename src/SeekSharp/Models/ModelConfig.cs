using SeekSharp.Gguf;

namespace SeekSharp.Models;

/// <summary>How RoPE pairs dimensions: ggml's "normal" mode rotates adjacent pairs (Llama),
/// NeoX mode rotates dimension i with i + n/2 (Qwen).</summary>
public enum RopeLayout { Normal, NeoX }

/// <summary>RoPE frequency scaling as llama.cpp reads it from <c>{arch}.rope.scaling.type</c>.</summary>
public enum RopeScaling { None, Linear, Yarn }

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

    public int GroupSize => HeadCount / KvHeadCount;

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
            RopeFreqScale = scaling == RopeScaling.None ? 1f : freqScale,
            RopeOriginalContext = Opt("rope.scaling.original_context_length", nCtxTrain),
            // llama.cpp: ext_factor defaults to 1 for YaRN and 0 otherwise; attn_factor 1.
            YarnExtFactor = scaling == RopeScaling.Yarn ? OptF("rope.scaling.yarn_ext_factor", 1f) : 0f,
            YarnAttnFactor = OptF("rope.scaling.attn_factor", 1f),
            YarnBetaFast = OptF("rope.scaling.yarn_beta_fast", 32f),
            YarnBetaSlow = OptF("rope.scaling.yarn_beta_slow", 1f),
            HasQkvBias = family.HasQkvBias,
            HasQkNorm = family.HasQkNorm,
        };
        config.Validate();
        return config;
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
