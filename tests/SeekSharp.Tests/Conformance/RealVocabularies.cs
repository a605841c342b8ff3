using System.IO.Compression;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Conformance;

/// <summary>The vendored Hugging Face tokenizers (DeepSeek-V3, Qwen3), unpacked once per run.</summary>
public static class RealVocabularies
{
    private static readonly Lazy<string> Folder = new(() => Directory.CreateTempSubdirectory("seek-vocab").FullName);
    private static readonly object Gate = new();

    /// <summary>Path of the unpacked file, e.g. File("deepseek-v3", "tokenizer.json").</summary>
    public static string File(string name, string file)
    {
        lock (Gate)
        {
            string target = Path.Combine(Folder.Value, name, file);
            if (System.IO.File.Exists(target)) return target;
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            string source = Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers", name, file + ".gz");
            using (var input = new GZipStream(System.IO.File.OpenRead(source), CompressionMode.Decompress))
            using (var output = System.IO.File.Create(target + ".tmp"))
                input.CopyTo(output);
            System.IO.File.Move(target + ".tmp", target);
            return target;
        }
    }

    public static Vocabulary Load(string name) =>
        HuggingFaceTokenizerJson.Load(File(name, "tokenizer.json"), File(name, "tokenizer_config.json"));
}
