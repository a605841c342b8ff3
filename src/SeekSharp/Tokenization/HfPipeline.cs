using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace SeekSharp.Tokenization;

/// <summary>tokenizer.json's normalizer (the subset of the crate's normalizers we support).</summary>
internal abstract class HfNormalizer
{
    /// <summary>Returns the normalized text (the input itself when nothing changes).</summary>
    public abstract string Normalize(string text);

    internal sealed class Unicode(NormalizationForm form) : HfNormalizer
    {
        public override string Normalize(string text) => HfNormalization.Normalize(text, form);
    }

    /// <summary>The crate's Lowercase: char::to_lowercase per character (full mapping: İ becomes "i\u0307"; no
    /// Final_Sigma rule, Σ is always σ).</summary>
    internal sealed class Lowercase : HfNormalizer
    {
        public override string Normalize(string text) =>
            text.Contains('\u0130') ? LowerWithDottedI(text) : text.ToLowerInvariant();

        private static string LowerWithDottedI(string text)
        {
            var sb = new StringBuilder(text.Length + 4);
            foreach (Rune r in text.EnumerateRunes())
            {
                if (r.Value == 0x130)
                    sb.Append("i\u0307");
                else
                    sb.Append(Rune.ToLowerInvariant(r).ToString());
            }
            return sb.ToString();
        }
    }

    internal sealed class Replace(string? literal, Regex? regex, string content) : HfNormalizer
    {
        public override string Normalize(string text) =>
            literal is not null ? (literal.Length == 0 ? text : text.Replace(literal, content, StringComparison.Ordinal))
                : regex!.Replace(text, content.Replace("$", "$$", StringComparison.Ordinal));
    }

    internal sealed class Prepend(string prefix) : HfNormalizer
    {
        public override string Normalize(string text) => text.Length == 0 ? text : prefix + text;
    }

    internal sealed class Strip(bool left, bool right) : HfNormalizer
    {
        public override string Normalize(string text)
        {
            int s = 0, e = text.Length;
            while (left && s < e && Rune.DecodeFromUtf16(text.AsSpan(s, e - s), out Rune r, out int w) == System.Buffers.OperationStatus.Done && HfUnicode.IsWhiteSpace(r.Value))
                s += w;
            while (right && e > s && Rune.DecodeLastFromUtf16(text.AsSpan(s, e - s), out Rune r, out int w) == System.Buffers.OperationStatus.Done && HfUnicode.IsWhiteSpace(r.Value))
                e -= w;
            return s == 0 && e == text.Length ? text : text[s..e];
        }
    }

    internal sealed class Sequence(HfNormalizer[] items) : HfNormalizer
    {
        public override string Normalize(string text)
        {
            foreach (var n in items)
                text = n.Normalize(text);
            return text;
        }
    }
}

/// <summary>
/// Everything of a tokenizer.json besides the BPE vocabulary and merges: normalizer, added-token matching,
/// pre-tokenizer, post-processor and decoder, with the semantics of the Hugging Face tokenizers crate (0.22).
/// </summary>
internal sealed class HfPipeline
{
    public HfNormalizer? Normalizer { get; init; }
    public required HfAddedMatcher RawAdded { get; init; }          // normalized: false
    public required HfAddedMatcher NormalizedAdded { get; init; }   // normalized: true (matched on normalized text)
    public required HfPreTokenizer PreTokenizer { get; init; }
    public bool IgnoreMerges { get; init; }
    public required int[] Prefix { get; init; }                     // post-processor ids before / after the sequence
    public required int[] Suffix { get; init; }
    public required bool[] Special { get; init; }                   // per id: a special added token (skip_special_tokens)
    public required bool[] Exists { get; init; }                    // per id: the tokenizer has this id

    // ---- loading ----

    public static (Vocabulary Vocab, HfPipeline Pipeline) Load(Stream tokenizerJson, Stream? tokenizerConfig)
    {
        using var doc = JsonDocument.Parse(tokenizerJson, new JsonDocumentOptions { MaxDepth = 256 });
        JsonElement root = doc.RootElement;
        JsonElement model = root.GetProperty("model");
        string modelType = model.TryGetProperty("type", out var mt) ? mt.GetString() ?? "" : "BPE";
        if (modelType != "BPE")
            throw new NotSupportedException($"tokenizer model type '{modelType}' is not supported (only BPE)");
        if (model.TryGetProperty("byte_fallback", out var bf) && bf.ValueKind == JsonValueKind.True)
            throw new NotSupportedException("BPE byte_fallback is not supported");
        if (Str(model, "continuing_subword_prefix") is { Length: > 0 } || Str(model, "end_of_word_suffix") is { Length: > 0 })
            throw new NotSupportedException("BPE continuing_subword_prefix / end_of_word_suffix are not supported");
        if (model.TryGetProperty("dropout", out var dr) && dr.ValueKind == JsonValueKind.Number && dr.GetDouble() > 0)
            throw new NotSupportedException("BPE dropout is not supported");

        var byId = new Dictionary<int, string>();
        foreach (JsonProperty entry in model.GetProperty("vocab").EnumerateObject())
            byId[entry.Value.GetInt32()] = entry.Name;
        var added = new List<HfAddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedTokens) && addedTokens.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement t in addedTokens.EnumerateArray())
            {
                var token = new HfAddedToken(t.GetProperty("id").GetInt32(), t.GetProperty("content").GetString() ?? "",
                    Bool(t, "special", false), Bool(t, "normalized", true), Bool(t, "lstrip", false), Bool(t, "rstrip", false),
                    Bool(t, "single_word", false));
                added.Add(token);
                byId[token.Id] = token.Content;
            }
        }

        int size = byId.Count == 0 ? 0 : byId.Keys.Max() + 1;
        var tokens = new string[size];
        var types = new TokenType[size];
        var exists = new bool[size];
        var special = new bool[size];
        for (int i = 0; i < size; i++)
        {
            if (byId.TryGetValue(i, out string? text))
            {
                tokens[i] = text;
                types[i] = TokenType.Normal;
                exists[i] = true;
            }
            else
            {
                tokens[i] = $"[PAD{i}]";
                types[i] = TokenType.Unused;
            }
        }
        foreach (var a in added)
        {
            types[a.Id] = a.Special ? TokenType.Control : TokenType.UserDefined;
            special[a.Id] = a.Special;
        }

        var merges = new List<string>();
        if (model.TryGetProperty("merges", out var mergeList))
        {
            foreach (JsonElement m in mergeList.EnumerateArray())
            {
                if (m.ValueKind == JsonValueKind.Array)
                {
                    string left = m[0].GetString() ?? "", right = m[1].GetString() ?? "";
                    if (left.Contains(' ') || right.Contains(' '))
                        throw new NotSupportedException("merges of tokens that contain spaces are not supported");
                    merges.Add(left + " " + right);
                }
                else
                {
                    merges.Add(m.GetString() ?? "");
                }
            }
        }

        HfNormalizer? normalizer = root.TryGetProperty("normalizer", out var norm) && norm.ValueKind == JsonValueKind.Object
            ? ParseNormalizer(norm) : null;

        var rawEntries = new List<(HfAddedToken, string)>();
        var normEntries = new List<(HfAddedToken, string)>();
        foreach (var a in added)
        {
            if (a.Normalized)
                normEntries.Add((a, normalizer?.Normalize(a.Content) ?? a.Content));
            else
                rawEntries.Add((a, a.Content));
        }

        var steps = new List<HfPreTokenizer.Step>();
        bool byteLevel = false;
        if (root.TryGetProperty("pre_tokenizer", out var pre) && pre.ValueKind == JsonValueKind.Object)
            ParsePreTokenizer(pre, steps, ref byteLevel);
        if (!byteLevel)
            throw new NotSupportedException("only byte-level BPE tokenizers are supported (no ByteLevel pre-tokenizer)");

        if (root.TryGetProperty("decoder", out var dec) && dec.ValueKind == JsonValueKind.Object)
        {
            string dt = Str(dec, "type") ?? "";
            if (dt != "ByteLevel" && !(dt == "Sequence" && dec.GetProperty("decoders").EnumerateArray().All(d => Str(d, "type") == "ByteLevel")))
                throw new NotSupportedException($"decoder '{dt}' is not supported (only ByteLevel)");
        }
        else
        {
            throw new NotSupportedException("a tokenizer without a ByteLevel decoder is not supported");
        }

        var idOf = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = size - 1; i >= 0; i--)
        {
            if (exists[i])
                idOf[tokens[i]] = i;
        }
        foreach (var a in added)
            idOf[a.Content] = a.Id;

        var prefix = new List<int>();
        var suffix = new List<int>();
        if (root.TryGetProperty("post_processor", out var post) && post.ValueKind == JsonValueKind.Object)
            ParsePostProcessor(post, prefix, suffix);

        int bos = -1, eos = -1, pad = -1, unk = -1;
        if (tokenizerConfig is not null)
        {
            using var config = JsonDocument.Parse(tokenizerConfig);
            JsonElement c = config.RootElement;
            int Find(string name) => HuggingFaceTokenizerJson.SpecialTokenContent(c, name) is { } s && idOf.TryGetValue(s, out int id) ? id : -1;
            bos = Find("bos_token");
            eos = Find("eos_token");
            pad = Find("pad_token");
            unk = Find("unk_token");
            // transformers' Llama-style fast tokenizers rebuild the post-processor from add_bos_token / add_eos_token
            string cls = Str(c, "tokenizer_class") ?? "";
            if (cls is "LlamaTokenizerFast" or "LlamaTokenizer" or "CodeLlamaTokenizerFast" or "CodeLlamaTokenizer"
                or "GemmaTokenizerFast" or "GemmaTokenizer")
            {
                bool? addBos = OptBool(c, "add_bos_token"), addEos = OptBool(c, "add_eos_token");
                if (addBos is not null || addEos is not null)
                {
                    prefix.Clear();
                    suffix.Clear();
                    if ((addBos ?? true) && bos >= 0)
                        prefix.Add(bos);
                    if ((addEos ?? false) && eos >= 0)
                        suffix.Add(eos);
                }
            }
        }

        var vocab = new Vocabulary
        {
            Tokens = tokens,
            TokenTypes = types,
            Merges = merges.ToArray(),
            PreTokenizer = "default",
            BosId = bos,
            EosId = eos,
            PadId = pad,
            UnknownId = unk,
            AddBos = false,
            AddEos = false,
        };
        var pipeline = new HfPipeline
        {
            Normalizer = normalizer,
            RawAdded = new HfAddedMatcher(rawEntries),
            NormalizedAdded = new HfAddedMatcher(normEntries),
            PreTokenizer = new HfPreTokenizer(steps.ToArray()),
            IgnoreMerges = Bool(model, "ignore_merges", false),
            Prefix = prefix.ToArray(),
            Suffix = suffix.ToArray(),
            Special = special,
            Exists = exists,
        };
        return (vocab, pipeline);

        void ParsePostProcessor(JsonElement p, List<int> before, List<int> after)
        {
            switch (Str(p, "type"))
            {
                case "ByteLevel":
                    break;
                case "Sequence":
                    foreach (var item in p.GetProperty("processors").EnumerateArray())
                        ParsePostProcessor(item, before, after);
                    break;
                case "TemplateProcessing":
                {
                    before.Clear();
                    after.Clear();
                    var specials = p.GetProperty("special_tokens");
                    bool seenSequence = false;
                    foreach (var piece in p.GetProperty("single").EnumerateArray())
                    {
                        if (piece.TryGetProperty("Sequence", out _))
                        {
                            seenSequence = true;
                            continue;
                        }
                        string name = piece.GetProperty("SpecialToken").GetProperty("id").GetString()!;
                        foreach (var id in specials.GetProperty(name).GetProperty("ids").EnumerateArray())
                            (seenSequence ? after : before).Add(id.GetInt32());
                    }
                    break;
                }
                case "RobertaProcessing" or "BertProcessing":
                    before.Clear();
                    after.Clear();
                    before.Add(p.GetProperty("cls")[1].GetInt32());
                    after.Add(p.GetProperty("sep")[1].GetInt32());
                    break;
                case var other:
                    throw new NotSupportedException($"post_processor '{other}' is not supported");
            }
        }
    }

    private static void ParsePreTokenizer(JsonElement e, List<HfPreTokenizer.Step> steps, ref bool byteLevel)
    {
        string type = Str(e, "type") ?? "";
        if (byteLevel)
            throw new NotSupportedException($"pre-tokenizer '{type}' after ByteLevel is not supported");
        switch (type)
        {
            case "Sequence":
                foreach (var item in e.GetProperty("pretokenizers").EnumerateArray())
                    ParsePreTokenizer(item, steps, ref byteLevel);
                break;
            case "Split":
            {
                var behavior = Enum.Parse<HfSplitBehavior>(Str(e, "behavior") ?? "Isolated");
                bool invert = Bool(e, "invert", false);
                var pattern = e.GetProperty("pattern");
                if (pattern.TryGetProperty("Regex", out var r))
                    steps.Add(HfRegex.CreateStep(r.GetString()!, behavior, invert));
                else
                    steps.Add(new HfPreTokenizer.StringStep(pattern.GetProperty("String").GetString()!, behavior, invert));
                break;
            }
            case "Digits":
                steps.Add(new HfPreTokenizer.CharStep(HfUnicode.IsNumeric,
                    Bool(e, "individual_digits", false) ? HfSplitBehavior.Isolated : HfSplitBehavior.Contiguous, false));
                break;
            case "ByteLevel":
                if (Bool(e, "add_prefix_space", true))
                    steps.Add(new HfPreTokenizer.PrefixSpaceStep());
                if (Bool(e, "use_regex", true))
                    steps.Add(HfRegex.CreateStep(HfRegex.Gpt2Pattern, HfSplitBehavior.Isolated, false));
                byteLevel = true;
                break;
            default:
                throw new NotSupportedException($"pre-tokenizer '{type}' is not supported");
        }
    }

    private static HfNormalizer? ParseNormalizer(JsonElement e)
    {
        switch (Str(e, "type"))
        {
            case "Sequence":
                var items = e.GetProperty("normalizers").EnumerateArray().Select(ParseNormalizer).OfType<HfNormalizer>().ToArray();
                return items.Length == 0 ? null : items.Length == 1 ? items[0] : new HfNormalizer.Sequence(items);
            case "NFC": return new HfNormalizer.Unicode(NormalizationForm.FormC);
            case "NFD": return new HfNormalizer.Unicode(NormalizationForm.FormD);
            case "NFKC": return new HfNormalizer.Unicode(NormalizationForm.FormKC);
            case "NFKD": return new HfNormalizer.Unicode(NormalizationForm.FormKD);
            case "Lowercase": return new HfNormalizer.Lowercase();
            case "Prepend": return new HfNormalizer.Prepend(Str(e, "prepend") ?? "");
            case "Strip": return new HfNormalizer.Strip(Bool(e, "strip_left", true), Bool(e, "strip_right", true));
            case "Replace":
            {
                var pattern = e.GetProperty("pattern");
                string content = Str(e, "content") ?? "";
                return pattern.TryGetProperty("Regex", out var r)
                    ? new HfNormalizer.Replace(null, new Regex(r.GetString()!, RegexOptions.CultureInvariant), content)
                    : new HfNormalizer.Replace(pattern.GetProperty("String").GetString()!, null, content);
            }
            case var other:
                throw new NotSupportedException($"normalizer '{other}' is not supported");
        }
    }

    private static string? Str(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static bool Bool(JsonElement e, string name, bool fallback) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : fallback;

    private static bool? OptBool(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
}

/// <summary>Oniguruma regexes of tokenizer.json run with .NET's engine on the stand-in text.</summary>
internal static class HfRegex
{
    // Oniguruma's default (Ruby) syntax makes ^ and $ line anchors, hence Multiline.

    /// <summary>The ByteLevel pre-tokenizer's regex (GPT-2's).</summary>
    public const string Gpt2Pattern = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";

    private static readonly Dictionary<string, Regex> s_cache = new(StringComparer.Ordinal);

    public static HfPreTokenizer.Step CreateStep(string pattern, HfSplitBehavior behavior, bool invert)
    {
        Regex regex;
        lock (s_cache)
        {
            if (!s_cache.TryGetValue(pattern, out regex!))
            {
                // the regex runs on the stand-in text, where a code point outside the BMP is a BMP char of its category
                if (pattern.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF') >= 0)
                    throw new NotSupportedException($"Split regex with characters outside the BMP is not supported: {pattern}");
                try
                {
                    regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Multiline | RegexOptions.Compiled);
                }
                catch (ArgumentException e)
                {
                    throw new NotSupportedException($"Split regex not supported by .NET's engine: {pattern} ({e.Message})", e);
                }
                s_cache[pattern] = regex;
            }
        }
        return new HfPreTokenizer.RegexStep(regex, pattern, behavior, invert);
    }
}
