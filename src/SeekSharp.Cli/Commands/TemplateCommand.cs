using System.CommandLine;
using System.Text.Json;
using SeekSharp.Chat;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;
using System.Text.Json.Nodes;

namespace SeekSharp.Cli.Commands;

/// <summary>
/// <c>seek template</c>: renders a conversation with a model's chat template and prints the prompt exactly as the
/// model would see it (no newline added). The template comes from a GGUF file or a tokenizer_config.json.
/// </summary>
internal static class TemplateCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model(required: false);
        var config = new Option<string?>("--tokenizer-config") { Description = "take the template and BOS/EOS from a Hugging Face tokenizer_config.json" };
        var messages = new Option<string>("--messages") { Description = "conversation: a JSON array of messages, or an object with \"messages\" (and \"tools\")", Required = true };
        var generation = new Option<bool>("--add-generation-prompt") { Description = "end with the opening of an assistant turn" };
        var tools = new Option<string?>("--tools") { Description = "JSON array of tool definitions (overrides the conversation's)" };
        var name = new Option<string?>("--template-name") { Description = "named template variant (default: \"default\")" };
        var cmd = new Command("template", "Render a conversation with a model's chat template")
        {
            model, config, messages, generation, tools, name,
        };
        cmd.SetAction(r =>
        {
            string? modelPath = r.GetValue(model), configPath = r.GetValue(config);
            if ((modelPath == null) == (configPath == null))
                throw new CliException("give either -m MODEL or --tokenizer-config FILE");
            var (source, bos, eos) = modelPath != null ? FromModel(modelPath, r.GetValue(name)) : FromConfig(configPath!, r.GetValue(name));

            JsonArray conversation;
            JsonArray? toolList;
            try
            {
                (conversation, toolList) = ChatMessage.ParseConversation(CommonOptions.ReadTextFile(r.GetValue(messages)!));
                if (r.GetValue(tools) is string toolsPath)
                    toolList = System.Text.Json.Nodes.JsonNode.Parse(CommonOptions.ReadTextFile(toolsPath)) as JsonArray
                        ?? throw new CliException($"{toolsPath}: tools must be a JSON array");
            }
            catch (JsonException e)
            {
                throw new CliException($"invalid JSON: {e.Message}");
            }

            try
            {
                var template = ChatTemplate.Parse(source);
                string prompt = template.Render(new ChatTemplateContext
                {
                    Messages = conversation,
                    Tools = toolList,
                    AddGenerationPrompt = r.GetValue(generation),
                    BosToken = bos,
                    EosToken = eos,
                });
                io.Out.Write(prompt);
                io.Out.Flush();
            }
            catch (TemplateException e)
            {
                throw new CliException($"template: {e.Message}");
            }
            return 0;
        });
        return cmd;
    }

    private static (string Source, string? Bos, string? Eos) FromModel(string path, string? name)
    {
        using var file = GgufFile.Open(path);
        string source = ModelChatTemplate.FromGguf(file, name)
            ?? throw new CliException(name == null ? $"{path} has no chat template (tokenizer.chat_template)" : $"{path} has no chat template named '{name}'");
        string? bos = null, eos = null;
        if (file.TryGetValue("tokenizer.ggml.tokens", out var tokensValue))
        {
            string[] tokens = tokensValue.AsArray().AsStrings();
            string? Text(string key) => file.TryGetValue(key, out var v) && v.AsInt64() is long id && id >= 0 && id < tokens.Length ? tokens[id] : null;
            bos = Text("tokenizer.ggml.bos_token_id");
            eos = Text("tokenizer.ggml.eos_token_id");
        }
        return (source, bos, eos);
    }

    private static (string Source, string? Bos, string? Eos) FromConfig(string path, string? name)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(CommonOptions.ReadTextFile(path));
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: invalid JSON: {e.Message}");
        }
        using (doc)
        {
            string source = ModelChatTemplate.FromTokenizerConfig(doc.RootElement, name)
                ?? throw new CliException($"{path} has no chat_template");
            return (source, HuggingFaceTokenizerJson.SpecialTokenContent(doc.RootElement, "bos_token"),
                HuggingFaceTokenizerJson.SpecialTokenContent(doc.RootElement, "eos_token"));
        }
    }
}
