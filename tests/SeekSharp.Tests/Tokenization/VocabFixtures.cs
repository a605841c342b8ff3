using System.Text;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

/// <summary>
/// One real vocabulary, loaded once per test class, with our tokenizer and llama.cpp's for each pre-tokenizer name
/// the tests ask for (created on first use).
/// </summary>
public abstract class VocabFixture : IDisposable
{
    private readonly Dictionary<string, (BpeTokenizer, LlamaCppVocab)> _byPre = new();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "seeksharp-tok-" + Guid.NewGuid().ToString("N"));

    protected VocabFixture(string name)
    {
        Name = name;
        Vocabulary = TokenizerTestData.Vocabulary(name);
    }

    public string Name { get; }

    public Vocabulary Vocabulary { get; }

    internal (BpeTokenizer Ours, LlamaCppVocab Reference) Get(string pre)
    {
        lock (_byPre)
        {
            if (!_byPre.TryGetValue(pre, out var pair))
            {
                bool native = pre == Vocabulary.PreTokenizer;
                Vocabulary v = native ? Vocabulary : TokenizerTestData.WithPreTokenizer(Vocabulary, pre);
                pair = (native ? TokenizerTestData.Tokenizer(Name) : new BpeTokenizer(v), new LlamaCppVocab(v, _directory));
                _byPre[pre] = pair;
            }
            return pair;
        }
    }

    public void Dispose()
    {
        foreach (var (_, reference) in _byPre.Values)
            reference.Dispose();
        try { Directory.Delete(_directory, recursive: true); } catch (IOException) { }
        GC.SuppressFinalize(this);
    }
}

public sealed class DeepSeekV3VocabFixture() : VocabFixture("deepseek-v3");

public sealed class Qwen3VocabFixture() : VocabFixture("qwen3");

internal static class Conformance
{
    /// <summary>Encodes every text with both tokenizers (all add/parse-special combinations); fails listing the differences.</summary>
    public static void AssertSameTokens(BpeTokenizer ours, LlamaCppVocab reference, IEnumerable<string> texts, string label)
    {
        var failures = new StringBuilder();
        int count = 0, failed = 0;
        foreach (string text in texts)
        {
            foreach (bool parseSpecial in (ReadOnlySpan<bool>)[true, false])
            {
                foreach (bool addSpecial in (ReadOnlySpan<bool>)[true, false])
                {
                    count++;
                    int[] expected = reference.Tokenize(text, addSpecial, parseSpecial);
                    int[] actual = ours.Encode(text, addSpecial, parseSpecial);
                    if (expected.AsSpan().SequenceEqual(actual))
                        continue;
                    if (++failed <= 12)
                    {
                        failures.Append($"\n[{label} add={addSpecial} parse={parseSpecial}] {Escape(text)}\n")
                            .Append($"  llama.cpp: {string.Join(' ', expected)}\n  ours:      {string.Join(' ', actual)}\n");
                    }
                }
            }
        }
        Assert.True(failed == 0, $"{failed} of {count} encodings differ from llama.cpp:{failures}");
    }

    public static string Escape(string s)
    {
        var sb = new StringBuilder("\"");
        foreach (Rune r in s.EnumerateRunes())
        {
            if (r.Value is >= 0x20 and < 0x7F && r.Value != '"' && r.Value != '\\')
                sb.Append((char)r.Value);
            else if (r.Value is >= 0xA0 and not (>= 0x2000 and <= 0x206F) and not 0x3000 and not 0xFEFF && Rune.GetUnicodeCategory(r) is not System.Globalization.UnicodeCategory.NonSpacingMark)
                sb.Append(r.ToString());
            else
                sb.Append(r.Value <= 0xFFFF ? $"\\u{r.Value:X4}" : $"\\U{r.Value:X8}");
        }
        return sb.Append('"').ToString();
    }
}
