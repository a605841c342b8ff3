using System.CommandLine;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli.Commands;

/// <summary>
/// <c>seek tokenize (-m MODEL | --tokenizer tokenizer.json [--tokenizer-config tokenizer_config.json]) [--no-bos]
/// TEXT|-f FILE</c>: prints the token ids as a JSON array. With -m the ids are llama.cpp's; with --tokenizer they are
/// the Hugging Face tokenizers library's (add_special_tokens unless --no-bos).
/// </summary>
internal static class TokenizeCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model(required: false);
        var tokenizerJson = new Option<string?>("--tokenizer") { Description = "a Hugging Face tokenizer.json (instead of -m)" };
        var tokenizerConfig = new Option<string?>("--tokenizer-config") { Description = "its tokenizer_config.json (BOS/EOS, add_bos_token)" };
        var file = CommonOptions.File();
        var noBos = new Option<bool>("--no-bos")
        {
            Description = "do not add the BOS token even if the model wants one (with --tokenizer: no post-processing, add_special_tokens = false)",
        };
        var noSpecial = new Option<bool>("--no-parse-special") { Description = "treat text that spells special tokens as plain text" };
        var text = new Argument<string?>("text") { Description = "text to tokenize", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("tokenize", "Print the token ids of a text as a JSON array")
        {
            model, tokenizerJson, tokenizerConfig, file, noBos, noSpecial, text,
        };
        cmd.SetAction(r =>
        {
            string? modelPath = r.GetValue(model), jsonPath = r.GetValue(tokenizerJson), configPath = r.GetValue(tokenizerConfig);
            if ((modelPath is null) == (jsonPath is null))
                throw new CliException("give either -m MODEL or --tokenizer tokenizer.json");
            if (configPath is not null && jsonPath is null)
                throw new CliException("--tokenizer-config needs --tokenizer");
            string input = r.GetValue(file) is string f ? CommonOptions.ReadTextFile(f)
                : r.GetValue(text) ?? throw new CliException("give the text as an argument or with -f FILE");
            BpeTokenizer tokenizer;
            if (jsonPath is not null)
            {
                foreach (string? p in (string?[])[jsonPath, configPath])
                {
                    if (p is not null && !File.Exists(p))
                        throw new CliException($"file not found: {p}");
                }
                try
                {
                    tokenizer = BpeTokenizer.FromTokenizerJson(jsonPath, configPath);
                }
                catch (Exception e) when (e is NotSupportedException or System.Text.Json.JsonException or KeyNotFoundException)
                {
                    throw new CliException($"cannot load {jsonPath}: {e.Message}");
                }
            }
            else
            {
                using var gguf = GgufFile.Open(modelPath!);
                tokenizer = new BpeTokenizer(GgufVocabulary.Read(gguf));
            }
            int[] ids = tokenizer.Encode(input, addSpecial: !r.GetValue(noBos), parseSpecial: !r.GetValue(noSpecial));
            io.Out.WriteLine("[" + string.Join(", ", ids) + "]");
            return 0;
        });
        return cmd;
    }
}
