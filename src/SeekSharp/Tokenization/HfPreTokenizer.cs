using System.Text.RegularExpressions;

namespace SeekSharp.Tokenization;

/// <summary>How a Split pre-tokenizer treats the matches (the crate's SplitDelimiterBehavior).</summary>
internal enum HfSplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous }

/// <summary>
/// tokenizer.json's pre_tokenizer, with the semantics of the Hugging Face tokenizers crate: a sequence of steps, each
/// splitting every piece the previous step produced. Pieces are code-point ranges of one text segment.
/// </summary>
internal sealed class HfPreTokenizer
{
    private readonly Step[] _steps;

    public HfPreTokenizer(Step[] steps) => _steps = steps;

    /// <summary>Splits the loaded text into pieces (code-point ranges, in order, non-empty).</summary>
    public void Split(HfText text, List<(int Start, int Length)> pieces, List<(int Start, int Length)> scratch)
    {
        pieces.Clear();
        if (text.Length == 0)
            return;
        pieces.Add((0, text.Length));
        foreach (Step step in _steps)
        {
            if (step is PrefixSpaceStep)
            {
                PrependSpaces(text, pieces);
                continue;
            }
            scratch.Clear();
            foreach (var (start, length) in pieces)
                step.SplitPiece(text, start, start + length, scratch);
            pieces.Clear();
            pieces.AddRange(scratch);
        }
    }

    // ByteLevel's add_prefix_space: every piece not starting with ' ' gets one; the text is rebuilt with the spaces in.
    private static void PrependSpaces(HfText text, List<(int Start, int Length)> pieces)
    {
        var sb = new System.Text.StringBuilder(text.Chars.Length + pieces.Count);
        ReadOnlySpan<int> offsets = text.Offsets;
        var cpStarts = new List<int>(pieces.Count);
        int cp = 0;
        foreach (var (start, length) in pieces)
        {
            bool space = text.Codepoints[start] == ' ';
            cpStarts.Add(cp);
            if (!space)
            {
                sb.Append(' ');
                cp++;
            }
            sb.Append(text.Chars[offsets[start]..offsets[start + length]]);
            cp += length;
        }
        for (int i = 0; i < pieces.Count; i++)
        {
            int length = pieces[i].Length + (text.Codepoints[pieces[i].Start] == ' ' ? 0 : 1);
            pieces[i] = (cpStarts[i], length);
        }
        text.Load(sb.ToString());
    }

    /// <summary>Marks where ByteLevel's add_prefix_space applies (handled by <see cref="Split"/>).</summary>
    internal sealed class PrefixSpaceStep : Step
    {
        public override void SplitPiece(HfText text, int start, int end, List<(int Start, int Length)> output) =>
            throw new InvalidOperationException();
    }

    internal abstract class Step
    {
        /// <summary>Appends the non-empty pieces [start, end) splits into.</summary>
        public abstract void SplitPiece(HfText text, int start, int end, List<(int Start, int Length)> output);
    }

    /// <summary>Split with a pattern: matches and the gaps between them, combined per behaviour (NormalizedString::split).</summary>
    internal abstract class MatchStep(HfSplitBehavior behavior, bool invert) : Step
    {
        [ThreadStatic] private static List<(int Start, int End, bool IsMatch)>? t_matches, t_all;
        [ThreadStatic] private static List<(int Start, int End)>? t_merged;

        public HfSplitBehavior Behavior => behavior;

        /// <summary>Appends the matches (code-point ranges, absolute) inside [start, end), in order.</summary>
        protected abstract void FindMatches(HfText text, int start, int end, List<(int Start, int End, bool IsMatch)> matches);

        public override void SplitPiece(HfText text, int start, int end, List<(int Start, int Length)> output)
        {
            var found = t_matches ??= new();
            found.Clear();
            FindMatches(text, start, end, found);
            if (found.Count == 0)
            {
                if (!(behavior == HfSplitBehavior.Removed && invert))
                    output.Add((start, end - start)); // else the whole piece is a "match" and is removed
                return;
            }
            if (behavior == HfSplitBehavior.Isolated)
            {
                // the common case: every match and every gap is a piece; no need to materialise the gaps
                int at = start;
                foreach (var m in found)
                {
                    Emit(output, at, m.Start);
                    Emit(output, m.Start, m.End);
                    at = m.End;
                }
                Emit(output, at, end);
                return;
            }

            // interleave the gaps (Pattern::find_matches), flags inverted with invert
            var all = t_all ??= new();
            all.Clear();
            int prev = start;
            foreach (var m in found)
            {
                if (prev != m.Start)
                    all.Add((prev, m.Start, invert));
                all.Add((m.Start, m.End, !invert));
                prev = m.End;
            }
            if (prev != end)
                all.Add((prev, end, invert));

            if (behavior == HfSplitBehavior.Removed)
            {
                foreach (var p in all)
                {
                    if (!p.IsMatch)
                        Emit(output, p.Start, p.End);
                }
                return;
            }

            var merged = t_merged ??= new();
            merged.Clear();
            bool previousMatch = false;
            if (behavior == HfSplitBehavior.MergedWithNext)
            {
                for (int i = all.Count - 1; i >= 0; i--)
                {
                    var p = all[i];
                    if (p.IsMatch && !previousMatch && merged.Count > 0)
                        merged[^1] = (p.Start, merged[^1].End);
                    else
                        merged.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
                merged.Reverse();
            }
            else
            {
                foreach (var p in all)
                {
                    bool join = behavior == HfSplitBehavior.MergedWithPrevious ? p.IsMatch && !previousMatch : p.IsMatch == previousMatch;
                    if (join && merged.Count > 0)
                        merged[^1] = (merged[^1].Start, p.End);
                    else
                        merged.Add((p.Start, p.End));
                    previousMatch = p.IsMatch;
                }
            }
            foreach (var (s, e) in merged)
                Emit(output, s, e);
        }

        private static void Emit(List<(int Start, int Length)> output, int start, int end)
        {
            if (end > start)
                output.Add((start, end - start));
        }
    }

    /// <summary>A regex run (like Oniguruma) on the stand-in text: one char per code point, see <see cref="HfUnicode"/>.</summary>
    internal sealed class RegexStep(Regex regex, string pattern, HfSplitBehavior behavior, bool invert) : MatchStep(behavior, invert)
    {
        public string Pattern => pattern;

        protected override void FindMatches(HfText text, int start, int end, List<(int Start, int End, bool IsMatch)> matches)
        {
            ReadOnlySpan<char> chunk = text.StandIn[start..end];
            foreach (ValueMatch m in regex.EnumerateMatches(chunk))
                matches.Add((start + m.Index, start + m.Index + m.Length, true));
        }
    }

    /// <summary>A literal string pattern (non-overlapping occurrences, leftmost first).</summary>
    internal sealed class StringStep(string literal, HfSplitBehavior behavior, bool invert) : MatchStep(behavior, invert)
    {
        private readonly int[] _codepoints = literal.EnumerateRunes().Select(r => r.Value).ToArray();

        protected override void FindMatches(HfText text, int start, int end, List<(int Start, int End, bool IsMatch)> matches)
        {
            if (_codepoints.Length == 0)
                return;
            ReadOnlySpan<int> cps = text.Codepoints;
            int i = start;
            while (i + _codepoints.Length <= end)
            {
                int hit = cps[i..end].IndexOf(_codepoints);
                if (hit < 0)
                    break;
                i += hit;
                matches.Add((i, i + _codepoints.Length, true));
                i += _codepoints.Length;
            }
        }
    }

    /// <summary>Each code point for which <paramref name="predicate"/> holds is a match of its own (a char pattern).</summary>
    internal sealed class CharStep(Func<int, bool> predicate, HfSplitBehavior behavior, bool invert) : MatchStep(behavior, invert)
    {
        protected override void FindMatches(HfText text, int start, int end, List<(int Start, int End, bool IsMatch)> matches)
        {
            ReadOnlySpan<int> cps = text.Codepoints;
            for (int i = start; i < end; i++)
            {
                if (predicate(cps[i]))
                    matches.Add((i, i + 1, true));
            }
        }
    }
}

/// <summary>One text segment prepared for pre-tokenization: code points, UTF-16 offsets, and the regex stand-in view.</summary>
internal sealed class HfText
{
    private char[] _chars = new char[256];
    private int[] _codepoints = new int[256];
    private int[] _offsets = new int[257];
    private char[] _standIn = new char[256];
    private bool _standInValid;

    public int Length { get; private set; }

    /// <summary>The text (UTF-16).</summary>
    public ReadOnlySpan<char> Chars => _chars.AsSpan(0, _offsets[Length]);

    public ReadOnlySpan<int> Codepoints => _codepoints.AsSpan(0, Length);

    /// <summary>UTF-16 offset of each code point (Length + 1 entries).</summary>
    public ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, Length + 1);

    public ReadOnlySpan<char> StandIn
    {
        get
        {
            if (!_standInValid)
            {
                for (int i = 0; i < Length; i++)
                {
                    int cp = _codepoints[i];
                    _standIn[i] = cp < 0x80 ? (char)cp : HfUnicode.StandIn(cp);
                }
                _standInValid = true;
            }
            return _standIn.AsSpan(0, Length);
        }
    }

    /// <summary>Loads valid UTF-16 (no lone surrogates).</summary>
    public void Load(ReadOnlySpan<char> text)
    {
        if (_codepoints.Length < text.Length)
        {
            int size = Math.Max(text.Length, _codepoints.Length * 2);
            _chars = new char[size];
            _codepoints = new int[size];
            _offsets = new int[size + 1];
            _standIn = new char[size];
        }
        text.CopyTo(_chars);
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            _offsets[n] = i;
            if (char.IsHighSurrogate((char)cp) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cp = char.ConvertToUtf32((char)cp, text[i + 1]);
                i++;
            }
            _codepoints[n++] = cp;
        }
        _offsets[n] = text.Length;
        Length = n;
        _standInValid = false;
    }
}
