using System.Diagnostics;
using System.Text.Json;
using SeekSharp.Gguf;
using SeekSharp.Tests.Conformance;

namespace SeekSharp.Tests.Cli;

/// <summary>
/// <c>seek chat</c> as a user meets it: the real seek binary in a real terminal (tmux), driven with key presses.
/// Every step waits for what the screen shows (polling <c>tmux capture-pane</c>, with timeouts), never on fixed sleeps.
/// </summary>
public sealed class ChatTerminalTests(TestModels models) : IClassFixture<TestModels>, IDisposable
{
    private static readonly string R1Template = Path.Combine(AppContext.BaseDirectory, "TestData", "chat-templates", "templates", "deepseek-r1-distill-qwen.jinja");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _socket = $"seek-test-{Guid.NewGuid():N}";
    private string? _config;

    private static string TmuxPath =>
        new[] { "/usr/bin/tmux", "/usr/local/bin/tmux", "/bin/tmux" }.FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("tmux is required for the terminal tests (apt-get install tmux; .ci/run installs it)");

    private string Tmux(params string[] args)
    {
        if (_config == null)
        {
            // A private server (own socket, own config): panes stay after their process ends so the exit can be seen.
            _config = Path.Combine(models.Folder, _socket + ".conf");
            File.WriteAllText(_config, "set -g remain-on-exit on\nset -g history-limit 20000\n");
        }
        var psi = new ProcessStartInfo(TmuxPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in new[] { "-L", _socket, "-f", _config }.Concat(args)) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string error = p.StandardError.ReadToEnd();
        Assert.True(p.WaitForExit(10_000), "tmux did not answer");
        Assert.True(p.ExitCode == 0, $"tmux {string.Join(' ', args)}: {error}");
        return output;
    }

    /// <param name="reportExitStatus">Run seek under a shell that prints "[exit status N]" when it ends (tmux's own
    /// #{pane_dead_status} can stay empty when the pane closes before tmux reaps the process). Not for Ctrl-C tests:
    /// the shell would take the SIGINT meant for seek.</param>
    private void Start(string name, bool reportExitStatus, params string[] seekArgs)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "seek.dll");
        string command = string.Join(' ', new[] { "dotnet", dll }.Concat(seekArgs).Select(Quote));
        if (reportExitStatus) command = Quote("sh") + " -c " + Quote(command + "; echo \"[exit status $?]\"");
        Tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "40", "-e", "NO_COLOR=", command);
        WaitFor(name, s => s.Contains("/help for commands"), "the banner");
    }

    private static string Quote(string s) => "'" + s.Replace("'", "'\\''") + "'";

    private string Screen(string name) => Tmux("capture-pane", "-p", "-J", "-S", "-20000", "-t", name);

    private bool Dead(string name) => Tmux("display-message", "-p", "-t", name, "#{pane_dead}").Trim() == "1";

    private string WaitFor(string name, Func<string, bool> condition, string what)
    {
        var clock = Stopwatch.StartNew();
        string screen = "";
        while (clock.Elapsed < Timeout)
        {
            screen = Screen(name);
            if (condition(screen)) return screen;
            if (Dead(name))
            {
                // The pane may have died between the two looks; what it left on screen is final now.
                screen = Screen(name);
                if (condition(screen)) return screen;
                break;
            }
            Thread.Sleep(50);
        }
        Assert.Fail($"waited for {what}; the screen shows:\n{screen[Math.Max(0, screen.Length - 3000)..]}");
        return screen;
    }

    private static int Count(string text, string what) => text.Split(what).Length - 1;

    private void Send(string name, string keys, bool enter = true)
    {
        if (enter) Tmux("send-keys", "-t", name, "-l", keys);
        if (enter) Tmux("send-keys", "-t", name, "Enter");
        else Tmux("send-keys", "-t", name, keys);
    }

    [Fact]
    public void AnswersSavesLoadsAndExits()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        string saved = Path.Combine(models.Folder, $"{_socket}.json");
        Start("a", reportExitStatus: true, "chat", "-m", model, "-n", "8", "--temp", "0", "--ignore-eos", "-t", "2", "--system", "Be brief.");

        Send("a", "What is the capital of France?");
        WaitFor("a", s => Count(s, "tok/s") == 2, "the first answer's tok/s line"); // prompt and generation rates
        Send("a", "/save " + saved);
        WaitFor("a", s => s.Contains("saved 3 messages"), "/save");
        Send("a", "/reset");
        WaitFor("a", s => s.Contains("conversation cleared"), "/reset");
        Send("a", "/load " + saved);
        WaitFor("a", s => s.Contains("loaded 3 messages"), "/load");
        Send("a", "And of Germany?");
        string screen = WaitFor("a", s => Count(s, "tok/s") == 4, "the second answer");
        Assert.Matches(@"prompt \d+ new \+ [1-9]\d* cached", screen); // the loaded history was still in the KV cache
        Send("a", "/exit");
        WaitFor("a", s => s.Contains("[exit status "), "seek to exit");
        WaitFor("a", s => s.Contains("[exit status 0]"), "exit status 0");

        var messages = JsonDocument.Parse(File.ReadAllText(saved)).RootElement;
        Assert.Equal(new[] { "system", "user", "assistant" }, messages.EnumerateArray().Select(m => m.GetProperty("role").GetString()));
    }

    [Fact]
    public void CtrlCStopsTheAnswerNotTheChatAndQuitsAtThePrompt()
    {
        string model = models.Get("qwen2", GgmlType.F32);
        // A huge -n with --ignore-eos: the answer runs until stopped. R1's template puts the output in the think block.
        Start("b", reportExitStatus: false, "chat", "-m", model, "-n", "1000000", "-c", "65536", "--ignore-eos", "--temp", "0", "-t", "2", "--chat-template-file", R1Template);

        Send("b", "Tell me everything.");
        WaitFor("b", s => s.Length > s.IndexOf("Tell me everything.", StringComparison.Ordinal) + 400, "the answer to stream");
        Send("b", "C-c", enter: false);
        string screen = WaitFor("b", s => s.Contains("stopped]"), "the stopped answer's stats");
        Assert.Contains("(reasoning: ", screen);
        Assert.False(Dead("b"));

        Send("b", "Next question?");
        WaitFor("b", s => s.Length > s.IndexOf("Next question?", StringComparison.Ordinal) + 400, "the next answer to stream");
        Send("b", "C-c", enter: false);
        WaitFor("b", s => Count(s, "stopped]") == 2, "the second stopped answer");
        Assert.False(Dead("b"));

        Send("b", "C-c", enter: false); // at the prompt: quit
        WaitFor("b", _ => Dead("b"), "seek to quit");
    }

    public void Dispose()
    {
        if (_config == null) return;
        try { Tmux("kill-server"); } catch (Exception) { /* already gone */ }
    }
}
