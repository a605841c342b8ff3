using System.CommandLine;
using System.Text;
using SeekSharp.Chat;
using SeekSharp.Inference;

namespace SeekSharp.Cli.Commands;

/// <summary>
/// <c>seek chat</c>: an interactive conversation in the terminal, rendered with the model's chat template, the KV
/// cache reused between turns. Reasoning is streamed dimmed and then folded to one line (<c>/think</c> shows it
/// again), or hidden with <c>--hide-reasoning</c>. Ctrl-C stops the answer being written; at the prompt Ctrl-C or
/// Ctrl-D quits. With <c>-p</c> it answers once: the answer on stdout, the reasoning on stderr.
/// </summary>
internal static class ChatCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "answer this one message and exit" };
        var system = new Option<string?>("--system") { Description = "system prompt" };
        var n = new Option<int>("--n-predict", "-n") { Description = "most tokens per answer (-1: until end of generation or full context)", DefaultValueFactory = _ => -1 };
        var sampling = new CommonOptions.SamplingFlags();
        var threads = CommonOptions.Threads();
        var ctx = CommonOptions.Context();
        var batch = CommonOptions.Batch();
        var cacheType = CommonOptions.CacheType();
        var noRepack = CommonOptions.NoRepack();
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "keep generating past end-of-generation tokens" };
        var hide = new Option<bool>("--hide-reasoning") { Description = "do not show the model's reasoning" };
        var templateFile = new Option<string?>("--chat-template-file") { Description = "use this Jinja chat template instead of the model's" };
        var cmd = new Command("chat", "Chat with a model (interactive; -p for one answer)")
        {
            model, prompt, system, n, threads, ctx, batch, cacheType, noRepack, ignoreEos, hide, templateFile,
        };
        foreach (var o in sampling.All) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            CommonOptions.CheckThreads(r.GetValue(threads));
            CommonOptions.CheckContext(r.GetValue(ctx));
            if (r.GetValue(batch) <= 0) throw new CliException($"--batch-size must be positive, got {r.GetValue(batch)}");
            var options = new ChatSessionOptions
            {
                SystemPrompt = r.GetValue(system),
                Sampling = sampling.Read(r),
                MaxTokens = r.GetValue(n),
                StopAtEndOfGeneration = !r.GetValue(ignoreEos),
                Template = r.GetValue(templateFile) is string f ? CommonOptions.ReadTextFile(f) : null,
            };
            using var lm = LanguageModel.Load(r.GetValue(model)!, CommonOptions.LoadOptions(r.GetValue(noRepack)));
            using var session = lm.CreateSession(r.GetValue(ctx), r.GetValue(threads), r.GetValue(batch), CommonOptions.ParseCacheType(r.GetValue(cacheType)!));
            ChatSession chat;
            try
            {
                chat = new ChatSession(lm, session, options);
            }
            catch (TemplateException e)
            {
                throw new CliException($"chat template: {e.Message}");
            }
            var terminal = new ChatTerminal(io, io.In, r.GetValue(hide));
            return r.GetValue(prompt) is string question ? terminal.AnswerOnce(chat, question) : terminal.Interact(chat, r.GetValue(model)!, r.GetValue(templateFile));
        });
        return cmd;
    }
}

/// <summary>The terminal side of <c>seek chat</c>: reading lines, commands, and drawing streamed answers.</summary>
internal sealed class ChatTerminal
{
    private const string Faint = "\x1b[2m", Bold = "\x1b[1m", Reset = "\x1b[0m";

    private readonly CliIo _io;
    private readonly TextReader _input;
    private readonly bool _console;     // reading the real console (show a prompt, handle Ctrl-C)
    private readonly bool _color;       // stdout is a terminal that takes ANSI styles
    private readonly bool _errColor;    // same for stderr
    private readonly bool _hideReasoning;
    private string _lastReasoning = "";
    private CancellationTokenSource? _answering;

    public ChatTerminal(CliIo io, TextReader? input, bool hideReasoning)
    {
        _io = io;
        _console = input == null;
        _input = input ?? Console.In;
        bool noColor = !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"));
        _color = !noColor && ReferenceEquals(io.Out, Console.Out) && !Console.IsOutputRedirected;
        _errColor = !noColor && ReferenceEquals(io.Err, Console.Error) && !Console.IsErrorRedirected;
        _hideReasoning = hideReasoning;
    }

    /// <summary><c>-p</c>: one answer, content on stdout, reasoning on stderr.</summary>
    public int AnswerOnce(ChatSession chat, string question)
    {
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            bool reasoning = false;
            foreach (var d in Send(chat, question, cancel.Token))
            {
                if (d.Reasoning.Length > 0 && !_hideReasoning)
                {
                    if (!reasoning && _errColor) _io.Err.Write(Faint);
                    reasoning = true;
                    _io.Err.Write(d.Reasoning);
                    _io.Err.Flush();
                }
                if (d.Content.Length > 0)
                {
                    _io.Out.Write(d.Content);
                    _io.Out.Flush();
                }
            }
            if (reasoning) _io.Err.WriteLine(_errColor ? Reset : "");
        }
        catch (Exception e) when (e is ContextFullException or TemplateException)
        {
            throw new CliException(e.Message);
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
        _io.Out.Flush();
        _io.Err.WriteLine();
        WriteStats(chat.LastStats);
        return 0;
    }

    /// <summary>The interactive loop.</summary>
    public int Interact(ChatSession chat, string modelPath, string? templateFile = null)
    {
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            // During an answer Ctrl-C stops only that answer; at the prompt it quits (the default action).
            if (_answering is { } a)
            {
                e.Cancel = true;
                a.Cancel();
            }
        };
        if (_console) Console.CancelKeyPress += onCancel;
        try
        {
            _io.Err.WriteLine(Dim($"seek chat: {Path.GetFileName(modelPath)}, " +
                (templateFile is not null ? $"chat template from {Path.GetFileName(templateFile)}"
                    : chat.UsesFallbackTemplate ? "no chat template in the model: using ChatML" : "chat template from the model") +
                ". /help for commands; Ctrl-C stops an answer, Ctrl-D quits.", _errColor));
            while (true)
            {
                if (_console)
                {
                    _io.Out.Write(_color ? $"{Bold}> {Reset}" : "> ");
                    _io.Out.Flush();
                }
                string? line = _input.ReadLine();
                if (line == null) break; // Ctrl-D / end of input
                if (line.Trim().Length == 0) continue;
                if (line.StartsWith('/'))
                {
                    if (!Command(chat, line.Trim())) break;
                    continue;
                }
                Answer(chat, line);
            }
            if (_console) _io.Out.WriteLine();
            return 0;
        }
        finally
        {
            if (_console) Console.CancelKeyPress -= onCancel;
        }
    }

    /// <summary>Runs a slash command; false means quit.</summary>
    private bool Command(ChatSession chat, string line)
    {
        int space = line.IndexOf(' ');
        string name = space < 0 ? line : line[..space];
        string arg = space < 0 ? "" : line[(space + 1)..].Trim();
        try
        {
            switch (name)
            {
                case "/exit" or "/quit":
                    return false;
                case "/help":
                    _io.Err.WriteLine(Dim(
                        "/reset        forget the conversation (keeps the system prompt)\n" +
                        "/save FILE    write the conversation as JSON messages\n" +
                        "/load FILE    read a conversation written by /save (or any JSON messages file)\n" +
                        "/think        show the reasoning of the last answer\n" +
                        "/help         this list\n" +
                        "/exit         quit (also Ctrl-D, or Ctrl-C at the prompt)\n" +
                        "Ctrl-C while an answer is written stops that answer.", _errColor));
                    break;
                case "/reset":
                    chat.Reset();
                    _lastReasoning = "";
                    _io.Err.WriteLine(Dim("(conversation cleared)", _errColor));
                    break;
                case "/save":
                    if (arg.Length == 0) throw new CliException("usage: /save FILE");
                    ChatMessage.Save(arg, chat.Messages);
                    _io.Err.WriteLine(Dim($"(saved {chat.Messages.Count} messages to {arg})", _errColor));
                    break;
                case "/load":
                    if (arg.Length == 0) throw new CliException("usage: /load FILE");
                    if (!File.Exists(arg)) throw new CliException($"file not found: {arg}");
                    chat.Load(ChatMessage.Load(arg));
                    _io.Err.WriteLine(Dim($"(loaded {chat.Messages.Count} messages from {arg})", _errColor));
                    break;
                case "/think":
                    _io.Err.WriteLine(_lastReasoning.Length == 0 ? Dim("(no reasoning in the last answer)", _errColor) : Dim(_lastReasoning, _errColor));
                    break;
                default:
                    throw new CliException($"unknown command {name} (/help lists them)");
            }
        }
        catch (Exception e) when (e is CliException or IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            _io.Err.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
        }
        return true;
    }

    /// <summary>Streams one answer: reasoning dimmed then folded (or hidden), the answer in plain text.</summary>
    private void Answer(ChatSession chat, string question)
    {
        using var cancel = new CancellationTokenSource();
        _answering = cancel;
        var reasoningText = new StringBuilder();
        var fold = new RowCounter(_color ? ConsoleWidth() : 0);
        bool inReasoning = false, anyContent = false, contentEndsWithNewline = false;
        // Without colours the reasoning goes to stderr, so stdout holds only answers.
        TextWriter reasoningOut = _color ? _io.Out : _io.Err;
        try
        {
            foreach (var d in Send(chat, question, cancel.Token))
            {
                if (d.Reasoning.Length > 0)
                {
                    reasoningText.Append(d.Reasoning);
                    if (!inReasoning)
                    {
                        inReasoning = true;
                        if (_color) reasoningOut.Write(Faint);
                        if (_hideReasoning && _color) { reasoningOut.Write("(thinking…)"); fold.Add("(thinking…)"); }
                    }
                    if (!_hideReasoning)
                    {
                        reasoningOut.Write(d.Reasoning);
                        fold.Add(d.Reasoning);
                    }
                    reasoningOut.Flush();
                }
                if (d.Content.Length > 0)
                {
                    if (inReasoning) { EndReasoning(reasoningOut, fold, chat); inReasoning = false; }
                    _io.Out.Write(d.Content);
                    _io.Out.Flush();
                    anyContent = true;
                    contentEndsWithNewline = d.Content.EndsWith('\n');
                }
            }
            if (inReasoning) EndReasoning(reasoningOut, fold, chat);
            if (anyContent && !contentEndsWithNewline) _io.Out.WriteLine();
            _io.Out.Flush();
            _lastReasoning = reasoningText.ToString();
            WriteStats(chat.LastStats);
        }
        catch (Exception e) when (e is ContextFullException or TemplateException)
        {
            if (_color) _io.Out.Write(Reset);
            _io.Err.WriteLine($"error: {e.Message.ReplaceLineEndings(" ")}");
        }
        finally
        {
            _answering = null;
        }
    }

    /// <summary>Closes the reasoning: folds it to one line when it still fits on screen, else just ends the style.</summary>
    private void EndReasoning(TextWriter output, RowCounter fold, ChatSession chat)
    {
        int tokens = chat.LastStats?.ReasoningTokens ?? 0;
        string summary = _hideReasoning ? $"(reasoning: {tokens} tokens hidden — /think to show)" : $"(reasoning: {tokens} tokens — /think to show)";
        if (_color)
        {
            if (fold.Rows < ConsoleHeight() - 1)
                output.Write("\r" + (fold.Rows > 0 ? $"\x1b[{fold.Rows}A" : "") + "\x1b[J");
            else
                output.Write("\n");
            output.Write(summary + Reset + "\n");
        }
        else
        {
            output.WriteLine();
        }
        output.Flush();
    }

    private IEnumerable<ChatDelta> Send(ChatSession chat, string question, CancellationToken token) => chat.Send(question, token);

    private void WriteStats(ChatTurnStats? s)
    {
        if (s == null) return;
        string line = $"[{s.GeneratedTokens} tokens, {s.GenerationTokensPerSecond:F1} tok/s; prompt {s.EvaluatedPromptTokens} new + {s.CachedTokens} cached tokens, {s.PromptTokensPerSecond:F1} tok/s" +
            (s.StopReason == "cancelled" ? "; stopped]" : s.StopReason == "context" ? "; context full]" : "]");
        _io.Err.WriteLine(Dim(line, _errColor));
        _io.Err.Flush();
    }

    private static string Dim(string text, bool color) => color ? Faint + text + Reset : text;

    private static int ConsoleWidth()
    {
        try { return Math.Max(Console.WindowWidth, 1); } catch (IOException) { return 80; } catch (PlatformNotSupportedException) { return 80; }
    }

    private static int ConsoleHeight()
    {
        try { return Math.Max(Console.WindowHeight, 1); } catch (IOException) { return 24; } catch (PlatformNotSupportedException) { return 24; }
    }

    /// <summary>Counts the terminal rows text moves the cursor down by (line feeds and wraps), to erase it later.</summary>
    private sealed class RowCounter(int width)
    {
        private int _column;
        public int Rows { get; private set; }

        public void Add(string text)
        {
            if (width <= 0) return;
            foreach (char c in text)
            {
                if (c == '\n') { Rows++; _column = 0; continue; }
                if (c == '\r') { _column = 0; continue; }
                if (char.IsLowSurrogate(c)) continue;
                if (_column >= width) { Rows++; _column = 0; }
                _column += c == '\t' ? 8 - _column % 8 : 1;
            }
        }
    }
}
