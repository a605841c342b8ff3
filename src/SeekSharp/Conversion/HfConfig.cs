using System.Text.Json;

namespace SeekSharp.Conversion;

/// <summary>
/// A model's config.json. convert_hf_to_gguf.py reads it through transformers' config classes, which fill in
/// defaults for absent keys; <see cref="WithDefaults"/> supplies the few defaults of the classes we convert.
/// </summary>
public sealed class HfConfig
{
    private readonly Dictionary<string, JsonElement> _values;
    private readonly Dictionary<string, object> _defaults = new(StringComparer.Ordinal);

    private HfConfig(Dictionary<string, JsonElement> values, string path)
    {
        _values = values;
        Path = path;
    }

    public string Path { get; }

    public static HfConfig Load(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { MaxDepth = 64, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object");
        var values = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var p in doc.RootElement.EnumerateObject()) values[p.Name] = p.Value.Clone();
        // multimodal wrappers keep the language model's settings in text_config; they win, as in the converter
        if (values.TryGetValue("text_config", out var text) && text.ValueKind == JsonValueKind.Object)
            foreach (var p in text.EnumerateObject()) values[p.Name] = p.Value.Clone();
        return new HfConfig(values, path);
    }

    /// <summary>Architecture class named first in "architectures".</summary>
    public string? Architecture =>
        _values.TryGetValue("architectures", out var a) && a.ValueKind == JsonValueKind.Array && a.GetArrayLength() > 0 && a[0].ValueKind == JsonValueKind.String
            ? a[0].GetString() : null;

    public HfConfig WithDefaults(params (string Key, object Value)[] defaults)
    {
        foreach (var (k, v) in defaults) _defaults[k] = v;
        return this;
    }

    /// <summary>True when the key is present with a non-null value (or has a class default).</summary>
    public bool Has(string key) => (_values.TryGetValue(key, out var v) && v.ValueKind != JsonValueKind.Null) || _defaults.ContainsKey(key);

    public bool TryGetElement(string key, out JsonElement value)
    {
        if (_values.TryGetValue(key, out value) && value.ValueKind != JsonValueKind.Null) return true;
        value = default;
        return false;
    }

    public int? GetIntOrNull(string key)
    {
        if (TryGetElement(key, out var v))
        {
            if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i)) return i;
            if (v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && d == Math.Floor(d) && Math.Abs(d) <= int.MaxValue) return (int)d;
            throw new InvalidDataException($"{Path}: '{key}' must be an integer");
        }
        return _defaults.TryGetValue(key, out var o) ? Convert.ToInt32(o) : null;
    }

    public int GetInt(string key) => GetIntOrNull(key) ?? throw new InvalidDataException($"{Path}: missing '{key}'");

    public double? GetDoubleOrNull(string key)
    {
        if (TryGetElement(key, out var v))
        {
            if (v.ValueKind == JsonValueKind.Number) return v.GetDouble();
            throw new InvalidDataException($"{Path}: '{key}' must be a number");
        }
        return _defaults.TryGetValue(key, out var o) ? Convert.ToDouble(o) : null;
    }

    public bool? GetBoolOrNull(string key)
    {
        if (TryGetElement(key, out var v))
        {
            if (v.ValueKind is JsonValueKind.True or JsonValueKind.False) return v.GetBoolean();
            throw new InvalidDataException($"{Path}: '{key}' must be true or false");
        }
        return _defaults.TryGetValue(key, out var o) ? (bool)o : null;
    }

    public string? GetStringOrNull(string key)
    {
        if (TryGetElement(key, out var v))
            return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new InvalidDataException($"{Path}: '{key}' must be a string");
        return _defaults.TryGetValue(key, out var o) ? (string)o : null;
    }

    /// <summary>rope_scaling (or transformers 5's rope_parameters) as an object, if any.</summary>
    public JsonElement? RopeScaling =>
        TryGetElement("rope_scaling", out var r) && r.ValueKind == JsonValueKind.Object ? r
        : TryGetElement("rope_parameters", out var p) && p.ValueKind == JsonValueKind.Object ? p : null;
}
