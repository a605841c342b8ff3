using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>The general category classes llama.cpp's pre-tokenizers distinguish (one per code point).</summary>
internal enum CodepointCategory : byte
{
    /// <summary>Outside any text (past the end of a chunk): matches no class at all.</summary>
    None = 0,
    Undefined = 1,
    Number = 2,
    Letter = 3,
    Separator = 4,
    Mark = 5,
    Punctuation = 6,
    Symbol = 7,
    Control = 8,
}

/// <summary>
/// Per-code-point category and whitespace flags exactly as llama.cpp's own Unicode tables have them. These are
/// not .NET's: llama.cpp was generated from a different Unicode version (so recently assigned code points differ),
/// and its whitespace set is its own (e.g. U+180E, U+200B and U+FEFF are not whitespace, U+0085 is).
/// </summary>
internal static partial class CodepointInfo
{
    public const int MaxCodepoint = 0x110000;
    public const byte CategoryMask = 0x0F;
    public const byte WhitespaceBit = 0x10;

    /// <summary>The character a code point becomes in llama.cpp's "collapsed" text that its std::regex fallbacks run on.</summary>
    public const char CollapsedWhitespace = '\v', CollapsedOther = '\u00D0', CollapsedNumber = '\u00D1', CollapsedLetter = '\u00D2',
        CollapsedPunctuation = '\u00D3', CollapsedMark = '\u00D4', CollapsedSymbol = '\u00D5';

    // One byte per code point (1.1 MB): category in the low nibble, WhitespaceBit above it. A flat table keeps the
    // hot pre-tokenizer loops to a single indexed load per code point.
    private static readonly byte[] s_table = BuildTable();

    public static ReadOnlySpan<byte> Table => s_table;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte Flags(int codepoint) => (uint)codepoint < MaxCodepoint ? s_table[codepoint] : (byte)CodepointCategory.Undefined;

    public static CodepointCategory Category(int codepoint) => (CodepointCategory)(Flags(codepoint) & CategoryMask);

    public static bool IsWhitespace(int codepoint) => (Flags(codepoint) & WhitespaceBit) != 0;

    /// <summary>What llama.cpp's unicode_regex_split puts in the collapsed text for this code point.</summary>
    public static char Collapse(int codepoint)
    {
        if (codepoint < 128)
            return (char)codepoint;
        byte f = Flags(codepoint);
        if ((f & WhitespaceBit) != 0)
            return CollapsedWhitespace;
        return (CodepointCategory)(f & CategoryMask) switch
        {
            CodepointCategory.Number => CollapsedNumber,
            CodepointCategory.Letter => CollapsedLetter,
            CodepointCategory.Punctuation => CollapsedPunctuation,
            CodepointCategory.Mark => CollapsedMark,
            CodepointCategory.Symbol => CollapsedSymbol,
            _ => CollapsedOther,
        };
    }

    /// <summary>llama.cpp's whitespace set (its unicode_set_whitespace).</summary>
    public static ReadOnlySpan<int> WhitespaceCodepoints =>
    [
        0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680,
        0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200A,
        0x2028, 0x2029, 0x202F, 0x205F, 0x3000,
    ];

    /// <summary>The ranges as (start, category) pairs, for tests that compare against llama.cpp.</summary>
    internal static IEnumerable<(int Start, CodepointCategory Category)> Ranges()
    {
        var table = RangeTable.ToArray();
        for (int i = 0; i < table.Length; i += 4)
            yield return (table[i] | table[i + 1] << 8 | table[i + 2] << 16, (CodepointCategory)table[i + 3]);
    }

    private static byte[] BuildTable()
    {
        var table = new byte[MaxCodepoint];
        ReadOnlySpan<byte> ranges = RangeTable;
        for (int i = 0; i < ranges.Length; i += 4)
        {
            int start = ranges[i] | ranges[i + 1] << 8 | ranges[i + 2] << 16;
            int end = i + 4 < ranges.Length ? ranges[i + 4] | ranges[i + 5] << 8 | ranges[i + 6] << 16 : MaxCodepoint;
            table.AsSpan(start, end - start).Fill(ranges[i + 3]);
        }
        foreach (int cp in WhitespaceCodepoints)
            table[cp] |= WhitespaceBit;
        return table;
    }
}
