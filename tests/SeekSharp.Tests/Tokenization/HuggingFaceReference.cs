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
            return new Tokenizers.DotNet.Tokenizer(path);
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
