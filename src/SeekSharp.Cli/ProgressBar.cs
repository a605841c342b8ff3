namespace SeekSharp.Cli;

/// <summary>A one-line progress bar on stderr, redrawn only when the shown percentage changes (and only on a terminal).</summary>
internal sealed class ProgressBar(TextWriter err, string label) : IProgress<double>, IDisposable
{
    private readonly bool _enabled = !Console.IsErrorRedirected && ReferenceEquals(err, Console.Error);
    private int _shown = -1;

    public void Report(double fraction)
    {
        if (!_enabled) return;
        int pct = (int)Math.Clamp(fraction * 100, 0, 100);
        if (pct == _shown) return;
        _shown = pct;
        int filled = pct * 30 / 100;
        err.Write($"\r{label} [{new string('#', filled)}{new string('.', 30 - filled)}] {pct,3}%");
    }

    public void Dispose()
    {
        if (_enabled && _shown >= 0) err.WriteLine();
    }
}
