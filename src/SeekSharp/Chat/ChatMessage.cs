using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SeekSharp.Chat;

/// <summary>
/// One turn of a conversation. Assistant turns keep the answer in <see cref="Content"/> and the model's reasoning
/// (the text of its think block) in <see cref="ReasoningContent"/>, as OpenAI-style APIs and the chat templates name
/// them; templates decide themselves whether earlier reasoning is shown to the model again.
/// </summary>
public sealed record ChatMessage(string Role, string Content, string? ReasoningContent = null)
{
    public static ChatMessage System(string content) => new("system", content);
    public static ChatMessage User(string content) => new("user", content);
    public static ChatMessage Assistant(string content, string? reasoning = null) => new("assistant", content, reasoning);

    /// <summary>The message as the templates see it: {"role", "content"[, "reasoning_content"]}.</summary>
    public JsonObject ToJson()
    {
        var o = new JsonObject { ["role"] = Role, ["content"] = Content };
        if (ReasoningContent != null) o["reasoning_content"] = ReasoningContent;
        return o;
    }

    /// <summary>Reads {"role", "content", "reasoning_content"?}; a null content reads as empty.</summary>
    public static ChatMessage FromJson(JsonNode? node)
    {
        if (node is not JsonObject o) throw new JsonException("a message must be a JSON object");
        string role = o["role"] is JsonValue r && r.TryGetValue(out string? rs) ? rs
            : throw new JsonException("a message has no \"role\" string");
        string content = o["content"] switch
        {
            null => "",
            JsonValue v when v.TryGetValue(out string? s) => s,
            _ => throw new JsonException($"the content of a {role} message must be a string"),
        };
        string? reasoning = o["reasoning_content"] is JsonValue rv && rv.TryGetValue(out string? rc) ? rc : null;
        return new ChatMessage(role, content, reasoning);
    }

    /// <summary>A conversation as a JSON array (what <c>/save</c> writes), indented.</summary>
    public static string ToJson(IEnumerable<ChatMessage> messages)
    {
        var array = new JsonArray();
        foreach (var m in messages) array.Add(m.ToJson());
        return array.ToJsonString(new JsonSerializerOptions { WriteIndented = true, Encoder = global::System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    /// <summary>Reads a conversation: a JSON array of messages, or an object with a "messages" array.</summary>
    public static List<ChatMessage> ListFromJson(string json)
    {
        var (messages, _) = ParseConversation(json);
        return messages.Select(FromJson).ToList();
    }

    /// <summary>
    /// Splits a conversation file into its messages and optional tools, as given (tool calls and other fields are
    /// kept): either a JSON array of messages or an object {"messages": [...], "tools": [...]?}.
    /// </summary>
    public static (JsonArray Messages, JsonArray? Tools) ParseConversation(string json)
    {
        var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 256 });
        switch (root)
        {
            case JsonArray a:
                return (a, null);
            case JsonObject o when o["messages"] is JsonArray m:
                var tools = o["tools"] switch
                {
                    null => null,
                    JsonArray t => t,
                    _ => throw new JsonException("\"tools\" must be an array"),
                };
                o.Remove("messages");
                if (tools != null) o.Remove("tools");
                return (m, tools);
            default:
                throw new JsonException("expected an array of messages or an object with a \"messages\" array");
        }
    }

    /// <summary>Writes a conversation file atomically: a temporary file next to it, then a rename.</summary>
    public static void Save(string path, IEnumerable<ChatMessage> messages)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllText(temp, ToJson(messages) + "\n", new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>Reads a conversation file written by <see cref="Save"/> (or any array / {"messages"} file).</summary>
    public static List<ChatMessage> Load(string path) => ListFromJson(File.ReadAllText(path));
}
