using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using SeekSharp.Diagnostics;
using SeekSharp.Inference;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Cli.Commands;

/// <summary>
/// <c>seek bench -m MODEL [-p 512] [-n 128] [-t THREADS] [-r 5] [--json]</c>: llama-bench's pp/tg table for SeekSharp,
/// plus peak RSS, a memory bandwidth probe with the decode ceiling it implies, and the cost per million tokens.
/// </summary>
internal static class BenchCommand
{
    /// <summary>Default price: AWS c7a.large (2 vCPU, AMD EPYC, 4 GiB), Linux on-demand in us-east-1, USD per hour.
    /// An assumption for comparison only; pass --price-per-hour for your own machine.</summary>
    public const double DefaultPricePerHour = 0.0832;

    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model();
        var prompt = new Option<int>("--n-prompt", "-p") { Description = "prompt tokens per pp test (0: skip)", DefaultValueFactory = _ => 512 };
        var gen = new Option<int>("--n-gen", "-n") { Description = "generated tokens per tg test (0: skip)", DefaultValueFactory = _ => 128 };
        var reps = new Option<int>("--repetitions", "-r") { Description = "repetitions of each test", DefaultValueFactory = _ => 5 };
        var threads = CommonOptions.Threads();
        var batch = CommonOptions.Batch();
        var cacheType = CommonOptions.CacheType();
        var noRepack = CommonOptions.NoRepack();
        var json = new Option<bool>("--json") { Description = "print one JSON object instead of the table" };
        var price = new Option<double>("--price-per-hour")
        {
            Description = $"machine price in USD/hour for the cost column (default {DefaultPricePerHour.ToString(CultureInfo.InvariantCulture)}: " +
                "assumed AWS c7a.large, 2 vCPU, Linux on-demand us-east-1)",
            DefaultValueFactory = _ => DefaultPricePerHour,
        };
        var probe = new Option<bool>("--no-bandwidth") { Description = "skip the memory bandwidth probe" };
        var cmd = new Command("bench", "Measure prompt processing and generation speed (llama-bench's tests and table)")
        {
            model, prompt, gen, reps, threads, batch, cacheType, noRepack, json, price, probe,
        };
        cmd.SetAction(r =>
        {
            int p = r.GetValue(prompt), n = r.GetValue(gen), rep = r.GetValue(reps), t = r.GetValue(threads);
            double pricePerHour = r.GetValue(price);
            if (p < 0 || n < 0) throw new CliException("--n-prompt and --n-gen must not be negative");
            if (p == 0 && n == 0) throw new CliException("nothing to measure: --n-prompt and --n-gen are both 0");
            if (rep < 1) throw new CliException($"--repetitions must be at least 1, got {rep}");
            if (pricePerHour < 0) throw new CliException($"--price-per-hour must not be negative, got {pricePerHour}");
            CommonOptions.CheckThreads(t);

            long t0 = Stopwatch.GetTimestamp();
            using var m = LanguageModel.Load(r.GetValue(model)!, CommonOptions.LoadOptions(r.GetValue(noRepack)));
            var loadTime = Stopwatch.GetElapsedTime(t0);
            int ctx = Math.Max(Math.Max(p, n + 1), 16);
            using var session = m.CreateSession(ctx, t, Math.Max(1, r.GetValue(batch)), CommonOptions.ParseCacheType(r.GetValue(cacheType)!));
            int vocab = m.Config.VocabSize;
            var samples = new List<BenchmarkSample>();
            bool measureBandwidth = !r.GetValue(probe);
            var pool = !measureBandwidth ? null : t <= 0 || t == WorkerPool.Shared.ThreadCount ? WorkerPool.Shared : new WorkerPool(t);
            MemoryBandwidth.Probe? bandwidthProbe = null;
            var probes = new List<double>();
            long peak = 0;
            try
            {
                if (p > 0) samples.Add(InferenceBenchmark.PromptProcessing(session, vocab, p, rep));
                if (n > 0)
                {
                    // The bandwidth left to this process moves by tens of percent within seconds on a shared machine,
                    // so each tg repetition is compared with a probe run just before it. The probe's buffer is
                    // allocated after the warm-up and freed after the last repetition, and kept out of the peak RSS:
                    // the peak is read before it exists, and decoding allocates nothing per token (what it maps in,
                    // the resident size after the run still shows).
                    Action<int>? beforeRep = pool == null ? null : _ =>
                    {
                        if (bandwidthProbe == null)
                        {
                            peak = ProcessMemory.PeakResidentBytes();
                            bandwidthProbe = new MemoryBandwidth.Probe(pool);
                        }
                        probes.Add(bandwidthProbe.Measure(passes: 3));
                    };
                    samples.Add(InferenceBenchmark.TextGeneration(session, vocab, n, rep, beforeRepetition: beforeRep));
                }
                if (bandwidthProbe != null)
                {
                    bandwidthProbe.Dispose();
                    bandwidthProbe = null;
                    peak = Math.Max(peak, ProcessMemory.ResidentBytes());
                }
                else
                {
                    peak = ProcessMemory.PeakResidentBytes();
                    if (pool != null) probes.Add(MemoryBandwidth.Measure(pool));
                }
            }
            finally
            {
                bandwidthProbe?.Dispose();
                if (pool != null && pool != WorkerPool.Shared) pool.Dispose();
            }
            double bandwidth = BenchmarkSample.MedianOf(probes);

            string name = InferenceBenchmark.Describe(m.File);
            long size = InferenceBenchmark.ModelBytes(m.File), pars = InferenceBenchmark.ParameterCount(m.File);
            long perToken = InferenceBenchmark.WeightBytesPerToken(m.File);
            var tg = samples.FirstOrDefault(s => s.Test.StartsWith("tg", StringComparison.Ordinal));
            double ceiling = bandwidth > 0 ? bandwidth / perToken : 0;
            // Share of the ceiling: each repetition's rate against the probe just before it, median over repetitions.
            double? share = tg != null && probes.Count == tg.TokensPerSecond.Count && bandwidth > 0
                ? BenchmarkSample.MedianOf(tg.TokensPerSecond.Select((ts, i) => ts * perToken / probes[i]))
                : null;
            double cost = tg != null ? InferenceBenchmark.CostPerMillionTokens(pricePerHour, tg.Mean) : double.NaN;
            if (r.GetValue(json))
            {
                var o = new Dictionary<string, object?>
                {
                    ["model_filename"] = r.GetValue(model),
                    ["model_type"] = name,
                    ["model_size"] = size,
                    ["model_n_params"] = pars,
                    ["backend"] = "CPU (SeekSharp)",
                    ["n_threads"] = session.Threads,
                    ["n_batch"] = session.BatchSize,
                    ["type_kv"] = session.Cache.Type.ToString().ToLowerInvariant(),
                    ["load_ms"] = Math.Round(loadTime.TotalMilliseconds, 2),
                    ["tests"] = samples.Select(s => new Dictionary<string, object>
                    {
                        ["test"] = s.Test, ["n_tokens"] = s.Tokens, ["avg_ts"] = s.Mean, ["stddev_ts"] = s.StandardDeviation,
                        ["median_ts"] = s.Median, ["samples_ts"] = s.TokensPerSecond,
                    }).ToList(),
                    ["peak_rss_bytes"] = peak,
                    ["bandwidth_bytes_per_s"] = bandwidth,
                    ["weight_bytes_per_token"] = perToken,
                    ["decode_ceiling_ts"] = ceiling,
                    ["bandwidth_samples_bytes_per_s"] = probes,
                    ["decode_share_of_ceiling"] = share,
                    ["price_per_hour_usd"] = pricePerHour,
                    ["usd_per_million_generated_tokens"] = tg != null ? cost : null,
                };
                io.Out.WriteLine(JsonSerializer.Serialize(o));
                return 0;
            }

            string sizeText = FormattableString.Invariant($"{size / (1024.0 * 1024 * 1024):F2} GiB");
            if (size < 1L << 30) sizeText = FormattableString.Invariant($"{size / (1024.0 * 1024):F2} MiB");
            string parText = pars >= 1_000_000_000 ? FormattableString.Invariant($"{pars / 1e9:F2} B") : FormattableString.Invariant($"{pars / 1e6:F2} M");
            io.Out.WriteLine("| model                          |       size |     params | backend         | threads |          test |                  t/s |");
            io.Out.WriteLine("| ------------------------------ | ---------: | ---------: | --------------- | ------: | ------------: | -------------------: |");
            foreach (var s in samples)
            {
                string rate = FormattableString.Invariant($"{s.Mean:F2} ± {s.StandardDeviation:F2}");
                io.Out.WriteLine(FormattableString.Invariant(
                    $"| {name,-30} | {sizeText,10} | {parText,10} | {"CPU (SeekSharp)",-15} | {session.Threads,7} | {s.Test,13} | {rate,20} |"));
            }
            io.Out.WriteLine();
            io.Out.WriteLine(FormattableString.Invariant($"load time          : {loadTime.TotalMilliseconds:F0} ms"));
            io.Out.WriteLine(FormattableString.Invariant($"peak RSS           : {peak / (1024.0 * 1024):F1} MiB"));
            io.Out.WriteLine(FormattableString.Invariant($"weights per token  : {perToken / (1024.0 * 1024):F1} MiB read per decode step"));
            if (bandwidth > 0)
            {
                string range = probes.Count > 1 ? FormattableString.Invariant($"; median of {probes.Count} probes, one before each {tg!.Test} repetition, range {probes.Min() / 1e9:F1}-{probes.Max() / 1e9:F1}") : "";
                io.Out.WriteLine(FormattableString.Invariant($"memory bandwidth   : {bandwidth / 1e9:F1} GB/s ({session.Threads} threads, streaming read of {MemoryBandwidth.DefaultBytes >> 20} MiB{range})"));
                string reached = share != null ? FormattableString.Invariant($"; {tg!.Test} reached {100 * share.Value:F1}% (median over repetitions, each against its probe)") : "";
                io.Out.WriteLine(FormattableString.Invariant($"decode ceiling     : {ceiling:F1} t/s{reached}"));
            }
            if (tg != null)
                io.Out.WriteLine(FormattableString.Invariant($"cost               : ${cost:F2} per million generated tokens at ${pricePerHour}/h (assumed price, see --help)"));
            return 0;
        });
        return cmd;
    }
}
