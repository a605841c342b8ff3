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
}
