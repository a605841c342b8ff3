using System.CommandLine;
using SeekSharp.Cli.Commands;
using SeekSharp.Gguf;
using SeekSharp.Inference;

namespace SeekSharp.Cli;

/// <summary>The <c>seek</c> command line. Runs in-process with explicit writers so tests can drive it directly.</summary>
public static class SeekCli
{
    /// <param name="stdin">Where interactive commands (<c>seek chat</c>) read lines; null reads the console.</param>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr, TextReader? stdin = null)
    {
        var io = new CliIo(stdout, stderr, stdin);
        var root = new RootCommand("SeekSharp: run DeepSeek-class language models from GGUF files on the CPU, in pure C#.");
        root.Subcommands.Add(InfoCommand.Create(io));
        root.Subcommands.Add(TokenizeCommand.Create(io));
        root.Subcommands.Add(RunCommand.Create(io));
        root.Subcommands.Add(PerplexityCommand.Create(io));
        root.Subcommands.Add(ModelCommand.Create(io));
        root.Subcommands.Add(QuantizeCommand.Create(io));
        root.Subcommands.Add(TemplateCommand.Create(io));
        root.Subcommands.Add(ChatCommand.Create(io));
        root.Subcommands.Add(ConvertCommand.Create(io));
        root.Subcommands.Add(BenchCommand.Create(io));

        ParseResult parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            string message = string.Join(' ', parsed.Errors[0].Message.Split(new[] { '\n', '\r', '\t' }, StringSplitOptions.RemoveEmptyEntries).Select(x => x.Trim()));
            stderr.WriteLine($"seek: {message} (see 'seek {string.Join(' ', CommandPath(parsed))} --help')");
            return 2;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { Output = stdout, Error = stderr, EnableDefaultExceptionHandler = false });
        }
        catch (Exception e) when (Describe(e) is string message)
        {
            stdout.Flush();
            stderr.WriteLine($"seek: error: {message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static IEnumerable<string> CommandPath(ParseResult parsed)
    {
        var names = new List<string>();
        for (var r = parsed.CommandResult; r != null && r.Parent != null; r = r.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, r.Command.Name);
        return names;
    }

    /// <summary>Expected failures (bad input, bad files) become one line; anything else is a bug and keeps its trace.</summary>
    private static string? Describe(Exception e) => e switch
    {
        CliException c => c.Message,
        FileNotFoundException f => f.FileName != null && !f.Message.Contains(f.FileName) ? $"file not found: {f.FileName}" : f.Message,
        DirectoryNotFoundException d => d.Message,
        GgufFormatException g => g.Message,
        NotSupportedException n => n.Message,
        ContextFullException c => c.Message,
        ArgumentException a => a.Message,
        UnauthorizedAccessException u => u.Message,
        IOException io => io.Message,
        InvalidDataException i => i.Message,
        System.Text.Json.JsonException j => $"invalid JSON: {j.Message}",
        _ => null,
    };
}

/// <summary>A user error with a message meant to be shown as is.</summary>
public sealed class CliException(string message) : Exception(message);

/// <summary>Where commands write: stdout for results, stderr for progress, timings and errors; In (null: the
/// console) is where interactive commands read.</summary>
public sealed record CliIo(TextWriter Out, TextWriter Err, TextReader? In = null);
