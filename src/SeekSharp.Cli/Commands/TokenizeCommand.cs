using System.CommandLine;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek tokenize -m MODEL [--no-bos] TEXT|-f FILE</c>: prints the token ids as a JSON array.</summary>
internal static class TokenizeCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model();
        var file = CommonOptions.File();
        var noBos = new Option<bool>("--no-bos") { Description = "do not add the BOS token even if the model wants one" };
        var noSpecial = new Option<bool>("--no-parse-special") { Description = "treat text that spells special tokens as plain text" };
        var text = new Argument<string?>("text") { Description = "text to tokenize", Arity = ArgumentArity.ZeroOrOne };
        var cmd = new Command("tokenize", "Print the token ids of a text as a JSON array") { model, file, noBos, noSpecial, text };
        cmd.SetAction(r =>
        {
            string input = r.GetValue(file) is string f ? CommonOptions.ReadTextFile(f)
                : r.GetValue(text) ?? throw new CliException("give the text as an argument or with -f FILE");
            using var gguf = GgufFile.Open(r.GetValue(model)!);
            var tokenizer = new BpeTokenizer(GgufVocabulary.Read(gguf));
            int[] ids = tokenizer.Encode(input, addSpecial: !r.GetValue(noBos), parseSpecial: !r.GetValue(noSpecial));
            io.Out.WriteLine("[" + string.Join(", ", ids) + "]");
            return 0;
        });
        return cmd;
    }
}
