using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SeekSharp.Chat.Jinja;

// Runtime values are a closed set of types; nothing else can enter the interpreter (this is the sandbox boundary):
//   null            -> Python None
//   Undefined       -> Jinja's default Undefined
//   bool, long, double, string
//   ListValue       -> list / tuple
//   DictValue       -> dict (string keys, insertion order)
//   NamespaceValue  -> namespace(...)
//   LoopValue       -> the `loop` variable
//   Callable        -> builtin functions, bound methods, macros

internal sealed class Undefined
{
    public static readonly Undefined Instance = new(null);
    public readonly string? Name;
    public Undefined(string? name) => Name = name;
}

internal sealed class ListValue
{
    public readonly List<object?> Items;
    public readonly bool IsTuple;
    public ListValue(List<object?> items, bool isTuple = false)
    {
        Items = items;
        IsTuple = isTuple;
    }
}

internal class DictValue
{
    public readonly OrderedDictionary<string, object?> Map;
    public DictValue() => Map = new OrderedDictionary<string, object?>(StringComparer.Ordinal);
    public DictValue(int capacity) => Map = new OrderedDictionary<string, object?>(capacity, StringComparer.Ordinal);
}

internal sealed class NamespaceValue : DictValue { }

internal sealed class LoopValue
{
    public long Index0;
    public long Length;
    public object? Previous = Undefined.Instance;
    public object? Nextitem = Undefined.Instance;
}

internal readonly struct Args
{
    public readonly List<object?> Positional;
    public readonly List<KeyValuePair<string, object?>>? Keyword;

    public Args(List<object?> positional, List<KeyValuePair<string, object?>>? keyword)
    {
        Positional = positional;
        Keyword = keyword;
    }

    public int Count => Positional.Count;

    /// <summary>Argument by position or keyword, else the default.</summary>
    public object? Get(int index, string name, object? fallback)
    {
        if (index >= 0 && index < Positional.Count) return Positional[index];
        if (Keyword != null)
            foreach (var kv in Keyword)
                if (kv.Key == name) return kv.Value;
        return fallback;
    }

    public bool Has(int index, string name)
    {
        if (index >= 0 && index < Positional.Count) return true;
        if (Keyword != null)
            foreach (var kv in Keyword)
                if (kv.Key == name) return true;
        return false;
    }
}

internal abstract class Callable
{
    public abstract string Name { get; }
    public abstract object? Invoke(JinjaInterpreter interp, Args args);
}

internal sealed class BuiltinFunction(string name, Func<JinjaInterpreter, Args, object?> body) : Callable
{
    public override string Name => name;
    public override object? Invoke(JinjaInterpreter interp, Args args) => body(interp, args);
}

internal static class JinjaValues
{
    public static TemplateException Error(string message) => new(TemplateErrorKind.Runtime, message);

    public static string TypeName(object? v) => v switch
    {
        null => "NoneType",
        Undefined => "Undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "str",
        ListValue l => l.IsTuple ? "tuple" : "list",
        NamespaceValue => "Namespace",
        DictValue => "dict",
        LoopValue => "LoopContext",
        Callable => "function",
        _ => v.GetType().Name,
    };

    public static bool IsTruthy(object? v) => v switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ListValue l => l.Items.Count > 0,
        NamespaceValue => true,
        DictValue d => d.Map.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? v) => v is long or double or bool;

    public static double ToDouble(object? v) => v switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw Error($"expected a number, got {TypeName(v)}"),
    };

    /// <summary>str(value) as Jinja prints it.</summary>
    public static string ToStr(object? v) => v switch
    {
        string s => s,
        null => "None",
        Undefined => "",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FloatRepr(d),
        _ => Repr(v),
    };

    /// <summary>repr(value) in Python syntax (used when printing containers).</summary>
    public static string Repr(object? v)
    {
        var sb = new StringBuilder();
        AppendRepr(sb, v, 0);
        return sb.ToString();
    }

    private static void AppendRepr(StringBuilder sb, object? v, int depth)
    {
        if (depth > 256) throw new TemplateException(TemplateErrorKind.LimitExceeded, "value nesting is too deep to print");
        switch (v)
        {
            case string s:
                AppendStringRepr(sb, s);
                break;
            case ListValue l:
                sb.Append(l.IsTuple ? '(' : '[');
                for (int i = 0; i < l.Items.Count; i++)
                {
                    if (i > 0) sb.Append(", ");
                    AppendRepr(sb, l.Items[i], depth + 1);
                }
                if (l.IsTuple && l.Items.Count == 1) sb.Append(',');
                sb.Append(l.IsTuple ? ')' : ']');
                break;
            case NamespaceValue ns:
                sb.Append("<Namespace ");
                AppendDictRepr(sb, ns, depth);
                sb.Append('>');
                break;
            case DictValue d:
                AppendDictRepr(sb, d, depth);
                break;
            case LoopValue:
                sb.Append("<LoopContext>");
                break;
            case Callable c:
                sb.Append("<function ").Append(c.Name).Append('>');
                break;
            default:
                sb.Append(ToStr(v));
                break;
        }
    }

    private static void AppendDictRepr(StringBuilder sb, DictValue d, int depth)
    {
        sb.Append('{');
        bool first = true;
        foreach (var kv in d.Map)
        {
            if (!first) sb.Append(", ");
            first = false;
            AppendStringRepr(sb, kv.Key);
            sb.Append(": ");
            AppendRepr(sb, kv.Value, depth + 1);
        }
        sb.Append('}');
    }

    private static void AppendStringRepr(StringBuilder sb, string s)
    {
        char quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        sb.Append(quote);
        foreach (char c in s)
        {
            switch (c)
            {
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c == quote) sb.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) sb.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append(quote);
    }

    /// <summary>Python's repr(float): shortest round-trip digits, fixed notation for 1e-4 &lt;= |x| &lt; 1e16.</summary>
    public static string FloatRepr(double d)
    {
        if (double.IsNaN(d)) return "nan";
        if (double.IsPositiveInfinity(d)) return "inf";
        if (double.IsNegativeInfinity(d)) return "-inf";
        if (d == 0) return double.IsNegative(d) ? "-0.0" : "0.0";

        string r = d.ToString("R", CultureInfo.InvariantCulture);
        bool negative = r[0] == '-';
        if (negative) r = r[1..];
        int exp = 0;
        int ePos = r.IndexOfAny(['E', 'e']);
        if (ePos >= 0)
        {
            exp = int.Parse(r[(ePos + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            r = r[..ePos];
        }
        int dot = r.IndexOf('.');
        string digits = dot >= 0 ? r.Remove(dot, 1) : r;
        int pointPos = (dot >= 0 ? dot : r.Length) + exp; // decimal point position relative to digits[0]
        int lead = 0;
        while (lead < digits.Length - 1 && digits[lead] == '0') { lead++; pointPos--; }
        digits = digits[lead..].TrimEnd('0');
        if (digits.Length == 0) digits = "0";
        int sciExp = pointPos - 1;

        var sb = new StringBuilder();
        if (negative) sb.Append('-');
        if (sciExp >= -5 + 1 && sciExp < 16)
        {
            if (pointPos <= 0)
            {
                sb.Append("0.").Append('0', -pointPos).Append(digits);
            }
            else if (pointPos >= digits.Length)
            {
                sb.Append(digits).Append('0', pointPos - digits.Length).Append(".0");
            }
            else
            {
                sb.Append(digits, 0, pointPos).Append('.').Append(digits, pointPos, digits.Length - pointPos);
            }
        }
        else
        {
            sb.Append(digits[0]);
            if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
            sb.Append('e').Append(sciExp < 0 ? '-' : '+').Append(Math.Abs(sciExp).ToString("00", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    public static new bool Equals(object? a, object? b) => Equal(a, b, 0);

    private static bool Equal(object? a, object? b, int depth)
    {
        if (depth > 256) throw new TemplateException(TemplateErrorKind.LimitExceeded, "value nesting is too deep to compare");
        if (a is null || b is null) return a is null && b is null;
        if (a is Undefined || b is Undefined) return a is Undefined && b is Undefined;
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is long la && b is long lb) return la == lb;
            return ToDouble(a) == ToDouble(b);
        }
        if (a is string sa) return b is string sb && string.Equals(sa, sb, StringComparison.Ordinal);
        if (a is ListValue xa)
        {
            if (b is not ListValue xb || xa.Items.Count != xb.Items.Count) return false;
            for (int i = 0; i < xa.Items.Count; i++)
                if (!Equal(xa.Items[i], xb.Items[i], depth + 1)) return false;
            return true;
        }
        if (a is DictValue da && a is not NamespaceValue)
        {
            if (b is not DictValue db || b is NamespaceValue || da.Map.Count != db.Map.Count) return false;
            foreach (var kv in da.Map)
                if (!db.Map.TryGetValue(kv.Key, out var other) || !Equal(kv.Value, other, depth + 1)) return false;
            return true;
        }
        return ReferenceEquals(a, b);
    }

    /// <summary>Python ordering for &lt; &gt; &lt;= &gt;= and sorting.</summary>
    public static int Compare(object? a, object? b, bool caseSensitive = true)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            if (a is long la && b is long lb) return la.CompareTo(lb);
            return ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string sa && b is string sb)
        {
            if (!caseSensitive)
            {
                sa = sa.ToLowerInvariant();
                sb = sb.ToLowerInvariant();
            }
            return string.CompareOrdinal(sa, sb);
        }
        if (a is ListValue xa && b is ListValue xb)
        {
            int n = Math.Min(xa.Items.Count, xb.Items.Count);
            for (int i = 0; i < n; i++)
            {
                if (Equals(xa.Items[i], xb.Items[i])) continue;
                return Compare(xa.Items[i], xb.Items[i], caseSensitive);
            }
            return xa.Items.Count.CompareTo(xb.Items.Count);
        }
        throw Error($"'<' not supported between instances of '{TypeName(a)}' and '{TypeName(b)}'");
    }

    // ------------------------------------------------------------------ conversion from the host

    /// <summary>Converts input data (JsonNode trees, JsonElement, primitives, dictionaries, lists) into runtime values.</summary>
    public static object? FromHost(object? value, int depth = 0)
    {
        if (depth > 512) throw new TemplateException(TemplateErrorKind.LimitExceeded, "input data is nested too deeply");
        switch (value)
        {
            case null: return null;
            case string s: return s;
            case bool b: return b;
            case int i: return (long)i;
            case long l: return l;
            case uint ui: return (long)ui;
            case short sh: return (long)sh;
            case byte by: return (long)by;
            case double d: return d;
            case float f: return (double)f;
            case decimal m: return (double)m;
            case JsonObject o:
            {
                var dict = new DictValue(o.Count);
                foreach (var kv in o) dict.Map[kv.Key] = FromHost(kv.Value, depth + 1);
                return dict;
            }
            case JsonArray a:
            {
                var list = new List<object?>(a.Count);
                foreach (var item in a) list.Add(FromHost(item, depth + 1));
                return new ListValue(list);
            }
            case JsonValue jv:
                return FromJsonValue(jv, depth);
            case JsonElement je:
                return FromElement(je, depth);
            case IDictionary<string, JsonNode?> dn:
            {
                var dict = new DictValue(dn.Count);
                foreach (var kv in dn) dict.Map[kv.Key] = FromHost(kv.Value, depth + 1);
                return dict;
            }
            case IDictionary<string, object?> d:
            {
                var dict = new DictValue(d.Count);
                foreach (var kv in d) dict.Map[kv.Key] = FromHost(kv.Value, depth + 1);
                return dict;
            }
            case IDictionary<string, string> ds:
            {
                var dict = new DictValue(ds.Count);
                foreach (var kv in ds) dict.Map[kv.Key] = kv.Value;
                return dict;
            }
            case System.Collections.IEnumerable e:
            {
                var list = new List<object?>();
                foreach (var item in e) list.Add(FromHost(item, depth + 1));
                return new ListValue(list);
            }
            default:
                // No reflection over arbitrary objects: only data crosses into the sandbox.
                throw new TemplateException(TemplateErrorKind.Runtime, $"values of type {value.GetType().Name} cannot be passed to a template");
        }
    }

    private static object? FromJsonValue(JsonValue jv, int depth)
    {
        if (jv.TryGetValue(out JsonElement el)) return FromElement(el, depth);
        if (jv.TryGetValue(out string? s)) return s;
        if (jv.TryGetValue(out bool b)) return b;
        if (jv.TryGetValue(out long l)) return l;
        if (jv.TryGetValue(out int i)) return (long)i;
        if (jv.TryGetValue(out double d)) return d;
        if (jv.TryGetValue(out float f)) return (double)f;
        if (jv.TryGetValue(out decimal m)) return (double)m;
        // Any other CLR value wrapped in a JsonValue (DateTime, Guid, enums...) goes in as its JSON form.
        using var doc = JsonDocument.Parse(jv.ToJsonString());
        return FromElement(doc.RootElement, depth);
    }

    private static object? FromElement(JsonElement el, int depth)
    {
        if (depth > 512) throw new TemplateException(TemplateErrorKind.LimitExceeded, "input data is nested too deeply");
        switch (el.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return el.GetString();
            case JsonValueKind.Number:
            {
                // Integers stay integers (so they print without ".0"); anything with a fraction or exponent is a float.
                string raw = el.GetRawText();
                if (raw.IndexOfAny(['.', 'e', 'E']) < 0 && el.TryGetInt64(out long l)) return l;
                return el.GetDouble();
            }
            case JsonValueKind.Array:
            {
                var list = new List<object?>(el.GetArrayLength());
                foreach (var item in el.EnumerateArray()) list.Add(FromElement(item, depth + 1));
                return new ListValue(list);
            }
            case JsonValueKind.Object:
            {
                var dict = new DictValue();
                foreach (var p in el.EnumerateObject()) dict.Map[p.Name] = FromElement(p.Value, depth + 1);
                return dict;
            }
            default:
                return null;
        }
    }
}
