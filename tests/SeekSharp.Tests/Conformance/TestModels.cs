using System.Collections.Concurrent;
using SeekSharp.Gguf;
using SeekSharp.Models;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Conformance;

/// <summary>
/// Random-weight models of each architecture and weight type, written once per test run into a temp folder by our
/// own writer. Narrow shapes keep the suite fast; K-quant models are 256 wide because K-quant rows are 256 values.
/// </summary>
public sealed class TestModels : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<string>> _paths = new();

    public TestModels()
    {
        Folder = Directory.CreateTempSubdirectory("seek-models").FullName;
    }

    public string Folder { get; }

    public static bool IsKQuant(GgmlType t) => t is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    public string Get(string arch, GgmlType type, Vocabulary? vocab = null, string vocabName = "synthetic", bool? wide = null, bool tied = false,
        string preset = "tiny")
    {
        bool isWide = wide ?? IsKQuant(type);
        string key = $"{arch}-{preset}-{GgmlTypeInfo.Name(type)}-{vocabName}{(isWide ? "-wide" : "")}{(tied ? "-tied" : "")}";
        return _paths.GetOrAdd(key, k => new Lazy<string>(() =>
        {
            var family = ArchitectureRegistry.Find(arch)!;
            var shape = family.Presets.First(p => p.Name == preset);
            shape = shape with { TiedEmbeddings = tied };
            if (isWide) shape = shape with { EmbeddingLength = 256, FeedForwardLength = 512, HeadDim = 64 };
            // K-quant DeepSeek models: 256-wide expert and latent rows too
            if (isWide && shape.DeepSeek is DeepSeekShape ds)
                shape = shape with { DeepSeek = ds with { ExpertFeedForwardLength = 256, KvLoraRank = 256 } };
            string path = Path.Combine(Folder, k + ".gguf");
            RandomModelBuilder.Build(new RandomModelOptions
            {
                Architecture = family,
                Shape = shape,
                WeightType = type,
                Vocabulary = vocab,
                Seed = 1234,
            }).Write(path);
            return path;
        })).Value;
    }

    public void Dispose()
    {
        try { Directory.Delete(Folder, recursive: true); } catch (IOException) { }
    }
}
