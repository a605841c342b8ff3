using System.Text.Json;

namespace SeekSharp.Tokenization;

/// <summary>
/// Builds a <see cref="Vocabulary"/> from a Hugging Face tokenizer.json (byte-level BPE) and, optionally, its
/// tokenizer_config.json, the way llama.cpp's convert_hf_to_gguf.py builds the GGUF tokenizer keys.
/// </summary>
public static class HuggingFaceTokenizerJson
{
    /// <summary>Loads a vocabulary; ids run from 0 to the highest id in the file, gaps filled as the converter does.</summary>
    public static Vocabulary Load(string tokenizerJsonPath, string? tokenizerConfigPath = null) =>
        Load(tokenizerJsonPath, tokenizerConfigPath, preTokenizer: null, vocabSize: null);

    /// <summary>Loads a vocabulary.</summary>
    /// <param name="tokenizerJsonPath">tokenizer.json.</param>
    /// <param name="tokenizerConfigPath">tokenizer_config.json (special tokens, add_bos_token / add_eos_token), if any.</param>
    /// <param name="preTokenizer">tokenizer.ggml.pre to use; null to infer it from the pre-tokenizer's regexes.</param>
    /// <param name="vocabSize">Number of ids (the model's vocab_size, which may exceed the tokenizer's); null for highest id + 1.</param>
    public static Vocabulary Load(string tokenizerJsonPath, string? tokenizerConfigPath, string? preTokenizer, int? vocabSize)
    {
        using var tokenizerStream = File.OpenRead(tokenizerJsonPath);
        using var configStream = tokenizerConfigPath is null ? null : File.OpenRead(tokenizerConfigPath);
        return Load(tokenizerStream, configStream, preTokenizer, vocabSize);
    }

    /// <summary>Loads a vocabulary from streams holding tokenizer.json and (optionally) tokenizer_config.json.</summary>
    public static Vocabulary Load(Stream tokenizerJson, Stream? tokenizerConfig, string? preTokenizer = null, int? vocabSize = null)
    {
        using var doc = JsonDocument.Parse(tokenizerJson, new JsonDocumentOptions { MaxDepth = 256 });
        JsonElement root = doc.RootElement;
        JsonElement model = root.GetProperty("model");
        if (model.TryGetProperty("type", out var type) && type.GetString() != "BPE")
            throw new NotSupportedException($"tokenizer model type '{type.GetString()}' is not BPE");

        var byId = new Dictionary<int, string>();
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
            byId[entry.Value.GetInt32()] = entry.Name;

        var added = new Dictionary<int, (string Content, bool Special, bool Normalized)>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement t in addedTokens.EnumerateArray())
            {
                int id = t.GetProperty("id").GetInt32();
                string content = t.GetProperty("content").GetString() ?? "";
                bool special = t.TryGetProperty("special", out var s) && s.ValueKind == JsonValueKind.True;
                bool normalized = !t.TryGetProperty("normalized", out var nz) || nz.ValueKind != JsonValueKind.False;
                added[id] = (content, special, normalized);
                byId[id] = content; // added tokens win, as in the tokenizer's get_vocab()
            }
        }
        var addedContents = new HashSet<string>(added.Values.Select(a => a.Content), StringComparer.Ordinal);

        int size = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        if (vocabSize is int requested)
        {
            if (requested < size)
                throw new ArgumentOutOfRangeException(nameof(vocabSize), requested, $"the tokenizer has ids up to {size - 1}");
            size = requested;
        }

        var tokens = new string[size];
        var types = new TokenType[size];
        for (int i = 0; i < size; i++)
        {
            if (!byId.TryGetValue(i, out string? token))
            {
                tokens[i] = $"[PAD{i}]";
                types[i] = TokenType.Unused; // current convert_hf_to_gguf.py (older versions used USER_DEFINED)
                continue;
            }
            if (addedContents.Contains(token))
            {
                bool special = added.TryGetValue(i, out var info) ? info.Special : added.Values.First(a => a.Content == token).Special;
                if (special || LooksSpecial(token))
                {
                    types[i] = TokenType.Control;
                }
                else
                {
                    // llama.cpp expects user-defined tokens pre-normalized
                    token = token.Replace('\u2581', ' ');
                    types[i] = TokenType.UserDefined;
                }
            }
            else
            {
                types[i] = TokenType.Normal;
            }
            tokens[i] = token;
        }

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergeList))
        {
            foreach (JsonElement m in mergeList.EnumerateArray())
            {
                merges.Add(m.ValueKind == JsonValueKind.Array
                    ? string.Join(' ', m.EnumerateArray().Select(p => p.GetString()))
                    : m.GetString() ?? "");
            }
        }

        string pre = preTokenizer ?? InferPreTokenizer(root);
        PreTokenizer preTokenizerInfo = Tokenization.PreTokenizer.ForName(pre);

        int bos = -1, eos = -1, pad = -1, unk = -1;
        bool? addBos = null, addEos = null;
        if (tokenizerConfig is not null)
        {
            using var config = JsonDocument.Parse(tokenizerConfig);
            JsonElement c = config.RootElement;
            var idOf = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = size - 1; i >= 0; i--)
                idOf[tokens[i]] = i;
            foreach (var (key, _) in added)
                idOf[added[key].Content] = key;
            int Find(string name) =>
                SpecialTokenContent(c, name) is { } content && idOf.TryGetValue(content, out int id) ? id : -1;
            bos = Find("bos_token");
            eos = Find("eos_token");
            pad = Find("pad_token");
            unk = Find("unk_token");
            if (c.TryGetProperty("add_bos_token", out var ab) && ab.ValueKind is JsonValueKind.True or JsonValueKind.False)
                addBos = ab.GetBoolean();
            if (c.TryGetProperty("add_eos_token", out var ae) && ae.ValueKind is JsonValueKind.True or JsonValueKind.False)
                addEos = ae.GetBoolean();
        }

        return new Vocabulary
        {
            Tokens = tokens,
            TokenTypes = types,
            Merges = merges.ToArray(),
            PreTokenizer = pre,
            BosId = bos,
            EosId = eos,
            PadId = pad,
            UnknownId = unk,
            AddBos = addBos ?? preTokenizerInfo.DefaultAddBos,
            AddEos = addEos ?? false,
        };
    }

    /// <summary>convert_hf_to_gguf.py's does_token_look_special: added tokens it types as control even when not "special".</summary>
    internal static bool LooksSpecial(string token) =>
        token is "<pad>" or "<mask>" or "<2mass>" or "[@BOS@]"
        || (token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal))
        || (token.StartsWith("<｜", StringComparison.Ordinal) && token.EndsWith("｜>", StringComparison.Ordinal))
        || (token.StartsWith("<unused", StringComparison.Ordinal) && token.EndsWith('>'));

    /// <summary>A special token named in tokenizer_config.json (<c>"bos_token": "&lt;s&gt;"</c>, or the AddedToken object
    /// form with its <c>content</c>); null when absent or of another shape.</summary>
    public static string? SpecialTokenContent(JsonElement config, string name)
    {
        if (config.ValueKind != JsonValueKind.Object || !config.TryGetProperty(name, out var v))
            return null;
        return v.ValueKind switch
        {
            JsonValueKind.String => v.GetString(),
            JsonValueKind.Object when v.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
            _ => null,
        };
    }

    // The pre-tokenizer regexes of the families we know, as tokenizer.json spells them.
    private const string DeepseekV3Main =
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
    private const string Qwen2 =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    private const string Llama3 =
        "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    /// <summary>Guesses tokenizer.ggml.pre from the pre_tokenizer section (llama.cpp's converter hashes sample output instead).</summary>
    internal static string InferPreTokenizer(JsonElement root)
    {
        if (!root.TryGetProperty("pre_tokenizer", out var pre) || pre.ValueKind != JsonValueKind.Object)
            return "default";
        var patterns = new List<string>();
        bool byteLevelRegex = false;
        Collect(pre);
        // tokenizer.json may spell the same regex with different escapes; compare ignoring '\r'/'\n' spelling
        static string Canon(string s) => s.Replace("\\r", "\r").Replace("\\n", "\n");
        var canon = patterns.Select(Canon).ToList();
        if (canon.Contains(Canon(DeepseekV3Main)) && canon.Contains("\\p{N}{1,3}"))
            return "deepseek-v3";
        if (canon.Contains(Canon(Qwen2)))
            return "qwen2";
        if (canon.Contains(Canon(Llama3)))
            return "llama-bpe";
        if (canon.Contains("\\s?\\p{L}+") && canon.Contains("\\s?\\p{P}+"))
            return "deepseek-coder";
        if (canon.Any(p => p.StartsWith("\\s?[A-Za-zµ", StringComparison.Ordinal)))
            return "deepseek-llm";
        if (byteLevelRegex && patterns.Count == 0)
            return "gpt-2";
        return "default";

        void Collect(JsonElement e)
        {
            string? t = e.TryGetProperty("type", out var tt) ? tt.GetString() : null;
            if (t == "Sequence" && e.TryGetProperty("pretokenizers", out var list))
            {
                foreach (var item in list.EnumerateArray())
                    Collect(item);
            }
            else if (t == "Split" && e.TryGetProperty("pattern", out var p) && p.TryGetProperty("Regex", out var r) && r.GetString() is { } regex)
            {
                patterns.Add(regex);
            }
            else if (t == "ByteLevel" && (!e.TryGetProperty("use_regex", out var ur) || ur.ValueKind == JsonValueKind.True))
            {
                byteLevelRegex = true;
            }
        }
    }
}
