using System.Buffers;
using System.Text;

namespace SeekSharp.Tokenization;

/// <summary>One entry of tokenizer.json's added_tokens.</summary>
internal sealed record HfAddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord);

/// <summary>
/// The Hugging Face tokenizers crate's AddedVocabulary matching: leftmost-longest occurrences of the added tokens
/// (Aho-Corasick with MatchKind::LeftmostLongest), then the single_word / lstrip / rstrip adjustments applied to each
/// match in order, exactly as its find_matches does (a match rejected by single_word is skipped, not retried shorter).
/// </summary>
internal sealed class HfAddedMatcher
{
    private readonly HfAddedToken[] _tokens;
    private readonly string[] _patterns;                 // what is matched (normalized content for normalized tokens)
    private readonly Dictionary<char, int[]> _byFirst;   // first char -> pattern indices, longest first
    private readonly SearchValues<char> _firstChars;

    public HfAddedMatcher(IReadOnlyList<(HfAddedToken Token, string Pattern)> entries)
    {
        var usable = entries.Where(e => e.Pattern.Length > 0).ToArray();
        _tokens = usable.Select(e => e.Token).ToArray();
        _patterns = usable.Select(e => e.Pattern).ToArray();
        _byFirst = Enumerable.Range(0, _patterns.Length)
            .GroupBy(i => _patterns[i][0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(i => Encoding.UTF8.GetByteCount(_patterns[i])).ThenBy(i => i).ToArray());
        _firstChars = SearchValues.Create([.. _byFirst.Keys]);
    }

    public bool IsEmpty => _patterns.Length == 0;

    /// <summary>Splits <paramref name="text"/>: appends (start, length, token id or -1) covering it to <paramref name="output"/>.</summary>
    /// <param name="skipSpecial">Special tokens are not matched (the crate's encode_special_tokens).</param>
    public void Split(ReadOnlySpan<char> text, int offset, bool skipSpecial, List<(int Start, int Length, int Id)> output)
    {
        int startOffset = 0;
        int pos = 0;
        while (pos < text.Length)
        {
            int hit = text[pos..].IndexOfAny(_firstChars);
            if (hit < 0)
                break;
            pos += hit;
            int best = -1;
            foreach (int k in _byFirst[text[pos]])
            {
                if (text[pos..].StartsWith(_patterns[k], StringComparison.Ordinal))
                {
                    best = k;
                    break; // longest first
                }
            }
            if (best < 0)
            {
                pos++;
                continue;
            }
            int start = pos, stop = pos + _patterns[best].Length;
            pos = stop;
            HfAddedToken token = _tokens[best];
            if (skipSpecial && token.Special)
                continue;
            if (token.SingleWord)
            {
                bool startSpace = start == 0 || !EndsWithWord(text[..start]);
                bool stopSpace = stop == text.Length || !StartsWithWord(text[stop..]);
                if (!startSpace || !stopSpace)
                    continue;
            }
            if (token.LStrip)
            {
                int s = start;
                while (s > 0 && IsSpaceBefore(text, s, out int w))
                    s -= w;
                start = Math.Max(s, startOffset);
            }
            if (token.RStrip)
            {
                while (stop < text.Length && IsSpaceAt(text, stop, out int w))
                    stop += w;
            }
            if (startOffset < start)
                output.Add((offset + startOffset, start - startOffset, -1));
            output.Add((offset + start, stop - start, token.Id));
            startOffset = stop;
        }
        if (startOffset < text.Length)
            output.Add((offset + startOffset, text.Length - startOffset, -1));
    }

    private static bool IsSpaceAt(ReadOnlySpan<char> text, int i, out int width)
    {
        Rune.DecodeFromUtf16(text[i..], out Rune r, out width);
        return HfUnicode.IsWhiteSpace(r.Value);
    }

    private static bool IsSpaceBefore(ReadOnlySpan<char> text, int i, out int width)
    {
        Rune.DecodeLastFromUtf16(text[..i], out Rune r, out width);
        return HfUnicode.IsWhiteSpace(r.Value);
    }

    // the regex crate's \w: alphabetic, marks, decimal digits, connector punctuation, join controls
    private static bool StartsWithWord(ReadOnlySpan<char> s)
    {
        Rune.DecodeFromUtf16(s, out Rune r, out _);
        return HfUnicode.IsWordChar(r.Value);
    }

    private static bool EndsWithWord(ReadOnlySpan<char> s)
    {
        Rune.DecodeLastFromUtf16(s, out Rune r, out _);
        return HfUnicode.IsWordChar(r.Value);
    }
}
