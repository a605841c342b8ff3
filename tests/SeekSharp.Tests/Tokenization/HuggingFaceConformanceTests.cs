using System.Text;
using SeekSharp.Tokenization;
using Xunit.Abstractions;
using static SeekSharp.Tests.Tokenization.HuggingFaceReference;

namespace SeekSharp.Tests.Tokenization;

/// <summary>
/// Our tokenizer built from tokenizer.json (Hugging Face mode) against the Hugging Face tokenizers Rust crate on the
/// same file: identical ids for every text, identical decoded text for the reference's ids and for random id
/// sequences, with and without skipping special tokens.
/// </summary>
public class HuggingFaceConformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Vocabularies => new() { "deepseek-v3", "qwen3" };

    private static IEnumerable<string> AllTexts() =>
        HuggingFaceTestTexts.BrownChunks()
            .Concat(HuggingFaceTestTexts.Samples)
            .Concat(TokenizerTestData.Texts)
            .Concat(HuggingFaceTestTexts.Generated(2000, seed: 11))
            .Concat(TokenizerTestData.RandomTexts(3000, seed: 12, maxLength: 64));

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Encode_MatchesRustTokenizer(string name)
    {
        var reference = Reference(name);
        BpeTokenizer ours = Ours(name);
        long bytes = 0;
        int texts = 0, ids = 0;
        var failures = new List<string>();
        foreach (string text in AllTexts())
        {
            int[] expected = Encode(reference, text);
            int[] actual = ours.Encode(text);
            // these files' post-processor (ByteLevel) adds no tokens, so add_special_tokens changes nothing
            int[] withoutSpecial = ours.Encode(text, addSpecial: false);
            if (!expected.AsSpan().SequenceEqual(actual) || !expected.AsSpan().SequenceEqual(withoutSpecial))
                failures.Add($"{Escape(text)}\n  expected [{string.Join(",", expected)}]\n  actual   [{string.Join(",", actual)}]");
            bytes += Encoding.UTF8.GetByteCount(text);
            texts++;
            ids += expected.Length;
        }
        output.WriteLine($"{name}: {texts} texts, {bytes} UTF-8 bytes, {ids} ids, {failures.Count} mismatches");
        Assert.True(bytes >= 1_000_000, $"only {bytes} bytes checked");
        Assert.True(failures.Count == 0, $"{failures.Count} of {texts} texts differ:\n" + string.Join("\n", failures.Take(8)));
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Encode_EveryCodePoint_MatchesRustTokenizer(string name)
    {
        // Code points between letters, digits and spaces: catches differences between .NET's Unicode data and the
        // crate's (Oniguruma classes, NFC tables). All of the BMP and every code point .NET knows outside it; of the
        // uniform CJK ideograph planes (2, 3) and of the unassigned rest, a sample. 256 code points per call.
        // (A full sweep of all 1.1M code points in richer contexts was run once: no difference.)
        var reference = Reference(name);
        BpeTokenizer ours = Ours(name);
        var failures = new List<string>();
        var sb = new StringBuilder();
        var cps = new List<int>();
        for (int cp = 0x80; cp < 0x110000; cp++)
        {
            if (cp is >= 0xD800 and < 0xE000)
                continue;
            bool keep = cp < 0x10000
                || (System.Globalization.CharUnicodeInfo.GetUnicodeCategory(cp) != System.Globalization.UnicodeCategory.OtherNotAssigned
                    ? cp is < 0x20000 or >= 0x40000 || cp % 61 == 0
                    : cp % 97 == 0);
            if (keep)
                cps.Add(cp);
        }
        for (int k = 0; k < cps.Count; k += 256)
        {
            sb.Clear();
            foreach (int cp in cps.Skip(k).Take(256))
            {
                string c = char.ConvertFromUtf32(cp);
                sb.Append('a').Append(c).Append(c).Append(" 1").Append(c).Append('\n');
            }
            string text = sb.ToString();
            if (!Encode(reference, text).AsSpan().SequenceEqual(ours.Encode(text)))
                failures.Add($"U+{cps[k]:X4}..U+{cps[Math.Min(cps.Count, k + 256) - 1]:X4}");
        }
        output.WriteLine($"{name}: {cps.Count} code points");
        Assert.True(failures.Count == 0, $"{failures.Count} blocks differ: {string.Join(", ", failures.Take(20))}");
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Encode_LoneSurrogatesReadAsReplacementCharacter(string name)
    {
        // The crate takes UTF-8 and the wrapper refuses unpaired surrogates; we read each as U+FFFD, which is what
        // Encoding.UTF8 (and so any UTF-8 marshalling) makes of them.
        var reference = Reference(name);
        foreach (string text in HuggingFaceTestTexts.LoneSurrogates)
        {
            string replaced = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
            Assert.Equal(Encode(reference, replaced), Ours(name).Encode(text));
        }
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void Decode_MatchesRustTokenizer(string name)
    {
        var reference = Reference(name);
        var referenceKeepingSpecials = Reference(name, "nonspecial"); // its skip_special_tokens skips nothing
        BpeTokenizer ours = Ours(name);
        var failures = new List<string>();
        int sequences = 0;

        void Check(int[] ids)
        {
            uint[] u = Array.ConvertAll(ids, x => (uint)x);
            string skipped = reference.Decode(u), kept = referenceKeepingSpecials.Decode(u);
            string oursSkipped = ours.Decode(ids, renderSpecial: false), oursKept = ours.Decode(ids, renderSpecial: true);
            if (skipped != oursSkipped)
                failures.Add($"skip [{string.Join(",", ids.Take(40))}]\n  expected {Escape(skipped)}\n  actual   {Escape(oursSkipped)}");
            if (kept != oursKept)
                failures.Add($"keep [{string.Join(",", ids.Take(40))}]\n  expected {Escape(kept)}\n  actual   {Escape(oursKept)}");
            sequences++;
        }

        // the reference's own ids of a sample of the texts
        foreach (string text in HuggingFaceTestTexts.Samples.Concat(TokenizerTestData.Texts).Concat(HuggingFaceTestTexts.Generated(500, seed: 21))
                     .Concat(HuggingFaceTestTexts.BrownChunks(2048).Take(20)))
            Check(Encode(reference, text));

        // random id sequences: any id (also past the end), with special tokens and single-byte tokens mixed in
        var rng = new Random(22);
        int n = ours.VocabSize;
        int[] specials = Enumerable.Range(0, n).Where(i => ours.TokenText(i).StartsWith('<') && ours.TokenText(i).EndsWith('>')).ToArray();
        int[] bytes = Enumerable.Range(0, 256).Select(b => ours.TokenId(ByteLevelString((byte)b))).Where(i => i >= 0).ToArray();
        for (int k = 0; k < 3000; k++)
        {
            var ids = new int[rng.Next(0, 24)];
            for (int i = 0; i < ids.Length; i++)
            {
                double r = rng.NextDouble();
                ids[i] = r < 0.2 ? specials[rng.Next(specials.Length)] : r < 0.5 ? bytes[rng.Next(bytes.Length)] : r < 0.52 ? n + rng.Next(4) : rng.Next(n);
            }
            Check(ids);
        }
        output.WriteLine($"{name}: {sequences} id sequences decoded two ways, {failures.Count} mismatches");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(8)));
    }

    [Theory]
    [MemberData(nameof(Vocabularies))]
    public void TemplateProcessing_AddsTheSameSpecialTokens(string name)
    {
        var reference = Reference(name, "template");
        var plain = Reference(name);
        BpeTokenizer ours = Ours(name, "template");
        foreach (string text in HuggingFaceTestTexts.Samples.Concat(TokenizerTestData.Texts))
        {
            Assert.Equal(Encode(reference, text), ours.Encode(text));
            Assert.Equal(Encode(plain, text), ours.Encode(text, addSpecial: false));
        }
    }

    public static TheoryData<string, string> Variants()
    {
        var data = new TheoryData<string, string>();
        foreach (string v in (string[])["llama3", "gpt2", "behaviours", "normalizers", "addedflags"])
        {
            data.Add("qwen3", v);
            data.Add("deepseek-v3", v);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void EditedTokenizerJson_MatchesRustTokenizer(string name, string variant)
    {
        // the same vocabulary under other pre-tokenizers, normalizers and added-token flags (see VariantJson)
        var reference = Reference(name, variant);
        BpeTokenizer ours = Ours(name, variant);
        var failures = new List<string>();
        int texts = 0;
        var extra = new[] { "  <|im_start|>  x <|im_end|>  y", "a<think>b <think> c</THINK> D </think>", " <｜User｜> a <｜Assistant｜> b<｜tool▁sep｜>c <｜tool▁sep｜> <｜FIM▁HOLE｜>", "ΟΔΟΣ ΣΑΣ Σ. İstanbul ẞ ǅ Ⅻ ＡＢＣ" };
        var plain = Reference(name);
        int differentFromPlain = 0;
        foreach (string text in HuggingFaceTestTexts.Samples.Concat(TokenizerTestData.Texts).Concat(extra)
                     .Concat(HuggingFaceTestTexts.Generated(300, seed: 31)).Concat(TokenizerTestData.RandomTexts(300, seed: 32, maxLength: 64)))
        {
            int[] expected = Encode(reference, text), actual = ours.Encode(text);
            if (!expected.AsSpan().SequenceEqual(actual))
                failures.Add($"{Escape(text)}\n  expected [{string.Join(",", expected)}]\n  actual   [{string.Join(",", actual)}]");
            if (!expected.AsSpan().SequenceEqual(Encode(plain, text)))
                differentFromPlain++;
            texts++;
        }
        Assert.True(differentFromPlain > 0, "the edit changed nothing");
        Assert.True(failures.Count == 0, $"{failures.Count} of {texts} texts differ:\n" + string.Join("\n", failures.Take(6)));
    }

    [Fact]
    public void TokenizerConfig_LlamaStyleClassAddsBos()
    {
        // DeepSeek-V3's tokenizer_config.json says LlamaTokenizerFast with add_bos_token: transformers then prepends BOS
        string dir = Path.Combine(TokenizerTestData.Directory, "deepseek-v3");
        using var json = new MemoryStream(Encoding.UTF8.GetBytes(Json("deepseek-v3")));
        using var config = new System.IO.Compression.GZipStream(File.OpenRead(Path.Combine(dir, "tokenizer_config.json.gz")),
            System.IO.Compression.CompressionMode.Decompress);
        BpeTokenizer ours = BpeTokenizer.FromTokenizerJson(json, config);
        int[] plain = Encode(Reference("deepseek-v3"), "Hello world");
        Assert.Equal([0, .. plain], ours.Encode("Hello world"));
        Assert.Equal(plain, ours.Encode("Hello world", addSpecial: false));
        Assert.Equal(0, ours.Vocabulary.BosId);
        Assert.Equal(1, ours.Vocabulary.EosId);
        Assert.True(ours.IsHuggingFace);
    }

    [Fact]
    public void Encode_IsThreadSafe()
    {
        BpeTokenizer ours = Ours("qwen3");
        string[] texts = [.. HuggingFaceTestTexts.Generated(400, seed: 41), .. HuggingFaceTestTexts.Samples];
        int[][] expected = texts.Select(t => ours.Encode(t)).ToArray();
        var results = new int[texts.Length][];
        Parallel.For(0, texts.Length * 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i =>
        {
            int k = i % texts.Length;
            int[] ids = ours.Encode(texts[k]);
            if (!ids.AsSpan().SequenceEqual(expected[k]))
                results[k] = ids;
        });
        Assert.All(results, r => Assert.Null(r));
    }

    [Fact]
    public void ParseSpecialFalse_LeavesSpecialTokensAsText()
    {
        BpeTokenizer ours = Ours("qwen3");
        int imEnd = ours.TokenId("<|im_end|>");
        Assert.Equal([imEnd], ours.Encode("<|im_end|>"));
        int[] ids = ours.Encode("<|im_end|><think>", parseSpecial: false);
        Assert.DoesNotContain(imEnd, ids);
        Assert.Equal(ours.TokenId("<think>"), ids[^1]); // non-special added tokens are still matched
        Assert.Equal("<|im_end|><think>", ours.Decode(ids));
    }

    [Fact]
    public void Normalization_MatchesUnicodeNfc()
    {
        // .NET's string.Normalize is a no-op here (InvariantGlobalization); ours must compose and reorder
        Assert.Equal("\u00E9", HfNormalization.Normalize("e\u0301", NormalizationForm.FormC));
        Assert.Equal("\uAC01", HfNormalization.Normalize("\u1100\u1161\u11A8", NormalizationForm.FormC));
        Assert.Equal("\u1E0D\u0307", HfNormalization.Normalize("\u1E0B\u0323", NormalizationForm.FormC)); // reordering
        Assert.Equal("\u0915\u093C", HfNormalization.Normalize("\u0958", NormalizationForm.FormC)); // composition exclusion
        Assert.Equal("e\u0301", HfNormalization.Normalize("\u00E9", NormalizationForm.FormD));
        Assert.Equal("ffi 1", HfNormalization.Normalize("\uFB03 \u2460", NormalizationForm.FormKC));
        string ascii = "plain ASCII";
        Assert.Same(ascii, HfNormalization.Normalize(ascii, NormalizationForm.FormC));
    }

    private static string ByteLevelString(byte b) => ByteLevel.Encode([b]);
}
