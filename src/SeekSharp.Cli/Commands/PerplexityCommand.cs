using System.CommandLine;
using System.Globalization;
using SeekSharp.Inference;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek perplexity -m MODEL -f TEXT [-c CTX] [--chunks N]</c>: llama-perplexity's method; the last line is <c>PPL = value</c>.</summary>
internal static class PerplexityCommand
{
    public static Command Create(CliIo io)
    {
        var model = CommonOptions.Model();
        var file = new Option<string>("--file", "-f") { Description = "text file to score", Required = true };
        var ctx = new Option<int>("--ctx-size", "-c") { Description = "tokens per chunk", DefaultValueFactory = _ => 512 };
        var chunks = new Option<int>("--chunks") { Description = "score at most this many chunks (-1: all)", DefaultValueFactory = _ => -1 };
        var threads = CommonOptions.Threads();
        var batch = CommonOptions.Batch();
        var cacheType = CommonOptions.CacheType();
        var noRepack = CommonOptions.NoRepack();
        var cmd = new Command("perplexity", "Measure perplexity over a text file (same method and flags as llama-perplexity)")
        {
            model, file, ctx, chunks, threads, batch, cacheType, noRepack,
        };
        cmd.SetAction(r =>
        {
            int c = r.GetValue(ctx);
            if (c < 8) throw new CliException($"--ctx-size must be at least 8 for perplexity, got {c}");
            CommonOptions.CheckThreads(r.GetValue(threads));
            string text = CommonOptions.ReadTextFile(r.GetValue(file)!);
            using var m = LanguageModel.Load(r.GetValue(model)!, CommonOptions.LoadOptions(r.GetValue(noRepack)));
            using var session = m.CreateSession(c, r.GetValue(threads), r.GetValue(batch), CommonOptions.ParseCacheType(r.GetValue(cacheType)!));
            var vocab = m.Tokenizer.Vocabulary;
            int[] tokens = m.Tokenizer.Encode(text, addSpecial: true, parseSpecial: false);
            io.Err.WriteLine($"tokenized {tokens.Length} tokens; scoring chunks of {c}");
            var result = PerplexityEvaluator.Evaluate(session, tokens, vocab.BosId, vocab.AddBos, r.GetValue(chunks),
                (i, ppl) => { io.Out.Write($"[{i + 1}]{ppl.ToString("F4", CultureInfo.InvariantCulture)},"); io.Out.Flush(); });
            io.Out.WriteLine();
            io.Out.WriteLine($"Final estimate: PPL = {result.Perplexity.ToString("F4", CultureInfo.InvariantCulture)} +/- {result.StandardError.ToString("F5", CultureInfo.InvariantCulture)} ({result.Chunks} chunks, {result.ScoredTokens} tokens scored)");
            io.Out.WriteLine($"PPL = {result.Perplexity.ToString("R", CultureInfo.InvariantCulture)}");
            return 0;
        });
        return cmd;
    }
}
