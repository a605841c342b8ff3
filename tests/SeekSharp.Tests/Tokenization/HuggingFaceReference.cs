using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>
/// The Hugging Face tokenizers Rust crate (0.22.2) through Tokenizers.DotNet 1.4.1, and our tokenizer built from the
/// same vendored tokenizer.json. The wrapper always encodes with add_special_tokens = true and decodes with
/// skip_special_tokens = true; other settings are reached through edited copies of tokenizer.json (see Variant).
/// </summary>
internal static class HuggingFaceReference
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Tokenizers.DotNet.Tokenizer>> s_reference = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<BpeTokenizer>> s_ours = new();

    public static string Json(string name)
    {
        using var gz = new GZipStream(File.OpenRead(Path.Combine(TokenizerTestData.Directory, name, "tokenizer.json.gz")), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>tokenizer.json edits: "plain" (as vendored), "nonspecial" (every added token special: false, so the
    /// wrapper's skip_special_tokens skips nothing), "template" (a TemplateProcessing post-processor adding BOS and EOS).</summary>
    public static string VariantJson(string name, string variant)
    {
        string json = Json(name);
        if (variant == "plain")
            return json;
        var root = JsonNode.Parse(json)!.AsObject();
        switch (variant)
        {
            case "nonspecial":
                foreach (var t in root["added_tokens"]!.AsArray())
                    t!["special"] = false;
                break;
            case "template":
            {
                var added = root["added_tokens"]!.AsArray();
                string bos = added[0]!["content"]!.GetValue<string>();
                int bosId = added[0]!["id"]!.GetValue<int>();
                string eos = added[1]!["content"]!.GetValue<string>();
                int eosId = added[1]!["id"]!.GetValue<int>();
                root["post_processor"] = JsonNode.Parse("""
                    {"type": "Sequence", "processors": [
                      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
                      {"type": "TemplateProcessing",
                       "single": [{"SpecialToken": {"id": BOSQ, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": EOSQ, "type_id": 0}}],
                       "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                       "special_tokens": {
                         BOSQ: {"id": BOSQ, "ids": [BOSID], "tokens": [BOSQ]},
                         EOSQ: {"id": EOSQ, "ids": [EOSID], "tokens": [EOSQ]}}}]}
                    """.Replace("BOSQ", Q(bos)).Replace("EOSQ", Q(eos)).Replace("BOSID", bosId.ToString()).Replace("EOSID", eosId.ToString()));
                break;
            }
            case "llama3":
                // Llama-3's pre-tokenizer, ignore_merges and BOS template, on this vocabulary
                root["model"]!["ignore_merges"] = true;
                root["pre_tokenizer"] = JsonNode.Parse("""
                    {"type": "Sequence", "pretokenizers": [
                      {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false},
                      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
                    """);
                root["post_processor"] = JsonNode.Parse("""
                    {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "BOS", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                     "pair": [{"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"BOS": {"id": "BOS", "ids": [BOSID], "tokens": ["BOS"]}}}
                    """.Replace("BOSID", root["added_tokens"]![0]!["id"]!.ToString()));
                break;
            case "gpt2":
                // GPT-2 / RoBERTa style: ByteLevel with its own regex and add_prefix_space, no normalizer
                root.Remove("normalizer");
                root["pre_tokenizer"] = JsonNode.Parse("""{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true}""");
                break;
            case "behaviours":
                // every Split behaviour, invert, string patterns and Digits
                root["pre_tokenizer"] = JsonNode.Parse("""
                    {"type": "Sequence", "pretokenizers": [
                      {"type": "Split", "pattern": {"String": "  "}, "behavior": "MergedWithPrevious", "invert": false},
                      {"type": "Split", "pattern": {"Regex": "\\p{P}"}, "behavior": "MergedWithNext", "invert": false},
                      {"type": "Split", "pattern": {"Regex": "[a-z]"}, "behavior": "Contiguous", "invert": false},
                      {"type": "Digits", "individual_digits": true},
                      {"type": "Split", "pattern": {"Regex": "\\n+"}, "behavior": "Removed", "invert": false},
                      {"type": "Split", "pattern": {"Regex": "[^\\s]+"}, "behavior": "Isolated", "invert": true},
                      {"type": "Split", "pattern": {"String": "the"}, "behavior": "MergedWithNext", "invert": true},
                      {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}]}
                    """);
                break;
            case "normalizers":
                root["normalizer"] = JsonNode.Parse("""
                    {"type": "Sequence", "normalizers": [
                      {"type": "NFKC"},
                      {"type": "Replace", "pattern": {"String": "a"}, "content": "ä"},
                      {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "},
                      {"type": "Strip", "strip_left": true, "strip_right": true},
                      {"type": "Prepend", "prepend": "▁"},
                      {"type": "Lowercase"}]}
                    """);
                break;
            case "addedflags":
            {
                // lstrip / rstrip / single_word, and a normalized added token matched after lowercasing
                root["normalizer"] = JsonNode.Parse("""{"type": "Lowercase"}""");
                foreach (var t in root["added_tokens"]!.AsArray())
                {
                    switch (t!["content"]!.GetValue<string>())
                    {
                        case "<|im_start|>" or "<｜User｜>": t["lstrip"] = true; break;
                        case "<|im_end|>" or "<｜Assistant｜>": t["rstrip"] = true; break;
                        case "<think>" or "<｜tool▁sep｜>": t["single_word"] = true; break;
                        case "</think>" or "<｜fim▁hole｜>": t["normalized"] = true; t["lstrip"] = true; t["rstrip"] = true; break;
                    }
                }
                break;
            }
            default:
                throw new ArgumentException(variant);
        }
        return root.ToJsonString();

        static string Q(string s) => System.Text.Json.JsonSerializer.Serialize(s);
    }

    public static Tokenizers.DotNet.Tokenizer Reference(string name, string variant = "plain") =>
        s_reference.GetOrAdd(name + "/" + variant, _ => new Lazy<Tokenizers.DotNet.Tokenizer>(() =>
        {
            string path = Path.Combine(Path.GetTempPath(), $"seeksharp-hf-{name}-{variant}-{Environment.ProcessId}.json");
            File.WriteAllText(path, VariantJson(name, variant));
            try
            {
                return new Tokenizers.DotNet.Tokenizer(path); // reads the whole file here
            }
            finally
            {
                File.Delete(path);
            }
        })).Value;

    public static BpeTokenizer Ours(string name, string variant = "plain") =>
        s_ours.GetOrAdd(name + "/" + variant, _ => new Lazy<BpeTokenizer>(() =>
        {
            using var json = new MemoryStream(Encoding.UTF8.GetBytes(VariantJson(name, variant)));
            return BpeTokenizer.FromTokenizerJson(json);
        })).Value;

    public static int[] Encode(Tokenizers.DotNet.Tokenizer reference, string text) => Array.ConvertAll(reference.Encode(text), x => (int)x);

    public static string Escape(string s, int max = 160) =>
        string.Concat(s.Take(max).Select(c => c is < ' ' or > '~' ? $"\\u{(int)c:X4}" : c.ToString())) + (s.Length > max ? "..." : "");
}
