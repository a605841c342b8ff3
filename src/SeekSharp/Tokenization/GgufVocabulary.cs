using SeekSharp.Gguf;

namespace SeekSharp.Tokenization;

/// <summary>Reads and writes a <see cref="Vocabulary"/> as GGUF tokenizer.ggml.* metadata (llama.cpp's keys).</summary>
public static class GgufVocabulary
{
    public const string ModelKey = "tokenizer.ggml.model";
    public const string PreKey = "tokenizer.ggml.pre";
    public const string TokensKey = "tokenizer.ggml.tokens";
    public const string TokenTypeKey = "tokenizer.ggml.token_type";
    public const string MergesKey = "tokenizer.ggml.merges";
    public const string BosKey = "tokenizer.ggml.bos_token_id";
    public const string EosKey = "tokenizer.ggml.eos_token_id";
    public const string EotKey = "tokenizer.ggml.eot_token_id";
    public const string UnknownKey = "tokenizer.ggml.unknown_token_id";
    public const string PaddingKey = "tokenizer.ggml.padding_token_id";
    public const string AddBosKey = "tokenizer.ggml.add_bos_token";
    public const string AddEosKey = "tokenizer.ggml.add_eos_token";

    /// <summary>
    /// Reads the vocabulary of a GGUF file with tokenizer.ggml.model = "gpt2", resolving absent keys the way llama.cpp
    /// does (e.g. BOS and EOS default to id 11 for this model type; add_bos defaults per pre-tokenizer).
    /// </summary>
    /// <exception cref="NotSupportedException">The tokenizer model is not "gpt2" or the pre-tokenizer is unknown.</exception>
    /// <exception cref="GgufFormatException">A required key is missing or has the wrong type.</exception>
    public static Vocabulary Read(GgufFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string model = file.TryGetValue(ModelKey, out var m) ? m.AsString() : throw new GgufFormatException($"missing {ModelKey}");
        if (model != "gpt2")
            throw new NotSupportedException($"tokenizer model '{model}' is not supported (only byte-level BPE, \"gpt2\")");
        string pre = file.GetStringOrNull(PreKey) ?? "default";
        PreTokenizer preTokenizer = PreTokenizer.ForName(pre);

        string[] tokens = file.TryGetValue(TokensKey, out var t) ? t.AsArray().AsStrings() : throw new GgufFormatException($"missing {TokensKey}");
        string[] merges = file.TryGetValue(MergesKey, out var mg) ? mg.AsArray().AsStrings() : throw new GgufFormatException($"missing {MergesKey}");
        var types = new TokenType[tokens.Length];
        if (file.TryGetValue(TokenTypeKey, out var tt))
        {
            int[] raw = tt.AsArray().AsInt32s();
            if (raw.Length < tokens.Length)
                throw new GgufFormatException($"{TokenTypeKey} has {raw.Length} entries for {tokens.Length} tokens");
            for (int i = 0; i < tokens.Length; i++)
                types[i] = raw[i] is >= 0 and <= 6 ? (TokenType)raw[i] : TokenType.Undefined;
        }
        else
        {
            types.AsSpan().Fill(TokenType.Normal);
        }

        int n = tokens.Length;
        int Id(string key, int fallback)
        {
            if (fallback >= n)
                fallback = -1;
            if (!file.TryGetValue(key, out var v))
                return fallback;
            long id = v.AsInt64();
            return id >= 0 && id < n ? (int)id : fallback; // llama.cpp ignores an out-of-range id
        }

        bool chatGlm = pre is "glm4" or "chatglm-bpe";
        return new Vocabulary
        {
            Tokens = tokens,
            TokenTypes = types,
            Merges = merges,
            PreTokenizer = pre,
            BosId = Id(BosKey, chatGlm ? -1 : 11),
            EosId = Id(EosKey, 11),
            EotId = Id(EotKey, -1),
            UnknownId = Id(UnknownKey, -1),
            PadId = Id(PaddingKey, -1),
            AddBos = file.GetBool(AddBosKey, preTokenizer.DefaultAddBos),
            AddEos = file.GetBool(AddEosKey, false),
        };
    }

    /// <summary>Writes the vocabulary's tokenizer.ggml.* keys (ids that are -1 are left out).</summary>
    public static void Write(GgufWriter writer, Vocabulary vocab)
    {
        ArgumentNullException.ThrowIfNull(writer);
        ArgumentNullException.ThrowIfNull(vocab);
        writer.Set(ModelKey, "gpt2");
        writer.Set(PreKey, vocab.PreTokenizer);
        writer.Set(TokensKey, vocab.Tokens);
        var types = new int[vocab.Tokens.Length];
        for (int i = 0; i < types.Length; i++)
            types[i] = (int)vocab.TokenTypes[i];
        writer.Set(TokenTypeKey, types);
        writer.Set(MergesKey, vocab.Merges);
        foreach (var (key, id) in (ReadOnlySpan<(string, int)>)[(BosKey, vocab.BosId), (EosKey, vocab.EosId), (EotKey, vocab.EotId),
                     (UnknownKey, vocab.UnknownId), (PaddingKey, vocab.PadId)])
        {
            if (id >= 0)
                writer.Set(key, (uint)id);
            else
                writer.Remove(key);
        }
        writer.Set(AddBosKey, vocab.AddBos);
        writer.Set(AddEosKey, vocab.AddEos);
    }
}
