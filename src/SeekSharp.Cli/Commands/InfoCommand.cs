using System.CommandLine;
using SeekSharp.Gguf;
using SeekSharp.Inference;
using SeekSharp.Models;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek info MODEL</c>: what a GGUF file holds and what running it costs.</summary>
internal static class InfoCommand
{
    public static Command Create(CliIo io)
    {
        var path = new Argument<string>("model") { Description = "GGUF model file" };
        var ctx = CommonOptions.Context();
        var cmd = new Command("info", "Show a model's architecture, hyperparameters, tensor types and sizes") { path, ctx };
        cmd.SetAction(r => Execute(io, r.GetValue(path)!, r.GetValue(ctx)));
        return cmd;
    }

    private static int Execute(CliIo io, string path, int ctxSize)
    {
        CommonOptions.CheckContext(ctxSize);
        using var file = GgufFile.Open(path);
        var o = io.Out;
        o.WriteLine($"file:          {path}");
        o.WriteLine($"format:        GGUF v{file.Version}, {file.MetadataCount} metadata keys, {file.Tensors.Count} tensors, alignment {file.Alignment}");
        o.WriteLine($"file size:     {Bytes(file.FileSize)}");
        if (file.GetStringOrNull("general.name") is string name) o.WriteLine($"name:          {name}");
        string arch = file.GetStringOrNull("general.architecture") ?? "(none)";
        o.WriteLine($"architecture:  {arch}");

        long parameters = file.Tensors.Sum(t => t.ElementCount);
        long weightBytes = file.Tensors.Sum(t => t.ByteSize);
        o.WriteLine($"parameters:    {parameters:N0} ({parameters / 1e9:F2} B)");
        o.WriteLine($"weights:       {Bytes(weightBytes)} ({weightBytes * 8.0 / Math.Max(1, parameters):F2} bits per weight)");
        o.WriteLine("tensor types:");
        foreach (var g in file.Tensors.GroupBy(t => t.Type).OrderByDescending(g => g.Sum(t => t.ByteSize)))
            o.WriteLine($"  {GgmlTypeInfo.Name(g.Key),-6} {g.Count(),5} tensors  {Bytes(g.Sum(t => t.ByteSize)),10}");

        if (ArchitectureRegistry.Find(arch) != null)
        {
            var c = ModelConfig.FromGguf(file);
            o.WriteLine("hyperparameters:");
            o.WriteLine($"  vocab {c.VocabSize}, embedding {c.EmbeddingLength}, layers {c.LayerCount}, feed-forward {c.FeedForwardLength}");
            o.WriteLine($"  heads {c.HeadCount}, kv heads {c.KvHeadCount}, key length {c.KeyLength}, value length {c.ValueLength}");
            o.WriteLine($"  context (trained) {c.ContextLength}, rms eps {c.RmsNormEpsilon:G}");
            o.WriteLine($"  rope: {c.RopeLayout.ToString().ToLowerInvariant()}, dims {c.RopeDimensions}, base {c.RopeFreqBase:G}, scaling {c.RopeScaling.ToString().ToLowerInvariant()}" +
                (c.RopeScaling != RopeScaling.None ? $" (factor {1 / c.RopeFreqScale:G}, original context {c.RopeOriginalContext})" : ""));
            o.WriteLine($"  output: {(file.TryGetTensor("output.weight", out _) ? "separate" : "tied to token embedding")}" +
                $"{(c.HasQkvBias ? ", QKV bias" : "")}{(c.HasQkNorm ? ", per-head q/k norm" : "")}");
            if (c.IsMla)
                o.WriteLine($"  attention: multi-head latent (MLA), q_lora_rank {(c.QLoraRank > 0 ? c.QLoraRank.ToString() : "none")}, " +
                    $"kv_lora_rank {c.KvLoraRank}, nope dims {c.QkNopeHeadDim}, rope dims {c.QkRopeHeadDim}, value dims {c.ValueLengthMla}");
            if (c.ExpertCount > 0)
            {
                o.WriteLine($"  experts: {c.ExpertCount} routed ({c.ExpertUsedCount} used per token), {c.ExpertSharedCount} shared, " +
                    $"feed-forward {c.ExpertFeedForwardLength}, leading dense layers {c.LeadingDenseBlocks}");
                o.WriteLine($"  router: {c.ExpertGating.ToString().ToLowerInvariant()}" +
                    (file.TryGetTensor("blk." + c.LeadingDenseBlocks + ".exp_probs_b.bias", out _) ? " with selection bias" : "") +
                    (c.ExpertGroupCount > 1 ? $", {c.ExpertGroupCount} groups ({c.ExpertGroupUsedCount} used)" : "") +
                    $", weights {(c.ExpertWeightsNorm ? "normalized" : "not normalized")}, scale {(c.ExpertWeightsScale is 0f ? 1f : c.ExpertWeightsScale):G}");
            }
            if (c.NextNLayers > 0)
                o.WriteLine($"  multi-token prediction layers: {c.NextNLayers} (loaded, not run)");
            int ctx = ctxSize > 0 ? ctxSize : Math.Min(c.ContextLength, 4096);
            long kvPerToken = KvCache.BytesPerToken(c);
            o.WriteLine($"KV cache:      {Bytes(kvPerToken)} per token (f16), {Bytes(kvPerToken * ctx)} for a context of {ctx}");
            o.WriteLine($"memory:        about {Bytes(weightBytes + kvPerToken * ctx)} (mapped weights + KV cache)");
        }
        else
        {
            o.WriteLine($"(architecture '{arch}' cannot be run by this build; supported: {string.Join(", ", ArchitectureRegistry.Names)})");
        }
        if (file.GetStringOrNull("tokenizer.ggml.model") is string tm)
        {
            int n = file.TryGetValue("tokenizer.ggml.tokens", out var toks) ? toks.AsArray().Count : 0;
            o.WriteLine($"tokenizer:     {tm}, pre-tokenizer {file.GetStringOrNull("tokenizer.ggml.pre") ?? "default"}, {n} tokens, " +
                $"bos {file.GetInt32("tokenizer.ggml.bos_token_id", -1)}, eos {file.GetInt32("tokenizer.ggml.eos_token_id", -1)}");
        }
        return 0;
    }

    internal static string Bytes(long n) => n switch
    {
        >= 1L << 30 => $"{n / (double)(1L << 30):F2} GiB",
        >= 1L << 20 => $"{n / (double)(1L << 20):F2} MiB",
        >= 1L << 10 => $"{n / 1024.0:F2} KiB",
        _ => $"{n} B",
    };
}
