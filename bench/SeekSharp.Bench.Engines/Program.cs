using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SeekSharp.Bench.Engines;

// Usage:
//   dotnet run -c Release --project bench/SeekSharp.Bench.Engines -- [-p 128] [-n 64] [-t 2] [--rounds 3] [--reps 2] [--json FILE] MODEL.gguf...
// Each round runs one child process per engine (the order alternates between rounds), so the engines see the same
// machine load and each one's peak RSS is measured on its own. Medians over all repetitions; ratios SeekSharp / llama.cpp.
// Child mode (used by the parent): --child seek|llama MODEL -p P -n N -t T --reps R, prints one JSON line.

var inv = CultureInfo.InvariantCulture;
var opts = Options.Parse(args);
if (opts.Child != null)
{
    var result = opts.Child == "seek" ? SeekEngine.Run(opts) : LlamaEngine.Run(opts);
    Console.WriteLine(JsonSerializer.Serialize(result));
    return 0;
}
if (opts.Models.Count == 0)
{
    Console.Error.WriteLine("usage: SeekSharp.Bench.Engines [-p 128] [-n 64] [-t 2] [--rounds 3] [--reps 2] [--json FILE] MODEL.gguf...");
    return 2;
}

Console.WriteLine($"# SeekSharp vs llama.cpp (LLamaSharp 0.30.0 CPU backend), pp{opts.Prompt} / tg{opts.Gen}, {opts.Threads} threads, " +
    $"{opts.Rounds} rounds x {opts.Reps} reps, engines alternate per round; llama.cpp: {LlamaEngine.Settings}");
Console.WriteLine();
Console.WriteLine("| model | engine | pp t/s (median) | tg t/s (median) | load→first token ms | peak RSS MiB |");
Console.WriteLine("| --- | --- | ---: | ---: | ---: | ---: |");
var summary = new List<object>();
var ratios = new List<string>();
foreach (string model in opts.Models)
{
    var runs = new Dictionary<string, List<EngineResult>> { ["seek"] = new(), ["llama"] = new() };
    for (int round = 0; round < opts.Rounds; round++)
    {
        string[] order = round % 2 == 0 ? ["seek", "llama"] : ["llama", "seek"];
        foreach (string engine in order) runs[engine].Add(Child.Run(engine, model, opts));
    }
    var agg = runs.ToDictionary(kv => kv.Key, kv => Aggregate.Of(kv.Value));
    string name = Path.GetFileName(model);
    foreach (var (engine, label) in new[] { ("seek", "SeekSharp"), ("llama", "llama.cpp") })
    {
        var a = agg[engine];
        Console.WriteLine(string.Format(inv, "| {0} | {1} | {2:F2} | {3:F2} | {4:F0} | {5:F1} |", name, label, a.Pp, a.Tg, a.LoadToFirstMs, a.PeakRssMiB));
    }
    var s = agg["seek"]; var l = agg["llama"];
    ratios.Add(string.Format(inv, "| {0} | {1:F2}x | {2:F2}x | {3:F2}x | {4:F2}x |", name, s.Pp / l.Pp, s.Tg / l.Tg,
        s.LoadToFirstMs / l.LoadToFirstMs, s.PeakRssMiB / l.PeakRssMiB));
    summary.Add(new { model = name, seek = s, llama = l });
}
Console.WriteLine();
Console.WriteLine("| model | pp ratio (SeekSharp/llama.cpp) | tg ratio | load→first token ratio (lower is better) | peak RSS ratio (lower is better) |");
Console.WriteLine("| --- | ---: | ---: | ---: | ---: |");
foreach (string r in ratios) Console.WriteLine(r);
if (opts.JsonPath != null) File.WriteAllText(opts.JsonPath, JsonSerializer.Serialize(summary, new JsonSerializerOptions { WriteIndented = true }));
return 0;

namespace SeekSharp.Bench.Engines
{
    internal sealed class Options
    {
        public int Prompt = 128, Gen = 64, Threads = 2, Rounds = 3, Reps = 2;
        public string? Child, JsonPath;
        public List<string> Models = new();

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                int Int() => int.Parse(args[++i], CultureInfo.InvariantCulture);
                switch (a)
                {
                    case "-p": o.Prompt = Int(); break;
                    case "-n": o.Gen = Int(); break;
                    case "-t": o.Threads = Int(); break;
                    case "--rounds": o.Rounds = Int(); break;
                    case "--reps": o.Reps = Int(); break;
                    case "--child": o.Child = args[++i]; break;
                    case "--json": o.JsonPath = args[++i]; break;
                    default: o.Models.Add(a); break;
                }
            }
            return o;
        }
    }

    /// <summary>What one child process measured: per-repetition throughputs, load→first-token time, peak RSS.</summary>
    internal sealed record EngineResult(double[] Pp, double[] Tg, double LoadToFirstMs, double PeakRssMiB);

    internal sealed record Aggregate(double Pp, double Tg, double LoadToFirstMs, double PeakRssMiB)
    {
        public static Aggregate Of(List<EngineResult> runs) => new(
            Median(runs.SelectMany(r => r.Pp)), Median(runs.SelectMany(r => r.Tg)),
            Median(runs.Select(r => r.LoadToFirstMs)), Median(runs.Select(r => r.PeakRssMiB)));

        public static double Median(IEnumerable<double> values)
        {
            var s = values.Order().ToArray();
            if (s.Length == 0) return double.NaN;
            return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }
    }

    internal static class Child
    {
        public static EngineResult Run(string engine, string model, Options o)
        {
            // Re-invoke this program (apphost, or dotnet + dll) in child mode.
            string self = Environment.ProcessPath!;
            var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(Child).Assembly.Location);
            foreach (string a in new[] { "--child", engine, model, "-p", $"{o.Prompt}", "-n", $"{o.Gen}", "-t", $"{o.Threads}", "--reps", $"{o.Reps}" })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var errTask = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            string err = errTask.Result;
            if (p.ExitCode != 0) throw new InvalidOperationException($"{engine} child failed ({p.ExitCode}): {err}");
            string line = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Last(l => l.StartsWith('{'));
            return JsonSerializer.Deserialize<EngineResult>(line)!;
        }
    }
}
