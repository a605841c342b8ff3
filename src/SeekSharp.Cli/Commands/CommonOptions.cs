using System.CommandLine;
using SeekSharp.Inference;

namespace SeekSharp.Cli.Commands;

/// <summary>Options shared by several commands, spelled as llama.cpp spells them.</summary>
internal static class CommonOptions
{
    public static Option<string> Model(bool required = true) => new("--model", "-m")
    {
        Description = "path to a GGUF model file",
        Required = required,
    };

    public static Option<int> Threads() => new("--threads", "-t")
    {
        Description = "number of threads (default: all cores)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<int> Context() => new("--ctx-size", "-c")
    {
        Description = "context size in tokens (default: 4096, or the model's if smaller)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<int> Batch() => new("--batch-size", "-b")
    {
        Description = "tokens per forward pass during prompt processing",
        DefaultValueFactory = _ => 512,
    };

    public static Option<string?> File() => new("--file", "-f") { Description = "read the text from this file" };

    public static Option<string> CacheType() => new Option<string>("--cache-type")
    {
        Description = "KV cache element type: f16 (default, as llama.cpp) or f32",
        DefaultValueFactory = _ => "f16",
    }.AcceptOnlyFromAmong("f16", "f32");

    public static Option<bool> NoRepack() => new("--no-repack", "-nr")
    {
        Description = "do not repack Q4_0/Q4_K weights at load (as llama.cpp's --no-repack): plain kernels, weights stay mapped",
    };

    public static ModelLoadOptions LoadOptions(bool noRepack) => new() { Repack = !noRepack };

    public static KvCacheType ParseCacheType(string s) => s == "f32" ? KvCacheType.F32 : KvCacheType.F16;

    public static void CheckThreads(int threads)
    {
        if (threads < 0 || threads > 1024) throw new CliException($"--threads must be between 1 and 1024, got {threads}");
    }

    public static void CheckContext(int ctx)
    {
        if (ctx < 0) throw new CliException($"--ctx-size must be positive, got {ctx}");
    }

    public static string ReadTextFile(string path)
    {
        if (!System.IO.File.Exists(path)) throw new CliException($"file not found: {path}");
        return System.IO.File.ReadAllText(path);
    }

    /// <summary>The sampling flags of <c>seek run</c> and <c>seek chat</c>, with llama.cpp's names and defaults.</summary>
    public sealed class SamplingFlags
    {
        public readonly Option<float> Temp = new("--temp") { Description = "temperature (0: greedy)", DefaultValueFactory = _ => 0.8f };
        public readonly Option<int> TopK = new("--top-k") { Description = "top-k sampling (0: off)", DefaultValueFactory = _ => 40 };
        public readonly Option<float> TopP = new("--top-p") { Description = "top-p sampling (1.0: off)", DefaultValueFactory = _ => 0.95f };
        public readonly Option<float> MinP = new("--min-p") { Description = "min-p sampling (0.0: off)", DefaultValueFactory = _ => 0.05f };
        public readonly Option<float> Repeat = new("--repeat-penalty") { Description = "repetition penalty (1.0: off)", DefaultValueFactory = _ => 1.0f };
        public readonly Option<int> RepeatN = new("--repeat-last-n") { Description = "tokens the penalties look back over (-1: whole context)", DefaultValueFactory = _ => 64 };
        public readonly Option<float> Presence = new("--presence-penalty") { Description = "presence penalty (0: off)" };
        public readonly Option<float> Frequency = new("--frequency-penalty") { Description = "frequency penalty (0: off)" };
        public readonly Option<long> Seed = new("--seed", "-s") { Description = "random seed (-1: random)", DefaultValueFactory = _ => -1 };

        public IEnumerable<Option> All => [Temp, TopK, TopP, MinP, Repeat, RepeatN, Presence, Frequency, Seed];

        public SamplingOptions Read(ParseResult r)
        {
            long s = r.GetValue(Seed);
            return new SamplingOptions
            {
                Temperature = r.GetValue(Temp),
                TopK = r.GetValue(TopK),
                TopP = r.GetValue(TopP),
                MinP = r.GetValue(MinP),
                RepeatPenalty = r.GetValue(Repeat),
                PenaltyLastN = r.GetValue(RepeatN),
                PresencePenalty = r.GetValue(Presence),
                FrequencyPenalty = r.GetValue(Frequency),
                Seed = s < 0 ? null : (ulong)s,
            };
        }
    }
}
