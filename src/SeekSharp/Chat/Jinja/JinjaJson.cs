using System.Globalization;
using System.Text;

namespace SeekSharp.Chat.Jinja;

/// <summary>
/// The <c>tojson</c> filter as transformers defines it: Python's <c>json.dumps(x, ensure_ascii=False, indent=...,
/// separators=..., sort_keys=...)</c> — ", " and ": " separators by default, "," and ": " when indenting.
/// </summary>
internal static class JinjaJson
{
    public static string Serialize(object? value, string? indent, string? itemSeparator, string? keySeparator,
        bool ensureAscii, bool sortKeys, int maxChars)
    {
        itemSeparator ??= indent != null ? "," : ", ";
        keySeparator ??= ": ";
        var sb = new StringBuilder();
        Write(sb, value, indent, itemSeparator, keySeparator, ensureAscii, sortKeys, 0, maxChars);
        return sb.ToString();
    }

    private static void Write(StringBuilder sb, object? v, string? indent, string itemSep, string keySep,
        bool ascii, bool sortKeys, int depth, int maxChars)
    {
        if (depth > 256) throw new TemplateException(TemplateErrorKind.LimitExceeded, "value nesting is too deep for tojson");
        if (sb.Length > maxChars)
            throw new TemplateException(TemplateErrorKind.LimitExceeded, $"tojson output exceeds {maxChars} characters");
        switch (v)
        {
            case null:
            case Undefined:
                sb.Append("null");
                return;
            case bool b:
                sb.Append(b ? "true" : "false");
                return;
            case long l:
                sb.Append(l.ToString(CultureInfo.InvariantCulture));
                return;
            case double d:
                if (double.IsNaN(d)) sb.Append("NaN");
                else if (double.IsPositiveInfinity(d)) sb.Append("Infinity");
                else if (double.IsNegativeInfinity(d)) sb.Append("-Infinity");
                else sb.Append(JinjaValues.FloatRepr(d));
                return;
            case string s:
                WriteString(sb, s, ascii);
                return;
            case ListValue list:
            {
                if (list.Items.Count == 0) { sb.Append("[]"); return; }
                sb.Append('[');
                for (int i = 0; i < list.Items.Count; i++)
                {
                    if (i > 0) sb.Append(itemSep);
                    NewLine(sb, indent, depth + 1);
                    Write(sb, list.Items[i], indent, itemSep, keySep, ascii, sortKeys, depth + 1, maxChars);
                }
                NewLine(sb, indent, depth);
                sb.Append(']');
                return;
            }
            case DictValue dict:
            {
                if (dict.Map.Count == 0) { sb.Append("{}"); return; }
                IEnumerable<KeyValuePair<string, object?>> entries = dict.Map;
                if (sortKeys) entries = dict.Map.OrderBy(kv => kv.Key, StringComparer.Ordinal);
                sb.Append('{');
                bool first = true;
                foreach (var kv in entries)
                {
                    if (!first) sb.Append(itemSep);
                    first = false;
                    NewLine(sb, indent, depth + 1);
                    WriteString(sb, kv.Key, ascii);
                    sb.Append(keySep);
                    Write(sb, kv.Value, indent, itemSep, keySep, ascii, sortKeys, depth + 1, maxChars);
                }
                NewLine(sb, indent, depth);
                sb.Append('}');
                return;
            }
            default:
                throw JinjaValues.Error($"Object of type {JinjaValues.TypeName(v)} is not JSON serializable");
        }
    }

    private static void NewLine(StringBuilder sb, string? indent, int depth)
    {
        if (indent == null) return;
        sb.Append('\n');
        for (int i = 0; i < depth; i++) sb.Append(indent);
    }

    private static void WriteString(StringBuilder sb, string s, bool ascii)
    {
        sb.Append('"');
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ascii && c >= 0x7f))
                    {
                        AppendU(sb, c);
                    }
                    else if (char.IsSurrogate(c))
                    {
                        // A well-formed pair passes through; a lone surrogate cannot be encoded, so escape it.
                        if (char.IsHighSurrogate(c) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
                        {
                            sb.Append(c).Append(s[i + 1]);
                            i++;
                        }
                        else AppendU(sb, c);
                    }
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }

    private static void AppendU(StringBuilder sb, char c) =>
        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
}
