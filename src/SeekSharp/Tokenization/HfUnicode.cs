using System.Globalization;
using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>
/// Unicode properties as the Hugging Face tokenizers crate sees them (Oniguruma for Split regexes, Rust's char
/// methods elsewhere), and the one-char-per-code-point "stand-in" text that lets .NET's UTF-16 regex engine run
/// those regexes: a code point outside the BMP (which .NET would see as two surrogates, matching no \p{..} class)
/// becomes a BMP character of the same general category. .NET's Unicode data agrees with the reference's on every
/// code point (checked by sweeping all of them through both; a table from Unicode 14.0 did not: the reference knows
/// Unicode 15's Kaktovik numerals).
/// </summary>
internal static class HfUnicode
{
    // One BMP representative per UnicodeCategory, chosen outside the explicit ranges tokenizer regexes use
    // (ASCII, CJK, kana): the stand-in must only carry the category.
    private static readonly char[] s_representative = BuildRepresentatives();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static UnicodeCategory Category(int cp) =>
        cp < 0x10000 ? CharUnicodeInfo.GetUnicodeCategory((char)cp) : CharUnicodeInfo.GetUnicodeCategory(cp);

    /// <summary>The char the regex sees for <paramref name="cp"/>: itself in the BMP, else a BMP char of its category.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static char StandIn(int cp) =>
        cp < 0x10000 ? (char)cp : s_representative[(int)CharUnicodeInfo.GetUnicodeCategory(cp)];

    /// <summary>Unicode White_Space (Rust's char::is_whitespace, Oniguruma's \s).</summary>
    public static bool IsWhiteSpace(int cp) => cp switch
    {
        >= 0x09 and <= 0x0D or 0x20 or 0x85 or 0xA0 or 0x1680 or (>= 0x2000 and <= 0x200A) or 0x2028 or 0x2029 or 0x202F
            or 0x205F or 0x3000 => true,
        _ => false,
    };

    /// <summary>Rust's char::is_numeric (Nd, Nl, No).</summary>
    public static bool IsNumeric(int cp) => cp < 0x80 ? cp is >= '0' and <= '9'
        : Category(cp) is UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber;

    /// <summary>The regex crate's \w (approximated by general category: letters, marks, Nd, Pc).</summary>
    public static bool IsWordChar(int cp) => Category(cp) switch
    {
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
            or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter or UnicodeCategory.NonSpacingMark
            or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark or UnicodeCategory.DecimalDigitNumber
            or UnicodeCategory.LetterNumber or UnicodeCategory.ConnectorPunctuation => true,
        _ => cp is 0x200C or 0x200D,
    };

    private static char[] BuildRepresentatives()
    {
        var r = new char[30];
        r[(int)UnicodeCategory.UppercaseLetter] = '\uA640';
        r[(int)UnicodeCategory.LowercaseLetter] = '\uA641';
        r[(int)UnicodeCategory.TitlecaseLetter] = '\u01C5';
        r[(int)UnicodeCategory.ModifierLetter] = '\u02B0';
        r[(int)UnicodeCategory.OtherLetter] = '\uA000';
        r[(int)UnicodeCategory.NonSpacingMark] = '\u0300';
        r[(int)UnicodeCategory.SpacingCombiningMark] = '\u0903';
        r[(int)UnicodeCategory.EnclosingMark] = '\u20DD';
        r[(int)UnicodeCategory.DecimalDigitNumber] = '\u0660';
        r[(int)UnicodeCategory.LetterNumber] = '\u2160';
        r[(int)UnicodeCategory.OtherNumber] = '\u00B2';
        r[(int)UnicodeCategory.SpaceSeparator] = '\u2000';
        r[(int)UnicodeCategory.LineSeparator] = '\u2028';
        r[(int)UnicodeCategory.ParagraphSeparator] = '\u2029';
        r[(int)UnicodeCategory.Control] = '\u0080';
        r[(int)UnicodeCategory.Format] = '\u200B';
        r[(int)UnicodeCategory.Surrogate] = '\uFFFD';
        r[(int)UnicodeCategory.PrivateUse] = '\uE000';
        r[(int)UnicodeCategory.ConnectorPunctuation] = '\u203F';
        r[(int)UnicodeCategory.DashPunctuation] = '\u2010';
        r[(int)UnicodeCategory.OpenPunctuation] = '\u2045';
        r[(int)UnicodeCategory.ClosePunctuation] = '\u2046';
        r[(int)UnicodeCategory.InitialQuotePunctuation] = '\u2039';
        r[(int)UnicodeCategory.FinalQuotePunctuation] = '\u203A';
        r[(int)UnicodeCategory.OtherPunctuation] = '\u2049';
        r[(int)UnicodeCategory.MathSymbol] = '\u2200';
        r[(int)UnicodeCategory.CurrencySymbol] = '\u20AC';
        r[(int)UnicodeCategory.ModifierSymbol] = '\u02C2';
        r[(int)UnicodeCategory.OtherSymbol] = '\u2100';
        r[(int)UnicodeCategory.OtherNotAssigned] = '\u0378';
        return r;
    }
}
