using System.Globalization;
using System.Text;

namespace SeekSharp.Chat.Jinja;

internal delegate object? FilterFn(JinjaInterpreter interp, object? value, Args args);
internal delegate bool TestFn(JinjaInterpreter interp, object? value, Args args);

internal sealed partial class JinjaInterpreter
{
    private object? ApplyFilter(FilterCall fc, object? value, Scope scope)
    {
        var args = EvalArgs(fc.Args, scope);
        try
        {
            return ApplyFilter(fc.Name, value, args);
        }
        catch (TemplateException ex) when (ex.Line == 0)
        {
            throw ex.WithPosition(fc.Line, fc.Column);
        }
    }

    public object? ApplyFilter(string name, object? value, Args args)
    {
        Step();
        if (!JinjaBuiltins.Filters.TryGetValue(name, out var fn)) throw JinjaValues.Error($"no filter named '{name}'");
        return fn(this, value, args);
    }

    public bool ApplyTest(string name, object? value, Args args)
    {
        Step();
        if (!JinjaBuiltins.Tests.TryGetValue(name, out var fn)) throw JinjaValues.Error($"no test named '{name}'");
        return fn(this, value, args);
    }
}

/// <summary>The whitelisted filters, tests, methods and globals. Nothing outside these tables is reachable.</summary>
internal static class JinjaBuiltins
{
    private static TemplateException Error(string m) => JinjaValues.Error(m);

    // ------------------------------------------------------------------ helpers

    private static string Str(object? v) => JinjaValues.ToStr(v);

    private static long ToLong(object? v, string what) => v switch
    {
        long l => l,
        bool b => b ? 1 : 0,
        double d when d == Math.Floor(d) => (long)d,
        _ => throw Error($"{what} must be an integer, got {JinjaValues.TypeName(v)}"),
    };

    private static bool ToBool(object? v) => JinjaValues.IsTruthy(v);

    private static int RuneLength(string s)
    {
        if (!JinjaInterpreter.HasSurrogates(s)) return s.Length;
        int n = 0;
        foreach (var _ in s.EnumerateRunes()) n++;
        return n;
    }

    private static bool IsPyWhite(char c) => char.IsWhiteSpace(c) || (c >= '\x1c' && c <= '\x1f');

    public static string Strip(string s, object? chars, bool left, bool right)
    {
        int start = 0, end = s.Length;
        if (chars is null or Undefined)
        {
            if (left) while (start < end && IsPyWhite(s[start])) start++;
            if (right) while (end > start && IsPyWhite(s[end - 1])) end--;
        }
        else
        {
            if (chars is not string set) throw Error("strip arg must be None or str");
            if (left) while (start < end && set.Contains(s[start])) start++;
            if (right) while (end > start && set.Contains(s[end - 1])) end--;
        }
        return s[start..end];
    }

    private static string PyUpper(string s) => s.ToUpperInvariant();
    private static string PyLower(string s) => s.ToLowerInvariant();

    private static string Capitalize(string s)
    {
        if (s.Length == 0) return s;
        int first = char.IsHighSurrogate(s[0]) && s.Length > 1 ? 2 : 1;
        return PyUpper(s[..first]) + PyLower(s[first..]);
    }

    /// <summary>Python's str.title(): a cased letter after an uncased character starts a word.</summary>
    private static string PyTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool prevCased = false;
        foreach (char c in s)
        {
            if (char.IsLetter(c))
            {
                sb.Append(prevCased ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
                prevCased = char.IsUpper(c) || char.IsLower(c);
            }
            else
            {
                sb.Append(c);
                prevCased = false;
            }
        }
        return sb.ToString();
    }

    /// <summary>Jinja's title filter: words are split at runs of whitespace, '-', '(', '{', '[' and '&lt;'.</summary>
    private static string JinjaTitle(string s)
    {
        var sb = new StringBuilder(s.Length);
        bool atWordStart = true;
        foreach (char c in s)
        {
            bool sep = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            if (sep)
            {
                sb.Append(c);
                atWordStart = true;
            }
            else
            {
                sb.Append(atWordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
                atWordStart = false;
            }
        }
        return sb.ToString();
    }

    private static string Replace(JinjaInterpreter interp, string s, object? oldV, object? newV, object? countV)
    {
        if (oldV is not string o || newV is not string n) throw Error("replace() arguments must be strings");
        long count = countV is null or Undefined ? -1 : ToLong(countV, "count");
        if (count == 0) return s;
        if (o.Length == 0)
        {
            // Python inserts the replacement between every character (and at both ends).
            var runes = interp.Materialize(s);
            var sb0 = new StringBuilder();
            long done = 0;
            for (int i = 0; i <= runes.Count; i++)
            {
                if (count < 0 || done < count) { sb0.Append(n); done++; }
                if (i < runes.Count) sb0.Append((string)runes[i]!);
            }
            return interp.CheckSize(sb0.ToString());
        }
        var sb = new StringBuilder();
        int pos = 0;
        long replaced = 0;
        while (count < 0 || replaced < count)
        {
            int idx = s.IndexOf(o, pos, StringComparison.Ordinal);
            if (idx < 0) break;
            sb.Append(s, pos, idx - pos).Append(n);
            if (sb.Length > interp.Limits.MaxOutputChars) interp.CheckSize(sb.ToString());
            pos = idx + o.Length;
            replaced++;
        }
        sb.Append(s, pos, s.Length - pos);
        return interp.CheckSize(sb.ToString());
    }

    private static ListValue Split(JinjaInterpreter interp, string s, object? sepV, object? maxV)
    {
        long max = maxV is null or Undefined ? -1 : ToLong(maxV, "maxsplit");
        var parts = new List<object?>();
        if (sepV is null or Undefined)
        {
            int i = 0;
            while (true)
            {
                while (i < s.Length && IsPyWhite(s[i])) i++;
                if (i >= s.Length) break;
                if (max >= 0 && parts.Count >= max)
                {
                    parts.Add(Strip(s[i..], null, false, true));
                    break;
                }
                int j = i;
                while (j < s.Length && !IsPyWhite(s[j])) j++;
                parts.Add(s[i..j]);
                i = j;
            }
        }
        else
        {
            if (sepV is not string sep) throw Error("split() separator must be a string or None");
            if (sep.Length == 0) throw Error("empty separator");
            int pos = 0;
            while (max < 0 || parts.Count < max)
            {
                int idx = s.IndexOf(sep, pos, StringComparison.Ordinal);
                if (idx < 0) break;
                parts.Add(s[pos..idx]);
                pos = idx + sep.Length;
            }
            parts.Add(s[pos..]);
        }
        interp.Charge(s.Length + parts.Count);
        return new ListValue(parts);
    }

    private static ListValue RSplit(JinjaInterpreter interp, string s, object? sepV, object? maxV)
    {
        long max = maxV is null or Undefined ? -1 : ToLong(maxV, "maxsplit");
        if (max < 0) return Split(interp, s, sepV, maxV);
        if (sepV is not string sep) throw Error("rsplit() with maxsplit needs a string separator");
        if (sep.Length == 0) throw Error("empty separator");
        var parts = new List<object?>();
        int end = s.Length;
        while (parts.Count < max)
        {
            int idx = end - sep.Length < 0 ? -1 : s.LastIndexOf(sep, end - 1, StringComparison.Ordinal);
            if (idx < 0 || idx + sep.Length > end) break;
            parts.Add(s[(idx + sep.Length)..end]);
            end = idx;
        }
        parts.Add(s[..end]);
        parts.Reverse();
        return new ListValue(parts);
    }

    private static bool StartsOrEnds(string s, object? arg, bool starts)
    {
        if (arg is string p) return starts ? s.StartsWith(p, StringComparison.Ordinal) : s.EndsWith(p, StringComparison.Ordinal);
        if (arg is ListValue l)
        {
            foreach (var item in l.Items)
            {
                if (item is not string q) throw Error("startswith/endswith tuple items must be strings");
                if (starts ? s.StartsWith(q, StringComparison.Ordinal) : s.EndsWith(q, StringComparison.Ordinal)) return true;
            }
            return false;
        }
        throw Error($"{(starts ? "startswith" : "endswith")} first arg must be str or a tuple of str, not {JinjaValues.TypeName(arg)}");
    }

    private static long RuneIndex(string s, int utf16Index)
    {
        if (utf16Index < 0) return -1;
        if (!JinjaInterpreter.HasSurrogates(s)) return utf16Index;
        return RuneLength(s[..utf16Index]);
    }

    /// <summary>str.format with positional ({}, {0}) and named ({name}) fields; format specs are not supported.</summary>
    private static string PyFormat(JinjaInterpreter interp, string fmt, Args args)
    {
        var sb = new StringBuilder();
        int auto = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c == '{')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '{') { sb.Append('{'); i++; continue; }
                int close = fmt.IndexOf('}', i);
                if (close < 0) throw Error("Single '{' encountered in format string");
                string field = fmt[(i + 1)..close];
                string? conversion = null;
                int bang = field.IndexOf('!');
                if (bang >= 0) { conversion = field[(bang + 1)..]; field = field[..bang]; }
                if (field.Contains(':')) throw Error("format specs are not supported in str.format");
                object? value;
                if (field.Length == 0) value = args.Get(auto++, "\0", Undefined.Instance);
                else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out int idx)) value = args.Get(idx, "\0", Undefined.Instance);
                else value = args.Get(-1, field, Undefined.Instance);
                if (value is Undefined) throw Error($"format field '{field}' has no matching argument");
                sb.Append(conversion == "r" ? JinjaValues.Repr(value) : Str(value));
                i = close;
            }
            else if (c == '}')
            {
                if (i + 1 < fmt.Length && fmt[i + 1] == '}') { sb.Append('}'); i++; continue; }
                throw Error("Single '}' encountered in format string");
            }
            else sb.Append(c);
        }
        return interp.CheckSize(sb.ToString());
    }

    /// <summary>The format filter: printf-style %s, %d, %i, %r, %f and %%.</summary>
    private static string PrintfFormat(JinjaInterpreter interp, string fmt, Args args)
    {
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < fmt.Length; i++)
        {
            char c = fmt[i];
            if (c != '%') { sb.Append(c); continue; }
            if (i + 1 >= fmt.Length) throw Error("incomplete format");
            char k = fmt[++i];
            if (k == '%') { sb.Append('%'); continue; }
            object? v = args.Get(next++, "\0", Undefined.Instance);
            if (v is Undefined) throw Error("not enough arguments for format string");
            sb.Append(k switch
            {
                's' => Str(v),
                'r' => JinjaValues.Repr(v),
                'd' or 'i' => ((long)Math.Truncate(JinjaValues.ToDouble(v))).ToString(CultureInfo.InvariantCulture),
                'f' => JinjaValues.ToDouble(v).ToString("F6", CultureInfo.InvariantCulture),
                _ => throw Error($"unsupported format character '{k}'"),
            });
        }
        return interp.CheckSize(sb.ToString());
    }

    /// <summary>Attribute path as used by map/selectattr/sort/join: "a.b.0" walks keys and list indices.</summary>
    private static object? AttrPath(JinjaInterpreter interp, object? item, object? attr)
    {
        if (attr is long l) return interp.GetItem(item, l);
        if (attr is not string path) throw Error("attribute must be a string or integer");
        foreach (var part in path.Split('.'))
        {
            item = long.TryParse(part, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long idx)
                ? interp.GetItem(item, idx)
                : interp.GetItem(item, part);
        }
        return item;
    }

    private static List<object?> SortItems(JinjaInterpreter interp, List<object?> items, Func<object?, object?> key, bool caseSensitive, bool reverse)
    {
        interp.Charge(items.Count * 8L);
        var comparer = Comparer<object?>.Create((a, b) => JinjaValues.Compare(a, b, caseSensitive));
        var sorted = reverse
            ? items.OrderByDescending(key, comparer).ToList()
            : items.OrderBy(key, comparer).ToList();
        return sorted;
    }

    private static string Escape(string s)
    {
        var sb = new StringBuilder(s.Length);
        foreach (char c in s)
        {
            sb.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&#34;",
                '\'' => "&#39;",
                _ => c.ToString(),
            });
        }
        return sb.ToString();
    }

    private static string Indent(string s, object? widthV, bool first, bool blank)
    {
        string indent = widthV switch
        {
            string w => w,
            null or Undefined => "    ",
            _ => new string(' ', (int)Math.Clamp(ToLong(widthV, "width"), 0, 1000)),
        };
        // Jinja appends a newline before splitting so a trailing newline survives splitlines().
        var lines = SplitLines(s + "\n");
        var sb = new StringBuilder();
        for (int i = 0; i < lines.Count; i++)
        {
            if (i > 0) sb.Append('\n');
            string line = lines[i];
            bool indentThis = i == 0 ? first : (blank || line.Length > 0);
            if (indentThis) sb.Append(indent);
            sb.Append(line);
        }
        return sb.ToString();
    }

    private static List<string> SplitLines(string s)
    {
        var lines = new List<string>();
        int start = 0;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '\n' or '\r' or '\v' or '\f' or '\x1c' or '\x1d' or '\x1e' or '\x85' or '\u2028' or '\u2029')
            {
                lines.Add(s[start..i]);
                if (c == '\r' && i + 1 < s.Length && s[i + 1] == '\n') i++;
                start = i + 1;
            }
        }
        if (start < s.Length) lines.Add(s[start..]);
        return lines;
    }

    private static object? RoundValue(object? value, object? precisionV, object? methodV)
    {
        string method = methodV is string m ? m : "common";
        long precision = precisionV is null or Undefined ? 0 : ToLong(precisionV, "precision");
        if (method is not ("common" or "ceil" or "floor")) throw Error("method must be common, ceil or floor");
        double v = JinjaValues.ToDouble(value);
        double scale = Math.Pow(10, precision);
        return method switch
        {
            "ceil" => Math.Ceiling(v * scale) / scale,
            "floor" => Math.Floor(v * scale) / scale,
            _ => value is long && precision >= 0 ? (double)(long)value : Math.Round(v, (int)Math.Clamp(precision, 0, 15), MidpointRounding.ToEven),
        };
    }

    private static object? ToInt(object? value, object? def, object? baseV)
    {
        int numBase = baseV is null or Undefined ? 10 : (int)ToLong(baseV, "base");
        switch (value)
        {
            case long: return value;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) ? (long)Math.Truncate(d) : def;
            case string s:
            {
                s = s.Trim().Replace("_", "");
                try
                {
                    if (numBase == 10)
                    {
                        if (long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long l)) return l;
                    }
                    else
                    {
                        bool neg = s.StartsWith('-');
                        string digits = s.TrimStart('+', '-');
                        if (numBase == 16 && digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        if (numBase == 8 && digits.StartsWith("0o", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        if (numBase == 2 && digits.StartsWith("0b", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
                        long r = Convert.ToInt64(digits, numBase);
                        return neg ? -r : r;
                    }
                }
                catch (Exception ex) when (ex is FormatException or ArgumentException or OverflowException) { }
                if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double f) && double.IsFinite(f))
                    return (long)Math.Truncate(f);
                return def;
            }
            default: return def;
        }
    }

    private static object? ToFloat(object? value, object? def) => value switch
    {
        double => value,
        long l => (double)l,
        bool b => b ? 1.0 : 0.0,
        string s => s.Trim() switch
        {
            var t when double.TryParse(t.Replace("_", ""), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) => d,
            var t when t.Equals("inf", StringComparison.OrdinalIgnoreCase) || t.Equals("infinity", StringComparison.OrdinalIgnoreCase) => double.PositiveInfinity,
            var t when t.Equals("-inf", StringComparison.OrdinalIgnoreCase) => double.NegativeInfinity,
            var t when t.Equals("nan", StringComparison.OrdinalIgnoreCase) => double.NaN,
            _ => def,
        },
        _ => def,
    };

    private static ListValue Items(object? value) => value switch
    {
        DictValue d when d is not NamespaceValue => new ListValue(d.Map.Select(kv => (object?)new ListValue(new List<object?> { kv.Key, kv.Value }, true)).ToList()),
        Undefined => new ListValue(new List<object?>()),
        _ => throw Error($"items filter expects a mapping, got {JinjaValues.TypeName(value)}"),
    };

    private static bool SelectTest(JinjaInterpreter interp, object? item, Args args, int testArg)
    {
        if (args.Count <= testArg) return JinjaValues.IsTruthy(item);
        if (args.Positional[testArg] is not string test) throw Error("test name must be a string");
        var rest = new Args(args.Positional.Skip(testArg + 1).ToList(), null);
        return interp.ApplyTest(test, item, rest);
    }

    // ------------------------------------------------------------------ filters

    public static readonly Dictionary<string, FilterFn> Filters = BuildFilters();

    private static Dictionary<string, FilterFn> BuildFilters()
    {
        var f = new Dictionary<string, FilterFn>(StringComparer.Ordinal);
        f["safe"] = (_, v, _) => v;
        f["string"] = (i, v, _) => i.CheckSize(Str(v));
        f["upper"] = (_, v, _) => PyUpper(Str(v));
        f["lower"] = (_, v, _) => PyLower(Str(v));
        f["capitalize"] = (_, v, _) => Capitalize(Str(v));
        f["title"] = (_, v, _) => JinjaTitle(Str(v));
        f["trim"] = (_, v, a) => Strip(Str(v), a.Get(0, "chars", null), true, true);
        f["replace"] = (i, v, a) => Replace(i, Str(v), a.Get(0, "old", null), a.Get(1, "new", null), a.Get(2, "count", null));
        f["indent"] = (i, v, a) => i.CheckSize(Indent(Str(v), a.Get(0, "width", null), ToBool(a.Get(1, "first", false)), ToBool(a.Get(2, "blank", false))));
        f["escape"] = f["e"] = f["forceescape"] = (i, v, _) => i.CheckSize(Escape(Str(v)));
        f["wordcount"] = (_, v, _) => (long)System.Text.RegularExpressions.Regex.Count(Str(v), @"\w+");
        f["format"] = (i, v, a) => PrintfFormat(i, Str(v), a);
        f["bool"] = (_, v, _) => JinjaValues.IsTruthy(v);
        f["length"] = f["count"] = (_, v, _) => v switch
        {
            string s => (long)RuneLength(s),
            ListValue l => (long)l.Items.Count,
            DictValue d => (long)d.Map.Count,
            Undefined => 0L,
            _ => throw Error($"object of type '{JinjaValues.TypeName(v)}' has no len()"),
        };
        f["list"] = (i, v, _) => new ListValue(i.Materialize(v));
        f["first"] = (i, v, _) =>
        {
            if (v is ListValue l) return l.Items.Count > 0 ? l.Items[0] : new Undefined(null);
            var items = i.Materialize(v);
            return items.Count > 0 ? items[0] : new Undefined(null);
        };
        f["last"] = (i, v, _) =>
        {
            if (v is ListValue l) return l.Items.Count > 0 ? l.Items[^1] : new Undefined(null);
            if (v is DictValue) throw Error("'dict' object is not reversible");
            var items = i.Materialize(v);
            return items.Count > 0 ? items[^1] : new Undefined(null);
        };
        f["reverse"] = (i, v, _) =>
        {
            var items = i.Materialize(v);
            items.Reverse();
            if (v is string) return string.Concat(items.Select(x => (string)x!));
            return new ListValue(items);
        };
        f["join"] = (i, v, a) =>
        {
            var sep = a.Get(0, "d", "") is string s ? s : Str(a.Get(0, "d", ""));
            var attr = a.Get(1, "attribute", null);
            var items = i.Materialize(v);
            var sb = new StringBuilder();
            for (int k = 0; k < items.Count; k++)
            {
                if (k > 0) sb.Append(sep);
                sb.Append(Str(attr is null ? items[k] : AttrPath(i, items[k], attr)));
                if (sb.Length > i.Limits.MaxOutputChars) i.CheckSize(sb.ToString());
            }
            return i.CheckSize(sb.ToString());
        };
        f["default"] = f["d"] = (_, v, a) =>
        {
            var def = a.Get(0, "default_value", "");
            bool boolean = ToBool(a.Get(1, "boolean", false));
            return v is Undefined || (boolean && !JinjaValues.IsTruthy(v)) ? def : v;
        };
        f["tojson"] = (i, v, a) =>
        {
            var indentV = a.Get(0, "indent", null);
            string? indent = indentV switch
            {
                null or Undefined => null,
                string s => s,
                _ => new string(' ', (int)Math.Clamp(ToLong(indentV, "indent"), 0, 64)),
            };
            string? itemSep = null, keySep = null;
            var seps = a.Get(-1, "separators", null);
            if (seps is ListValue { Items.Count: 2 } sl && sl.Items[0] is string s0 && sl.Items[1] is string s1)
            {
                itemSep = s0;
                keySep = s1;
            }
            else if (seps is not (null or Undefined)) throw Error("separators must be a pair of strings");
            return i.CheckSize(JinjaJson.Serialize(v, indent, itemSep, keySep,
                ToBool(a.Get(-1, "ensure_ascii", false)), ToBool(a.Get(-1, "sort_keys", false)), i.Limits.MaxOutputChars));
        };
        f["items"] = (_, v, _) => Items(v);
        f["dictsort"] = (i, v, a) =>
        {
            bool cs = ToBool(a.Get(0, "case_sensitive", false));
            string by = a.Get(1, "by", "key") as string ?? "key";
            bool reverse = ToBool(a.Get(2, "reverse", false));
            if (by is not ("key" or "value")) throw Error("You can only sort by either 'key' or 'value'");
            var pairs = Items(v).Items;
            int pos = by == "key" ? 0 : 1;
            return new ListValue(SortItems(i, pairs, p => ((ListValue)p!).Items[pos], cs, reverse));
        };
        f["sort"] = (i, v, a) =>
        {
            bool reverse = ToBool(a.Get(0, "reverse", false));
            bool cs = ToBool(a.Get(1, "case_sensitive", false));
            var attr = a.Get(2, "attribute", null);
            var items = i.Materialize(v);
            return new ListValue(SortItems(i, items, x => attr is null ? x : AttrPath(i, x, attr), cs, reverse));
        };
        f["unique"] = (i, v, a) =>
        {
            bool cs = ToBool(a.Get(0, "case_sensitive", false));
            var attr = a.Get(1, "attribute", null);
            var result = new List<object?>();
            var seen = new List<object?>();
            foreach (var item in i.Materialize(v))
            {
                var key = attr is null ? item : AttrPath(i, item, attr);
                if (!cs && key is string ks) key = PyLower(ks);
                i.Charge(seen.Count);
                if (seen.Exists(s => JinjaValues.Equals(s, key))) continue;
                seen.Add(key);
                result.Add(item);
            }
            return new ListValue(result);
        };
        f["map"] = (i, v, a) =>
        {
            var items = i.Materialize(v);
            var result = new List<object?>(items.Count);
            if (a.Has(-1, "attribute"))
            {
                var attr = a.Get(-1, "attribute", null);
                bool hasDefault = a.Has(-1, "default");
                var def = a.Get(-1, "default", null);
                foreach (var item in items)
                {
                    var r = AttrPath(i, item, attr);
                    result.Add(r is Undefined && hasDefault ? def : r);
                }
            }
            else
            {
                if (a.Count == 0 || a.Positional[0] is not string filter) throw Error("map requires a filter name or attribute=");
                var rest = new Args(a.Positional.Skip(1).ToList(), a.Keyword);
                foreach (var item in items) result.Add(i.ApplyFilter(filter, item, rest));
            }
            return new ListValue(result);
        };
        f["select"] = (i, v, a) => new ListValue(i.Materialize(v).Where(x => SelectTest(i, x, a, 0)).ToList());
        f["reject"] = (i, v, a) => new ListValue(i.Materialize(v).Where(x => !SelectTest(i, x, a, 0)).ToList());
        f["selectattr"] = (i, v, a) =>
        {
            var attr = a.Get(0, "\0", null) ?? throw Error("selectattr requires an attribute name");
            return new ListValue(i.Materialize(v).Where(x => SelectTest(i, AttrPath(i, x, attr), a, 1)).ToList());
        };
        f["rejectattr"] = (i, v, a) =>
        {
            var attr = a.Get(0, "\0", null) ?? throw Error("rejectattr requires an attribute name");
            return new ListValue(i.Materialize(v).Where(x => !SelectTest(i, AttrPath(i, x, attr), a, 1)).ToList());
        };
        f["attr"] = (i, v, a) => i.GetAttr(v, a.Get(0, "name", null) as string ?? throw Error("attr requires a name"));
        f["int"] = (_, v, a) => ToInt(v, a.Get(0, "default", 0L), a.Get(1, "base", null));
        f["float"] = (_, v, a) => ToFloat(v, a.Get(0, "default", 0.0));
        f["abs"] = (_, v, _) => v switch
        {
            long l => (object)checked(Math.Abs(l)),
            double d => Math.Abs(d),
            bool b => b ? 1L : 0L,
            _ => throw Error($"bad operand type for abs(): '{JinjaValues.TypeName(v)}'"),
        };
        f["round"] = (_, v, a) => RoundValue(v, a.Get(0, "precision", null), a.Get(1, "method", null));
        f["sum"] = (i, v, a) =>
        {
            var attr = a.Get(0, "attribute", null);
            object? total = a.Get(1, "start", 0L);
            foreach (var item in i.Materialize(v))
            {
                var x = attr is null ? item : AttrPath(i, item, attr);
                total = JinjaValues.IsNumber(total) && JinjaValues.IsNumber(x)
                    ? (total is double || x is double ? (object)(JinjaValues.ToDouble(total) + JinjaValues.ToDouble(x)) : checked((total is bool tb ? (tb ? 1 : 0) : (long)total!) + (x is bool xb ? (xb ? 1 : 0) : (long)x!)))
                    : throw Error($"unsupported operand type(s) for +: '{JinjaValues.TypeName(total)}' and '{JinjaValues.TypeName(x)}'");
            }
            return total;
        };
        FilterFn minmax(bool max) => (i, v, a) =>
        {
            bool cs = ToBool(a.Get(0, "case_sensitive", false));
            var attr = a.Get(1, "attribute", null);
            var items = i.Materialize(v);
            if (items.Count == 0) return new Undefined(null);
            var sorted = SortItems(i, items, x => attr is null ? x : AttrPath(i, x, attr), cs, max);
            return sorted[0];
        };
        f["max"] = minmax(true);
        f["min"] = minmax(false);
        return f;
    }

    // ------------------------------------------------------------------ tests

    public static readonly Dictionary<string, TestFn> Tests = BuildTests();

    private static Dictionary<string, TestFn> BuildTests()
    {
        var t = new Dictionary<string, TestFn>(StringComparer.Ordinal);
        t["defined"] = (_, v, _) => v is not Undefined;
        t["undefined"] = (_, v, _) => v is Undefined;
        t["none"] = (_, v, _) => v is null;
        t["boolean"] = (_, v, _) => v is bool;
        t["true"] = (_, v, _) => v is true;
        t["false"] = (_, v, _) => v is false;
        t["string"] = (_, v, _) => v is string;
        t["number"] = (_, v, _) => v is long or double or bool;
        t["integer"] = (_, v, _) => v is long;
        t["float"] = (_, v, _) => v is double;
        t["mapping"] = (_, v, _) => v is DictValue and not NamespaceValue;
        t["iterable"] = (_, v, _) => v is string or ListValue or (DictValue and not NamespaceValue);
        t["sequence"] = (_, v, _) => v is string or ListValue or (DictValue and not NamespaceValue);
        t["callable"] = (_, v, _) => v is Callable;
        t["lower"] = (_, v, _) => v is string s && s == PyLower(s) && s.Any(char.IsLetter);
        t["upper"] = (_, v, _) => v is string s && s == PyUpper(s) && s.Any(char.IsLetter);
        t["odd"] = (_, v, _) => ToLong(v, "value") % 2 != 0;
        t["even"] = (_, v, _) => ToLong(v, "value") % 2 == 0;
        t["divisibleby"] = (_, v, a) =>
        {
            long n = ToLong(a.Get(0, "num", null), "num");
            if (n == 0) throw Error("integer division or modulo by zero");
            return ToLong(v, "value") % n == 0;
        };
        t["eq"] = t["equalto"] = t["=="] = (_, v, a) => JinjaValues.Equals(v, a.Get(0, "other", null));
        t["ne"] = t["!="] = (_, v, a) => !JinjaValues.Equals(v, a.Get(0, "other", null));
        t["lt"] = t["lessthan"] = t["<"] = (_, v, a) => JinjaValues.Compare(v, a.Get(0, "other", null)) < 0;
        t["le"] = t["<="] = (_, v, a) => JinjaValues.Compare(v, a.Get(0, "other", null)) <= 0;
        t["gt"] = t["greaterthan"] = t[">"] = (_, v, a) => JinjaValues.Compare(v, a.Get(0, "other", null)) > 0;
        t["ge"] = t[">="] = (_, v, a) => JinjaValues.Compare(v, a.Get(0, "other", null)) >= 0;
        t["in"] = (i, v, a) => i.Contains(a.Get(0, "seq", null), v);
        t["sameas"] = (_, v, a) =>
        {
            var o = a.Get(0, "other", null);
            return v switch
            {
                null => o is null,
                bool b => o is bool ob && ob == b,
                long l => o is long ol && ol == l,
                _ => ReferenceEquals(v, o),
            };
        };
        t["filter"] = (_, v, _) => v is string s && Filters.ContainsKey(s);
        t["test"] = (_, v, _) => v is string s && Tests.ContainsKey(s);
        t["escaped"] = (_, _, _) => false;
        return t;
    }

    // ------------------------------------------------------------------ methods

    public static Callable? StringMethod(string s, string name)
    {
        Func<JinjaInterpreter, Args, object?>? body = name switch
        {
            "upper" => (_, _) => PyUpper(s),
            "lower" => (_, _) => PyLower(s),
            "casefold" => (_, _) => PyLower(s),
            "strip" => (_, a) => Strip(s, a.Get(0, "chars", null), true, true),
            "lstrip" => (_, a) => Strip(s, a.Get(0, "chars", null), true, false),
            "rstrip" => (_, a) => Strip(s, a.Get(0, "chars", null), false, true),
            "title" => (_, _) => PyTitle(s),
            "capitalize" => (_, _) => Capitalize(s),
            "swapcase" => (_, _) => string.Concat(s.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))),
            "split" => (i, a) => Split(i, s, a.Get(0, "sep", null), a.Get(1, "maxsplit", null)),
            "rsplit" => (i, a) => RSplit(i, s, a.Get(0, "sep", null), a.Get(1, "maxsplit", null)),
            "splitlines" => (_, _) => new ListValue(SplitLines(s).Select(x => (object?)x).ToList()),
            "startswith" => (_, a) => StartsOrEnds(s, a.Get(0, "prefix", null), true),
            "endswith" => (_, a) => StartsOrEnds(s, a.Get(0, "suffix", null), false),
            "replace" => (i, a) => Replace(i, s, a.Get(0, "old", null), a.Get(1, "new", null), a.Get(2, "count", null)),
            "find" => (_, a) => RuneIndex(s, s.IndexOf(a.Get(0, "sub", null) as string ?? throw Error("find() argument must be str"), StringComparison.Ordinal)),
            "rfind" => (_, a) => RuneIndex(s, s.LastIndexOf(a.Get(0, "sub", null) as string ?? throw Error("rfind() argument must be str"), StringComparison.Ordinal)),
            "index" => (_, a) =>
            {
                long r = RuneIndex(s, s.IndexOf(a.Get(0, "sub", null) as string ?? throw Error("index() argument must be str"), StringComparison.Ordinal));
                return r < 0 ? throw Error("substring not found") : r;
            },
            "count" => (_, a) =>
            {
                string sub = a.Get(0, "sub", null) as string ?? throw Error("count() argument must be str");
                if (sub.Length == 0) return (long)RuneLength(s) + 1;
                long n = 0;
                for (int p = s.IndexOf(sub, StringComparison.Ordinal); p >= 0; p = s.IndexOf(sub, p + sub.Length, StringComparison.Ordinal)) n++;
                return n;
            },
            "join" => (i, a) =>
            {
                var sb = new StringBuilder();
                var items = i.Materialize(a.Get(0, "iterable", null));
                for (int k = 0; k < items.Count; k++)
                {
                    if (k > 0) sb.Append(s);
                    sb.Append(items[k] as string ?? throw Error($"sequence item {k}: expected str instance, {JinjaValues.TypeName(items[k])} found"));
                    if (sb.Length > i.Limits.MaxOutputChars) i.CheckSize(sb.ToString());
                }
                return i.CheckSize(sb.ToString());
            },
            "format" => (i, a) => PyFormat(i, s, a),
            "removeprefix" => (_, a) => a.Get(0, "prefix", null) is string p && s.StartsWith(p, StringComparison.Ordinal) ? s[p.Length..] : s,
            "removesuffix" => (_, a) => a.Get(0, "suffix", null) is string p && p.Length > 0 && s.EndsWith(p, StringComparison.Ordinal) ? s[..^p.Length] : s,
            "isdigit" or "isnumeric" or "isdecimal" => (_, _) => s.Length > 0 && s.All(char.IsDigit),
            "isalpha" => (_, _) => s.Length > 0 && s.All(char.IsLetter),
            "isalnum" => (_, _) => s.Length > 0 && s.All(char.IsLetterOrDigit),
            "isspace" => (_, _) => s.Length > 0 && s.All(IsPyWhite),
            "islower" => (_, _) => s.Any(char.IsLetter) && s == PyLower(s),
            "isupper" => (_, _) => s.Any(char.IsLetter) && s == PyUpper(s),
            _ => null,
        };
        return body == null ? null : new BuiltinFunction(name, body);
    }

    public static Callable? DictMethod(DictValue d, string name)
    {
        Func<JinjaInterpreter, Args, object?>? body = name switch
        {
            "items" => (_, _) => Items(d),
            "keys" => (_, _) => new ListValue(d.Map.Keys.Select(k => (object?)k).ToList()),
            "values" => (_, _) => new ListValue(d.Map.Values.ToList()),
            "get" => (_, a) => a.Get(0, "key", null) is string k && d.Map.TryGetValue(k, out var v) ? v : a.Get(1, "default", null),
            _ => null,
        };
        return body == null ? null : new BuiltinFunction(name, body);
    }

    public static Callable? ListMethod(ListValue l, string name)
    {
        Func<JinjaInterpreter, Args, object?>? body = name switch
        {
            "count" => (i, a) =>
            {
                i.Charge(l.Items.Count);
                var x = a.Get(0, "value", null);
                return (long)l.Items.Count(y => JinjaValues.Equals(x, y));
            },
            "index" => (i, a) =>
            {
                i.Charge(l.Items.Count);
                var x = a.Get(0, "value", null);
                int idx = l.Items.FindIndex(y => JinjaValues.Equals(x, y));
                return idx < 0 ? throw Error($"{JinjaValues.Repr(x)} is not in list") : (long)idx;
            },
            _ => null,
        };
        return body == null ? null : new BuiltinFunction(name, body);
    }

    // ------------------------------------------------------------------ globals

    public static Scope CreateGlobals()
    {
        var g = new Scope(null);
        g.Set("range", new BuiltinFunction("range", (i, a) =>
        {
            long start = 0, stop, step = 1;
            if (a.Count == 1) stop = ToLong(a.Positional[0], "range() argument");
            else if (a.Count is 2 or 3)
            {
                start = ToLong(a.Positional[0], "range() argument");
                stop = ToLong(a.Positional[1], "range() argument");
                if (a.Count == 3) step = ToLong(a.Positional[2], "range() argument");
            }
            else throw Error($"range expected 1 to 3 arguments, got {a.Count}");
            if (step == 0) throw Error("range() arg 3 must not be zero");
            long count = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0) : (start > stop ? (start - stop - step - 1) / -step : 0);
            i.CheckCount(count);
            var items = new List<object?>((int)count);
            for (long k = 0; k < count; k++) items.Add(start + k * step);
            return new ListValue(items);
        }));
        g.Set("namespace", new BuiltinFunction("namespace", (_, a) =>
        {
            var ns = new NamespaceValue();
            foreach (var p in a.Positional)
            {
                if (p is DictValue d && p is not NamespaceValue)
                    foreach (var kv in d.Map) ns.Map[kv.Key] = kv.Value;
                else throw Error("namespace() positional arguments must be mappings");
            }
            if (a.Keyword != null)
                foreach (var kv in a.Keyword) ns.Map[kv.Key] = kv.Value;
            return ns;
        }));
        g.Set("dict", new BuiltinFunction("dict", (_, a) =>
        {
            var d = new DictValue();
            foreach (var p in a.Positional)
            {
                if (p is DictValue src && p is not NamespaceValue)
                    foreach (var kv in src.Map) d.Map[kv.Key] = kv.Value;
                else throw Error("dict() positional arguments must be mappings");
            }
            if (a.Keyword != null)
                foreach (var kv in a.Keyword) d.Map[kv.Key] = kv.Value;
            return d;
        }));
        g.Set("raise_exception", new BuiltinFunction("raise_exception", (_, a) =>
            throw new TemplateException(TemplateErrorKind.Raised, a.Count > 0 ? Str(a.Positional[0]) : "raise_exception() called")));
        g.Set("strftime_now", new BuiltinFunction("strftime_now", (i, a) =>
        {
            if (a.Get(0, "format", null) is not string fmt) throw Error("strftime_now() needs a format string");
            return Strftime(i.Now ?? DateTimeOffset.Now, fmt);
        }));
        return g;
    }

    /// <summary>Python's strftime for the common directives, with English (C locale) names.</summary>
    public static string Strftime(DateTimeOffset t, string fmt)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        for (int i = 0; i < fmt.Length; i++)
        {
            if (fmt[i] != '%' || i + 1 >= fmt.Length) { sb.Append(fmt[i]); continue; }
            char c = fmt[++i];
            sb.Append(c switch
            {
                'Y' => t.Year.ToString("0000", inv),
                'y' => (t.Year % 100).ToString("00", inv),
                'm' => t.Month.ToString("00", inv),
                'd' => t.Day.ToString("00", inv),
                'e' => t.Day.ToString(inv).PadLeft(2),
                'H' => t.Hour.ToString("00", inv),
                'I' => ((t.Hour + 11) % 12 + 1).ToString("00", inv),
                'M' => t.Minute.ToString("00", inv),
                'S' => t.Second.ToString("00", inv),
                'f' => (t.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", inv),
                'p' => t.Hour < 12 ? "AM" : "PM",
                'b' or 'h' => inv.DateTimeFormat.GetAbbreviatedMonthName(t.Month),
                'B' => inv.DateTimeFormat.GetMonthName(t.Month),
                'a' => inv.DateTimeFormat.GetAbbreviatedDayName(t.DayOfWeek),
                'A' => inv.DateTimeFormat.GetDayName(t.DayOfWeek),
                'j' => t.DayOfYear.ToString("000", inv),
                'w' => ((int)t.DayOfWeek).ToString(inv),
                'z' => (t.Offset < TimeSpan.Zero ? "-" : "+") + t.Offset.Duration().ToString("hhmm", inv),
                '%' => "%",
                _ => "%" + c,
            });
        }
        return sb.ToString();
    }
}
