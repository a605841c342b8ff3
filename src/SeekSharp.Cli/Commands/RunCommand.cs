using System.CommandLine;
using System.Text;
using System.Text.Json;
using SeekSharp.Inference;

namespace SeekSharp.Cli.Commands;

/// <summary>
/// <c>seek run</c>: raw completion of a prompt (no chat template). stdout carries exactly the generated text, streamed;
/// timings go to stderr. With <c>--json</c> one object with the token ids, text and timings is printed instead.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model();
        var prompt = new Option<string?>("--prompt", "-p") { Description = "prompt text" };
        var file = CommonOptions.File();
        var n = new Option<int>("--n-predict", "-n") { Description = "tokens to generate (-1: until end of text or full context)", DefaultValueFactory = _ => -1 };
        var sampling = new CommonOptions.SamplingFlags();
        var threads = CommonOptions.Threads();
        var ctx = CommonOptions.Context();
        var batch = CommonOptions.Batch();
        var cacheType = CommonOptions.CacheType();
        var noRepack = CommonOptions.NoRepack();
        var ignoreEos = new Option<bool>("--ignore-eos") { Description = "keep generating past end-of-text tokens" };
        var json = new Option<bool>("--json") { Description = "print one JSON object with tokens, text and timings" };
        var cmd = new Command("run", "Complete a prompt (raw text, no chat template)")
        {
            model, prompt, file, n, threads, ctx, batch, cacheType, noRepack, ignoreEos, json,
        };
        foreach (var o in sampling.All) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            string text = r.GetValue(file) is string f ? CommonOptions.ReadTextFile(f)
                : r.GetValue(prompt) ?? throw new CliException("give a prompt with -p TEXT or -f FILE");
            CommonOptions.CheckThreads(r.GetValue(threads));
            CommonOptions.CheckContext(r.GetValue(ctx));
            var samplingOptions = sampling.Read(r);
            return Execute(io, r.GetValue(model)!, text, r.GetValue(n), samplingOptions, r.GetValue(threads), r.GetValue(ctx),
                r.GetValue(batch), CommonOptions.ParseCacheType(r.GetValue(cacheType)!), CommonOptions.LoadOptions(r.GetValue(noRepack)),
                r.GetValue(ignoreEos), r.GetValue(json));
        });
        return cmd;
    }

    private static int Execute(CliIo io, string modelPath, string prompt, int n, SamplingOptions sampling, int threads,
        int ctx, int batch, KvCacheType cacheType, ModelLoadOptions load, bool ignoreEos, bool json)
    {
        if (batch <= 0) throw new CliException($"--batch-size must be positive, got {batch}");
        var loadClock = System.Diagnostics.Stopwatch.StartNew();
        using var model = LanguageModel.Load(modelPath, load);
        using var session = model.CreateSession(ctx, threads, batch, cacheType);
        var loadTime = loadClock.Elapsed;
        int[] promptTokens = model.Tokenizer.Encode(prompt, addSpecial: true, parseSpecial: true);
        if (promptTokens.Length == 0) throw new CliException("the prompt is empty");
        if (promptTokens.Length >= session.ContextSize)
            throw new CliException($"the prompt is {promptTokens.Length} tokens, which does not fit a context of {session.ContextSize} (raise -c)");

        var sampler = new Sampler(sampling);
        var stats = new GenerationStats();
        var tokens = new List<int>();
        var text = new StringBuilder();
        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); };
        Console.CancelKeyPress += onCancel;
        try
        {
            foreach (var token in TextGenerator.Generate(session, model.Tokenizer, promptTokens, n, sampler, stats, !ignoreEos, cancel.Token))
            {
                if (token.Id >= 0) tokens.Add(token.Id);
                text.Append(token.Text);
                if (!json && token.Text.Length > 0)
                {
                    io.Out.Write(token.Text);
                    io.Out.Flush();
                }
            }
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        var timings = new Dictionary<string, object>
        {
            ["load_ms"] = Math.Round(loadTime.TotalMilliseconds, 2),
            ["prompt_n"] = stats.PromptTokens,
            ["prompt_ms"] = Math.Round(stats.PromptTime.TotalMilliseconds, 2),
            ["prompt_per_second"] = Math.Round(stats.PromptTokensPerSecond, 2),
            ["predicted_n"] = stats.GeneratedTokens,
            ["predicted_ms"] = Math.Round(stats.GenerationTime.TotalMilliseconds, 2),
            ["predicted_per_second"] = Math.Round(stats.GenerationTokensPerSecond, 2),
            ["threads"] = session.Threads,
            ["stop"] = stats.StopReason,
            ["seed"] = sampler.Seed,
        };
        if (json)
        {
            var result = new Dictionary<string, object>
            {
                ["prompt_tokens"] = promptTokens,
                ["tokens"] = tokens,
                ["text"] = text.ToString(),
                ["timings"] = timings,
            };
            io.Out.WriteLine(JsonSerializer.Serialize(result));
        }
        else
        {
            io.Out.Flush();
            io.Err.WriteLine();
            io.Err.WriteLine($"load time   = {loadTime.TotalMilliseconds,10:F2} ms");
            io.Err.WriteLine($"prompt eval = {stats.PromptTime.TotalMilliseconds,10:F2} ms / {stats.PromptTokens,5} tokens ({stats.PromptTokensPerSecond,8:F2} tokens per second)");
            io.Err.WriteLine($"eval        = {stats.GenerationTime.TotalMilliseconds,10:F2} ms / {stats.GeneratedTokens,5} tokens ({stats.GenerationTokensPerSecond,8:F2} tokens per second)");
            io.Err.WriteLine($"threads = {session.Threads}, seed = {sampler.Seed}, stop = {stats.StopReason}");
        }
        return 0;
    }
}
