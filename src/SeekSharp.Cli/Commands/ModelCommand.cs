using System.CommandLine;
using SeekSharp.Gguf;
using SeekSharp.Models;
using SeekSharp.Tokenization;

namespace SeekSharp.Cli.Commands;

/// <summary><c>seek model new</c>: writes a random-weight model of a real architecture (for tests, benchmarks and demos).</summary>
internal static class ModelCommand
{
    public static Command Create(CliIo io)
    {
        var model = new Command("model", "Create models");
        model.Subcommands.Add(CreateNew(io));
        return model;
    }

    private static Command CreateNew(CliIo io)
    {
        var arch = new Option<string>("--arch") { Description = "architecture: " + string.Join(", ", ArchitectureRegistry.Names), Required = true };
        var preset = new Option<string?>("--preset") { Description = "shape preset (tiny, qwen2.5-0.5b, r1-distill-qwen-1.5b, llama-3.2-1b, qwen3-0.6b, ...)" };
        var embd = new Option<int?>("--embd") { Description = "embedding length" };
        var layers = new Option<int?>("--layers") { Description = "number of blocks" };
        var ff = new Option<int?>("--ff") { Description = "feed-forward length" };
        var heads = new Option<int?>("--heads") { Description = "attention heads" };
        var kvHeads = new Option<int?>("--kv-heads") { Description = "key/value heads" };
        var headDim = new Option<int?>("--head-dim") { Description = "head size" };
        var vocabSize = new Option<int?>("--vocab") { Description = "vocabulary size (the synthetic vocabulary is padded to it)" };
        var ctx = new Option<int?>("--ctx") { Description = "trained context length" };
        var tied = new Option<bool?>("--tied") { Description = "tie the output projection to the token embedding" };
        var type = new Option<string>("--type") { Description = "weight type: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k..q6_k", DefaultValueFactory = _ => "f32" };
        var vocabFrom = new Option<string?>("--vocab-from") { Description = "take the vocabulary from a Hugging Face tokenizer.json" };
        var tokConfig = new Option<string?>("--tokenizer-config") { Description = "tokenizer_config.json to go with --vocab-from (BOS/EOS rules, chat template)" };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => 42UL };
        var output = new Argument<string>("output") { Description = "GGUF file to write" };
        var cmd = new Command("new", "Write a random-weight model of a real architecture")
        {
            arch, preset, embd, layers, ff, heads, kvHeads, headDim, vocabSize, ctx, tied, type, vocabFrom, tokConfig, seed, output,
        };
        cmd.SetAction(r =>
        {
            var family = ArchitectureRegistry.Find(r.GetValue(arch)!)
                ?? throw new CliException($"unsupported architecture '{r.GetValue(arch)}' (supported: {string.Join(", ", ArchitectureRegistry.Names)})");
            string presetName = r.GetValue(preset) ?? "tiny";
            var shape = family.Presets.FirstOrDefault(p => p.Name.Equals(presetName, StringComparison.OrdinalIgnoreCase))
                ?? throw new CliException($"unknown preset '{presetName}' for {family.Name} (available: {string.Join(", ", family.Presets.Select(p => p.Name))})");
            shape = shape with
            {
                EmbeddingLength = Positive(r.GetValue(embd), "--embd") ?? shape.EmbeddingLength,
                LayerCount = Positive(r.GetValue(layers), "--layers") ?? shape.LayerCount,
                FeedForwardLength = Positive(r.GetValue(ff), "--ff") ?? shape.FeedForwardLength,
                HeadCount = Positive(r.GetValue(heads), "--heads") ?? shape.HeadCount,
                KvHeadCount = Positive(r.GetValue(kvHeads), "--kv-heads") ?? shape.KvHeadCount,
                HeadDim = Positive(r.GetValue(headDim), "--head-dim") ?? shape.HeadDim,
                VocabSize = Positive(r.GetValue(vocabSize), "--vocab") ?? shape.VocabSize,
                ContextLength = Positive(r.GetValue(ctx), "--ctx") ?? shape.ContextLength,
                TiedEmbeddings = r.GetValue(tied) ?? shape.TiedEmbeddings,
            };
            if (shape.HeadCount % shape.KvHeadCount != 0) throw new CliException($"--heads {shape.HeadCount} must be a multiple of --kv-heads {shape.KvHeadCount}");
            if (shape.HeadDim % 2 != 0) throw new CliException("--head-dim must be even");
            if (!GgmlTypeInfo.TryParse(r.GetValue(type)!, out var weightType) || !Numerics.Quantization.Quantizer.CanQuantize(weightType) || weightType == GgmlType.Q8_K)
                throw new CliException($"unsupported --type '{r.GetValue(type)}'");
            if (shape.EmbeddingLength % 32 != 0 || shape.FeedForwardLength % 32 != 0)
                throw new CliException("--embd and --ff must be multiples of 32");
            Vocabulary? vocab = null;
            string? chatTemplate = null;
            if (r.GetValue(vocabFrom) is string tj)
            {
                if (!File.Exists(tj)) throw new CliException($"file not found: {tj}");
                string? cfg = r.GetValue(tokConfig);
                if (cfg != null && !File.Exists(cfg)) throw new CliException($"file not found: {cfg}");
                vocab = HuggingFaceTokenizerJson.Load(tj, cfg);
                if (cfg != null)
                {
                    using var config = System.Text.Json.JsonDocument.Parse(File.ReadAllText(cfg));
                    chatTemplate = Chat.ModelChatTemplate.FromTokenizerConfig(config.RootElement);
                }
            }
            var options = new RandomModelOptions
            {
                Architecture = family,
                Shape = shape,
                WeightType = weightType,
                Vocabulary = vocab,
                ChatTemplate = chatTemplate,
                Seed = r.GetValue(seed),
            };
            string path = r.GetValue(output)!;
            using (var bar = new ProgressBar(io.Err, "writing"))
                RandomModelBuilder.Build(options).Write(path, bar);
            io.Err.WriteLine($"wrote {path}: {family.Name} {shape.Name}, {GgmlTypeInfo.Name(weightType)}, {InfoCommand.Bytes(new FileInfo(path).Length)}");
            return 0;
        });
        return cmd;
    }

    private static int? Positive(int? value, string flag) =>
        value is int v && v <= 0 ? throw new CliException($"{flag} must be positive, got {v}") : value;
}
