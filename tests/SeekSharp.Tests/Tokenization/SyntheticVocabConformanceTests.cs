using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>
/// Small hand-made vocabularies that reach the paths real ones rarely do (merge results missing from the vocabulary,
/// byte / unused / unknown / user-defined token types, user-defined text with spaces, ignore_merges), checked against llama.cpp.
/// </summary>
public sealed class SyntheticVocabConformanceTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "seeksharp-tok-syn-" + Guid.NewGuid().ToString("N"));

    private static Vocabulary Make(string pre)
    {
        var tokens = new List<string>();
        var types = new List<TokenType>();
        void Add(string t, TokenType type = TokenType.Normal) { tokens.Add(t); types.Add(type); }
        for (char c = 'a'; c <= 'z'; c++) Add(c.ToString());
        foreach (string t in (string[])["Ġ", "Ċ", "!", ".", "'", "1", "2", "ab", "Ġa", "ĠĠ", "abc", "Ġab", "ll", "he", "hell", "Ġworld"])
            Add(t);
        Add("<|x|>", TokenType.Control);
        Add("<user>", TokenType.UserDefined);
        Add("hello world", TokenType.UserDefined);
        Add("<0x41>", TokenType.Byte);
        Add("[PAD50]", TokenType.Unused);
        Add("<unk>", TokenType.Unknown);
        Add("<|endoftext|>", TokenType.Normal); // llama.cpp forces control type on it (end-of-generation text)
        Add("helloworld");                         // a whole word for ignore_merges, not reachable by merges
        Add("Ã©");                                 // "é" as bytes
        return new Vocabulary
        {
            Tokens = tokens.ToArray(),
            TokenTypes = types.ToArray(),
            // "a b" -> ab; "ab c" -> abc; "Ġ ab" -> Ġab; "h e" -> he; "l l" -> ll; "he ll" -> hell;
            // "hell o" -> "hello" (not a token); "Ġ w" -> "Ġw" (not a token); "Ġ Ġ" -> ĠĠ; "Ã ©" -> Ã©
            Merges = ["a b", "ab c", "Ġ ab", "h e", "l l", "he ll", "hell o", "Ġ w", "Ġ Ġ", "Ã ©", "Ġ a"],
            PreTokenizer = pre,
            BosId = 0,
            EosId = 1,
            AddBos = pre == "llama-bpe",
        };
    }

    [Theory]
    [InlineData("gpt-2")]
    [InlineData("llama-bpe")]
    [InlineData("qwen2")]
    [InlineData("deepseek-v3")]
    public void MatchesLlamaCpp(string pre)
    {
        Vocabulary v = Make(pre);
        var ours = new BpeTokenizer(v);
        using var reference = new LlamaCppVocab(v, _directory);
        string[] texts =
        [
            "abc", "ab", "cab", " ab", " abc", "hello", "hello world", "helloworld", " helloworld", "hell o",
            "  a", "   ", "a<|x|>b", "<user>x", "x<unk>y", "say hello world!", "<0x41>", "[PAD50]", "<|endoftext|>",
            "é", " é", "ééé", "A B C", "it's 12 o'clock.\n", "Ā", "hello world hello world",
        ];
        Conformance.AssertSameTokens(ours, reference, texts.Concat(TokenizerTestData.RandomTexts(200, 77, maxLength: 20)), pre);
        ConformanceChecks.AssertSamePiecesAndEog(ours, reference);
        for (int i = 0; i < v.Tokens.Length; i++)
        {
            int[] ids = [i, (i * 7) % v.Tokens.Length, 0, 1];
            foreach (bool render in (ReadOnlySpan<bool>)[true, false])
                Assert.Equal(reference.Detokenize(ids, removeSpecial: false, unparseSpecial: render), ours.DecodeToBytes(ids, render));
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
    }
}
