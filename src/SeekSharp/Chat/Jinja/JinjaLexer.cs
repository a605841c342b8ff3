using System.Text;

namespace SeekSharp.Chat.Jinja;

internal enum TokenKind
{
    Text,
    BlockBegin,
    BlockEnd,
    VarBegin,
    VarEnd,
    Name,
    String,
    Integer,
    Float,
    Op,
    Eof,
}

internal readonly record struct Token(TokenKind Kind, string Value, int Line, int Column)
{
    public bool IsOp(string op) => Kind == TokenKind.Op && Value == op;
    public bool IsName(string name) => Kind == TokenKind.Name && Value == name;

    public string Describe() => Kind switch
    {
        TokenKind.Eof => "end of template",
        TokenKind.BlockEnd => "'%}'",
        TokenKind.VarEnd => "'}}'",
        TokenKind.BlockBegin => "'{%'",
        TokenKind.VarBegin => "'{{'",
        TokenKind.Text => "template text",
        TokenKind.String => "string literal",
        _ => $"'{Value}'",
    };
}

/// <summary>
/// Splits a template into text and tag tokens, applying whitespace control exactly as Hugging Face configures Jinja:
/// trim_blocks (drop the first newline after a block or comment tag), lstrip_blocks (drop spaces and tabs between the
/// start of a line and a block or comment tag), '-' modifiers on either side of any tag, and removal of one trailing
/// newline of the template.
/// </summary>
internal sealed class JinjaLexer
{
    private readonly string _src;
    private readonly int[] _lineStarts;
    private readonly List<Token> _tokens = new();
    private int _pos;

    private const bool TrimBlocks = true;
    private const bool LstripBlocks = true;

    private JinjaLexer(string source)
    {
        // Jinja's default keep_trailing_newline=False: a single trailing newline is not part of the output.
        _src = source.EndsWith('\n') ? source[..^1] : source;
        var starts = new List<int> { 0 };
        for (int i = 0; i < source.Length; i++)
            if (source[i] == '\n') starts.Add(i + 1);
        _lineStarts = starts.ToArray();
    }

    public static List<Token> Tokenize(string source)
    {
        var lexer = new JinjaLexer(source);
        lexer.Run();
        return lexer._tokens;
    }

    private (int Line, int Col) Position(int offset)
    {
        int idx = Array.BinarySearch(_lineStarts, offset);
        if (idx < 0) idx = ~idx - 1;
        return (idx + 1, offset - _lineStarts[idx] + 1);
    }

    private TemplateException Error(string message, int offset)
    {
        var (line, col) = Position(offset);
        return new TemplateException(TemplateErrorKind.Syntax, message, line, col);
    }

    private void Add(TokenKind kind, string value, int offset)
    {
        var (line, col) = Position(offset);
        _tokens.Add(new Token(kind, value, line, col));
    }

    private int FindTagStart(int from)
    {
        for (int i = from; i < _src.Length - 1; i++)
        {
            if (_src[i] == '{')
            {
                char c = _src[i + 1];
                if (c == '{' || c == '%' || c == '#') return i;
            }
        }
        return -1;
    }

    private void Run()
    {
        bool stripLeading = false; // previous tag ended with '-'
        bool trimNewline = false;  // previous tag was a block/comment (trim_blocks)
        while (_pos < _src.Length)
        {
            int tagStart = FindTagStart(_pos);
            int textEnd = tagStart < 0 ? _src.Length : tagStart;
            string raw = _src[_pos..textEnd];
            string text = raw;
            if (stripLeading) text = text.TrimStart();
            else if (trimNewline && text.StartsWith('\n')) text = text[1..];

            if (tagStart < 0)
            {
                if (text.Length > 0) Add(TokenKind.Text, text, _pos);
                _pos = _src.Length;
                break;
            }

            char kind = _src[tagStart + 1];
            char modifier = tagStart + 2 < _src.Length ? _src[tagStart + 2] : '\0';
            if (modifier == '-')
            {
                text = text.TrimEnd();
            }
            else if (LstripBlocks && kind != '{' && modifier != '+')
            {
                int k = text.Length;
                while (k > 0 && (text[k - 1] == ' ' || text[k - 1] == '\t')) k--;
                bool lineStart = k > 0 ? text[k - 1] == '\n' : (raw.Contains('\n') || _pos == 0);
                if (lineStart) text = text[..k];
            }
            if (text.Length > 0) Add(TokenKind.Text, text, _pos);

            _pos = tagStart + 2 + (modifier == '-' || modifier == '+' ? 1 : 0);
            bool rightStrip;
            if (kind == '#')
            {
                int end = _src.IndexOf("#}", _pos, StringComparison.Ordinal);
                if (end < 0) throw Error("unterminated comment, expected '#}'", tagStart);
                rightStrip = end > _pos - 1 && _src[end - 1] == '-' && end - 1 >= _pos;
                _pos = end + 2;
                stripLeading = rightStrip;
                trimNewline = !rightStrip && TrimBlocks;
                continue;
            }

            bool isBlock = kind == '%';
            int tokenCountBefore = _tokens.Count;
            Add(isBlock ? TokenKind.BlockBegin : TokenKind.VarBegin, isBlock ? "{%" : "{{", tagStart);
            rightStrip = LexTagBody(isBlock, tagStart);
            stripLeading = rightStrip;
            trimNewline = !rightStrip && isBlock && TrimBlocks;

            // {% raw %} ... {% endraw %}: everything in between is text, verbatim.
            if (isBlock && _tokens.Count == tokenCountBefore + 3 && _tokens[tokenCountBefore + 1].IsName("raw"))
                LexRaw(tagStart, ref stripLeading, ref trimNewline);
        }
        var (l, c) = Position(_src.Length);
        _tokens.Add(new Token(TokenKind.Eof, "", l, c));
    }

    private void LexRaw(int rawTagStart, ref bool stripLeading, ref bool trimNewline)
    {
        int search = _pos;
        while (true)
        {
            int start = FindTagStart(search);
            if (start < 0) throw Error("missing '{% endraw %}'", rawTagStart);
            if (_src[start + 1] != '%') { search = start + 1; continue; }
            int p = start + 2;
            bool leftStrip = p < _src.Length && _src[p] == '-';
            if (leftStrip || (p < _src.Length && _src[p] == '+')) p++;
            while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
            if (string.CompareOrdinal(_src, p, "endraw", 0, 6) != 0) { search = start + 1; continue; }
            p += 6;
            while (p < _src.Length && char.IsWhiteSpace(_src[p])) p++;
            bool rightStrip = false;
            if (p < _src.Length && _src[p] == '-') { rightStrip = true; p++; }
            if (string.CompareOrdinal(_src, p, "%}", 0, 2) != 0) { search = start + 1; continue; }

            string text = _src[_pos..start];
            if (stripLeading) text = text.TrimStart();
            else if (trimNewline && text.StartsWith('\n')) text = text[1..];
            if (leftStrip) text = text.TrimEnd();
            if (text.Length > 0) Add(TokenKind.Text, text, _pos);
            // The raw/endraw pair produces no tokens besides the text.
            _tokens.RemoveRange(_tokens.Count - (text.Length > 0 ? 4 : 3), 3);
            _pos = p + 2;
            stripLeading = rightStrip;
            trimNewline = !rightStrip && TrimBlocks;
            return;
        }
    }

    /// <summary>Lexes the inside of a tag up to and including its end marker; returns whether the end marker had '-'.</summary>
    private bool LexTagBody(bool isBlock, int tagStart)
    {
        int braceDepth = 0;
        while (true)
        {
            while (_pos < _src.Length && char.IsWhiteSpace(_src[_pos])) _pos++;
            if (_pos >= _src.Length)
                throw Error(isBlock ? "unexpected end of template, expected '%}'" : "unexpected end of template, expected '}}'", tagStart);

            char c = _src[_pos];
            char next = _pos + 1 < _src.Length ? _src[_pos + 1] : '\0';
            char next2 = _pos + 2 < _src.Length ? _src[_pos + 2] : '\0';

            // End markers, optionally preceded by '-'.
            if (isBlock)
            {
                if (c == '%' && next == '}') { Add(TokenKind.BlockEnd, "%}", _pos); _pos += 2; return false; }
                if (c == '-' && next == '%' && next2 == '}') { Add(TokenKind.BlockEnd, "%}", _pos); _pos += 3; return true; }
            }
            else if (braceDepth == 0)
            {
                if (c == '}' && next == '}') { Add(TokenKind.VarEnd, "}}", _pos); _pos += 2; return false; }
                if (c == '-' && next == '}' && next2 == '}') { Add(TokenKind.VarEnd, "}}", _pos); _pos += 3; return true; }
            }

            if (c == '\'' || c == '"') { LexString(c); continue; }
            if (char.IsAsciiDigit(c)) { LexNumber(); continue; }
            if (char.IsAsciiLetter(c) || c == '_')
            {
                int s = _pos;
                while (_pos < _src.Length && (char.IsAsciiLetterOrDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
                Add(TokenKind.Name, _src[s.._pos], s);
                continue;
            }

            string? op = null;
            if (next != '\0')
            {
                string two = _src.Substring(_pos, 2);
                if (two is "**" or "//" or "==" or "!=" or "<=" or ">=") op = two;
            }
            if (op == null && "+-*/%~<>=()[]{},.:|".Contains(c)) op = c.ToString();
            if (op == null) throw Error($"unexpected character '{c}'", _pos);
            if (op == "{") braceDepth++;
            else if (op == "}") braceDepth--;
            Add(TokenKind.Op, op, _pos);
            _pos += op.Length;
        }
    }

    private void LexString(char quote)
    {
        int start = _pos++;
        var sb = new StringBuilder();
        while (true)
        {
            if (_pos >= _src.Length) throw Error("unterminated string literal", start);
            char c = _src[_pos++];
            if (c == quote) break;
            if (c != '\\') { sb.Append(c); continue; }
            if (_pos >= _src.Length) throw Error("unterminated string literal", start);
            char e = _src[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'b': sb.Append('\b'); break;
                case 'f': sb.Append('\f'); break;
                case 'v': sb.Append('\v'); break;
                case 'a': sb.Append('\a'); break;
                case '0': sb.Append('\0'); break;
                case '\\': sb.Append('\\'); break;
                case '\'': sb.Append('\''); break;
                case '"': sb.Append('"'); break;
                case '\n': break; // line continuation
                case 'x':
                case 'u':
                case 'U':
                {
                    int len = e == 'x' ? 2 : e == 'u' ? 4 : 8;
                    if (_pos + len > _src.Length) throw Error($"truncated \\{e} escape", _pos - 2);
                    string hex = _src.Substring(_pos, len);
                    if (!int.TryParse(hex, System.Globalization.NumberStyles.HexNumber, null, out int cp) || cp > 0x10FFFF)
                        throw Error($"invalid \\{e} escape '{hex}'", _pos - 2);
                    _pos += len;
                    if (cp >= 0x10000) sb.Append(char.ConvertFromUtf32(cp)); else sb.Append((char)cp);
                    break;
                }
                default:
                    // Python keeps unknown escapes verbatim.
                    sb.Append('\\').Append(e);
                    break;
            }
        }
        Add(TokenKind.String, sb.ToString(), start);
    }

    private void LexNumber()
    {
        int start = _pos;
        while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        bool isFloat = false;
        bool afterDot = _tokens.Count > 0 && _tokens[^1].IsOp(".");
        if (!afterDot && _pos + 1 < _src.Length && _src[_pos] == '.' && char.IsAsciiDigit(_src[_pos + 1]))
        {
            isFloat = true;
            _pos++;
            while (_pos < _src.Length && (char.IsAsciiDigit(_src[_pos]) || _src[_pos] == '_')) _pos++;
        }
        if (!afterDot && _pos < _src.Length && (_src[_pos] == 'e' || _src[_pos] == 'E'))
        {
            int p = _pos + 1;
            if (p < _src.Length && (_src[p] == '+' || _src[p] == '-')) p++;
            if (p < _src.Length && char.IsAsciiDigit(_src[p]))
            {
                isFloat = true;
                _pos = p;
                while (_pos < _src.Length && char.IsAsciiDigit(_src[_pos])) _pos++;
            }
        }
        Add(isFloat ? TokenKind.Float : TokenKind.Integer, _src[start.._pos].Replace("_", ""), start);
    }
}
