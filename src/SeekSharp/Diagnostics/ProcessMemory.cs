using System.Diagnostics;

namespace SeekSharp.Diagnostics;

/// <summary>Resident memory of the current process, for benchmarks.</summary>
public static class ProcessMemory
{
    /// <summary>
    /// Peak resident set size in bytes since the process started (Linux: VmHWM from /proc/self/status, which counts
    /// memory-mapped model pages that were touched; elsewhere the runtime's peak working set).
    /// </summary>
    public static long PeakResidentBytes() => ReadStatus("VmHWM:") ?? Process.GetCurrentProcess().PeakWorkingSet64;

    /// <summary>Current resident set size in bytes.</summary>
    public static long ResidentBytes() => ReadStatus("VmRSS:") ?? Process.GetCurrentProcess().WorkingSet64;

    private static long? ReadStatus(string key)
    {
        const string path = "/proc/self/status";
        if (!OperatingSystem.IsLinux() || !File.Exists(path)) return null;
        foreach (string line in File.ReadLines(path))
        {
            if (!line.StartsWith(key, StringComparison.Ordinal)) continue;
            var parts = line[key.Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length > 0 && long.TryParse(parts[0], out long kb)) return kb * 1024;
        }
        return null;
    }
}
