using System.Text;

namespace SeekSharp.Tokenization;

/// <summary>
/// Rewrites a pre-tokenizer regex that uses Unicode categories the way llama.cpp does before handing it to
/// std::regex: the text is "collapsed" to one char per code point (ASCII kept, other code points replaced by one
/// marker char per category, see <see cref="CodepointInfo.Collapse"/>), and each \p{X} becomes a class of that
/// marker plus the ASCII members llama.cpp lists for X. The result is a .NET pattern over the collapsed text that
/// splits exactly like llama.cpp (including its quirks, e.g. ASCII '~' is neither \p{P} nor \p{S} there).
/// </summary>
internal static class CollapsedRegex
{
    // llama.cpp's ASCII members of each category, written as .NET class content.
    private const string AsciiNumber = "0-9";
    private const string AsciiLetter = "A-Za-z";
    private const string AsciiPunctuation = @"!-#%-*,-/:-;?-@\[-\]_\{\}";
    private const string AsciiSymbol = @"\$\+<->\^`\|";
    private const string AsciiMark = "";

    // std::regex's \s in the "C" locale is exactly these six characters (collapsed whitespace is '\v').
    private const string WhitespaceClassContent = @"\t-\r ";

    /// <summary>True when llama.cpp would run <paramref name="llamaPattern"/> on the collapsed text.</summary>
    public static bool UsesCategories(string llamaPattern)
    {
        foreach (var name in (ReadOnlySpan<string>)[@"\p{N}", @"\p{L}", @"\p{P}", @"\p{M}", @"\p{S}", @"\p{Lu}", @"\p{Ll}", @"\p{Lt}", @"\p{Lm}", @"\p{Lo}"])
        {
            if (llamaPattern.Contains(name, StringComparison.Ordinal))
                return true;
        }
        return false;
    }

    /// <summary>Translates a llama.cpp pre-tokenizer regex (ECMAScript syntax, using \p{..}) to a .NET pattern over collapsed text.</summary>
    public static string Translate(string llamaPattern)
    {
        var sb = new StringBuilder(llamaPattern.Length * 2);
        bool inside = false; // inside [...]; llama.cpp tracks this the same simple way (no nesting, '\' escapes)
        for (int i = 0; i < llamaPattern.Length; i++)
        {
            char c = llamaPattern[i];
            if (c == '[' && (i == 0 || llamaPattern[i - 1] != '\\'))
            {
                sb.Append('[');
                inside = true;
                continue;
            }
            if (inside && c == ']' && llamaPattern[i - 1] != '\\')
            {
                sb.Append(']');
                inside = false;
                continue;
            }
            if (c == '\\' && i + 3 < llamaPattern.Length && llamaPattern[i + 1] == 'p' && llamaPattern[i + 2] == '{')
            {
                int close = llamaPattern.IndexOf('}', i + 3);
                if (close >= 0 && close <= i + 10 && CategoryClass(llamaPattern.AsSpan(i, close - i + 1)) is { } content)
                {
                    if (!inside) sb.Append('[');
                    sb.Append(content);
                    if (!inside) sb.Append(']');
                    i = close;
                    continue;
                }
            }
            if (c == '\\' && i + 1 < llamaPattern.Length && (llamaPattern[i + 1] == 's' || llamaPattern[i + 1] == 'S'))
            {
                // Spell out std::regex's \s so that .NET's (Unicode) notion of whitespace cannot leak in.
                bool negated = llamaPattern[i + 1] == 'S';
                if (inside)
                {
                    if (negated)
                        throw new NotSupportedException("\\S inside a character class is not supported");
                    sb.Append(WhitespaceClassContent);
                }
                else
                {
                    sb.Append(negated ? "[^" : "[").Append(WhitespaceClassContent).Append(']');
                }
                i++;
                continue;
            }
            if (c == '\\' && i + 1 < llamaPattern.Length)
            {
                // Any other escape (\r, \n, \-, \[, \\ ...) means the same in both dialects.
                sb.Append(c).Append(llamaPattern[i + 1]);
                i++;
                continue;
            }
            AppendLiteral(sb, c);
        }
        return sb.ToString();
    }

    private static string? CategoryClass(ReadOnlySpan<char> name) => name switch
    {
        @"\p{N}" => Marker(CodepointInfo.CollapsedNumber) + AsciiNumber,
        @"\p{L}" or @"\p{Lu}" or @"\p{Ll}" or @"\p{Lt}" or @"\p{Lm}" or @"\p{Lo}" => Marker(CodepointInfo.CollapsedLetter) + AsciiLetter,
        @"\p{P}" => Marker(CodepointInfo.CollapsedPunctuation) + AsciiPunctuation,
        @"\p{M}" => Marker(CodepointInfo.CollapsedMark) + AsciiMark,
        @"\p{S}" => Marker(CodepointInfo.CollapsedSymbol) + AsciiSymbol,
        _ => null,
    };

    private static string Marker(char c) => $"\\u{(int)c:X4}";

    private static void AppendLiteral(StringBuilder sb, char c)
    {
        switch (c)
        {
            case '\r': sb.Append(@"\r"); break;
            case '\n': sb.Append(@"\n"); break;
            case '\t': sb.Append(@"\t"); break;
            default:
                if (c < 0x20 || c > 0x7E)
                    sb.Append($"\\u{(int)c:X4}");
                else
                    sb.Append(c);
                break;
        }
    }
}
