using System.Text.Json;
using SeekSharp.Gguf;

namespace SeekSharp.Chat;

/// <summary>
/// Where a model's chat template comes from: the GGUF key <c>tokenizer.chat_template</c> (named variants under
/// <c>tokenizer.chat_template.NAME</c>), or a Hugging Face <c>tokenizer_config.json</c> whose <c>chat_template</c> is a
/// string or a list of {name, template}. Models without one get ChatML, as llama.cpp falls back to it.
/// </summary>
public static class ModelChatTemplate
{
    /// <summary>ChatML: llama.cpp's fallback format for models that carry no template.</summary>
    public const string ChatML =
        "{%- for message in messages -%}" +
        "{{- '<|im_start|>' + message['role'] + '\\n' + (message['content'] if message['content'] is not none else '') + '<|im_end|>\\n' -}}" +
        "{%- endfor -%}" +
        "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}";

    /// <summary>The template stored in a GGUF file, or null; <paramref name="name"/> picks a named variant.</summary>
    public static string? FromGguf(GgufFile file, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        string key = string.IsNullOrEmpty(name) || name == "default" ? "tokenizer.chat_template" : $"tokenizer.chat_template.{name}";
        return file.TryGetValue(key, out var v) ? v.AsString() : null;
    }

    /// <summary>
    /// The template of a tokenizer_config.json: the <c>chat_template</c> string, or from a list of {name, template}
    /// the one named <paramref name="name"/> ("default" when null). Null when the config has none; an unknown name
    /// throws <see cref="ArgumentException"/> listing the available ones.
    /// </summary>
    public static string? FromTokenizerConfig(JsonElement config, string? name = null)
    {
        if (config.ValueKind != JsonValueKind.Object || !config.TryGetProperty("chat_template", out var t)) return null;
        if (t.ValueKind == JsonValueKind.String)
        {
            if (name != null && name != "default")
                throw new ArgumentException($"chat template '{name}' not found (the config has a single template)");
            return t.GetString();
        }
        if (t.ValueKind != JsonValueKind.Array) return null;
        var variants = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in t.EnumerateArray())
        {
            if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String
                && item.TryGetProperty("template", out var s) && s.ValueKind == JsonValueKind.String)
                variants[n.GetString()!] = s.GetString()!;
        }
        string wanted = name ?? "default";
        return variants.TryGetValue(wanted, out string? found) ? found
            : throw new ArgumentException($"chat template '{wanted}' not found (available: {string.Join(", ", variants.Keys)})");
    }
}
