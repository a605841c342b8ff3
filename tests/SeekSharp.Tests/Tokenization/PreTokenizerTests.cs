using System.Text;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

public sealed class PreTokenizerTests
{
    [Fact]
    public void GeneratedRegexesAreTheTranslationsOfLlamaCppPatterns()
    {
        Assert.Equal(PreTokenizer.DeepseekV3MainPattern, CollapsedRegex.Translate(PreTokenizer.LlamaDeepseekV3Main));
        Assert.Equal(PreTokenizer.Qwen2Pattern, CollapsedRegex.Translate(PreTokenizer.LlamaQwen2));
        Assert.Equal(PreTokenizer.Number1To3Pattern, CollapsedRegex.Translate(PreTokenizer.LlamaNumber1To3));
        Assert.True(CollapsedRegex.UsesCategories(PreTokenizer.LlamaQwen2));
        Assert.False(CollapsedRegex.UsesCategories("[\r\n]"));
    }

    // The hand-written splitters must split exactly like the translated regexes (which are what llama.cpp runs).
    [Theory]
    [InlineData("qwen2")]
    [InlineData("deepseek-v3-main")]
    [InlineData("numbers-1-3")]
    public void FastSplittersMatchTheRegexReference(string which)
    {
        PreTokenizer.SplitStep fast, reference;
        switch (which)
        {
            case "qwen2":
                fast = PreTokenizer.FastSplit.Qwen2;
                reference = new PreTokenizer.RegexSplit(PreTokenizer.Qwen2Regex(), collapsed: true);
                break;
            case "deepseek-v3-main":
                fast = PreTokenizer.FastSplit.DeepseekV3;
                reference = new PreTokenizer.RegexSplit(PreTokenizer.DeepseekV3MainRegex(), collapsed: true);
                break;
            default:
                fast = new PreTokenizer.NumberGroupsSplit();
                reference = new PreTokenizer.RegexSplit(PreTokenizer.Number1To3Regex(), collapsed: true);
                break;
        }

        // every collapsed class: all of ASCII plus one code point of each non-ASCII kind, with the characters the
        // patterns single out drawn more often
        int[] alphabet = [.. Enumerable.Range(0, 128), 0xE9, 0x0661, 0x00AB, 0x0301, 0x20AC, 0x200D, 0x00A0, 0x0378, 0x2028, 0x3000];
        int[] favourites = [' ', ' ', '\r', '\n', '\t', '\'', 's', 'S', 't', 'r', 'e', 'E', 'v', 'l', 'L', 'm', 'd', '~', '1', 'a', '!', 0xE9, 0x0301, 0x00A0, 0x0661];
        var rng = new Random(12345);
        var text = new PreTokenizerText();
        var chunks = new List<int>();
        var expected = new List<int>();
        var actual = new List<int>();
        var sb = new StringBuilder();
        for (int iteration = 0; iteration < 60_000; iteration++)
        {
            sb.Clear();
            int length = rng.Next(1, 14);
            for (int i = 0; i < length; i++)
                sb.Append(char.ConvertFromUtf32(rng.Next(3) == 0 ? alphabet[rng.Next(alphabet.Length)] : favourites[rng.Next(favourites.Length)]));
            string s = sb.ToString();
            text.Load(s);
            // random chunking, as earlier steps would produce
            chunks.Clear();
            for (int left = text.Length; left > 0;)
            {
                int c = rng.Next(4) == 0 ? rng.Next(1, left + 1) : left;
                chunks.Add(c);
                left -= c;
            }
            expected.Clear();
            actual.Clear();
            reference.Split(text, chunks, expected);
            fast.Split(text, chunks, actual);
            Assert.True(expected.SequenceEqual(actual),
                $"{which}: {Conformance.Escape(s)} chunks [{string.Join(',', chunks)}]: regex [{string.Join(',', expected)}] vs fast [{string.Join(',', actual)}]");
        }
    }

    [Fact]
    public void UnknownPreTokenizerIsRejected()
    {
        Assert.Throws<NotSupportedException>(() => PreTokenizer.ForName("no-such-pre"));
        Assert.Same(PreTokenizer.ForName("qwen2"), PreTokenizer.ForName("deepseek-r1-qwen"));
        Assert.Same(PreTokenizer.ForName("default"), PreTokenizer.ForName(null));
        Assert.True(PreTokenizer.ForName("llama-bpe").IgnoreMerges);
        Assert.False(PreTokenizer.ForName("deepseek-v3").CleanSpaces);
    }

    [Fact]
    public void WordsCoverTheTextForEveryPreTokenizer()
    {
        var text = new PreTokenizerText();
        var words = new List<int>();
        var scratch = new List<int>();
        foreach (string pre in (string[])["deepseek-v3", "deepseek-llm", "deepseek-coder", "qwen2", "qwen35", "llama-bpe", "gpt-2", "default", "starcoder", "falcon", "dbrx"])
        {
            var p = PreTokenizer.ForName(pre);
            foreach (string s in TokenizerTestData.Texts.Concat(TokenizerTestData.RandomTexts(200, 99)))
            {
                text.Load(s);
                p.Split(text, words, scratch);
                Assert.All(words, w => Assert.True(w > 0));
                Assert.Equal(text.Length, words.Sum());
            }
        }
    }

    [Fact]
    public void DeepseekV3SplitsLikeItsTokenizerJsonDescribes()
    {
        // digits in threes, CJK runs apart, ASCII punctuation glued to a following ASCII word, marks stay with letters
        Assert.Equal(["123", "45", " ", "天安门", "abc", ".def", " e\u0301t\u00e9", "!!"],
            Split("deepseek-v3", "12345 天安门abc.def e\u0301t\u00e9!!"));
        Assert.Equal(["Hello", ",", " world", "\n\n", "x"], Split("deepseek-v3", "Hello, world\n\nx"));
        Assert.Equal(["It", "'s", " ok"], Split("qwen2", "It's ok"));
        Assert.Equal(["1", "2", "3"], Split("qwen2", "123"));
        Assert.Equal(["123", "4"], Split("llama-bpe", "1234"));
    }

    private static string[] Split(string pre, string s)
    {
        var text = new PreTokenizerText();
        text.Load(s);
        var words = new List<int>();
        PreTokenizer.ForName(pre).Split(text, words, new List<int>());
        var result = new List<string>();
        int cp = 0;
        foreach (int w in words)
        {
            result.Add(s[text.CharOffsets[cp]..text.CharOffsets[cp + w]]);
            cp += w;
        }
        return result.ToArray();
    }
}
