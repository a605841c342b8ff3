using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using SeekSharp.Tokenization;

// Encode throughput of SeekSharp's tokenizer (Hugging Face mode, from tokenizer.json) and of the Hugging Face
// tokenizers Rust crate through Tokenizers.DotNet, on the same text, alternately, several runs; prints medians.
// The reference is timed as a .NET user pays for it: the wrapper call including the UTF-16 -> native marshalling.
//
//   dotnet run -c Release --project bench/SeekSharp.Bench.Tokenizer -- [--runs N] [--chunk CHARS] [--cold] [--vocab NAME]...
//
// --chunk 0 encodes the whole text in one call. --cold times each run on freshly loaded tokenizers (empty word
// caches; loading is not timed) instead of warmed-up ones.

int runs = 7, chunk = 4096;
bool cold = false;
var vocabs = new List<string>();
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--runs": runs = int.Parse(args[++i]); break;
        case "--chunk": chunk = int.Parse(args[++i]); break;
        case "--vocab": vocabs.Add(args[++i]); break;
        case "--cold": cold = true; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}"); return 1;
    }
}
if (vocabs.Count == 0)
    vocabs.AddRange(["deepseek-v3", "qwen3"]);

string root = FindRepoRoot();
string testData = Path.Combine(root, "tests", "SeekSharp.Tests", "TestData");
string text = ReadGz(Path.Combine(testData, "corpus", "brown", "brown-sample.txt.gz"));
List<string> docs = chunk > 0 ? Chunk(text, chunk) : [text];
long bytes = Encoding.UTF8.GetByteCount(text);
Console.WriteLine($"text: Brown corpus sample, {bytes:N0} UTF-8 bytes in {docs.Count} documents" + (chunk > 0 ? $" of ~{chunk} chars" : "")
    + $"; {runs} runs each, alternating; {(cold ? "fresh tokenizers each run (cold word caches)" : "warmed-up tokenizers")}");
Console.WriteLine($"machine: {Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");

foreach (string name in vocabs)
{
    string json = ReadGz(Path.Combine(testData, "tokenizers", name, "tokenizer.json.gz"));
    string path = Path.Combine(Path.GetTempPath(), $"seeksharp-bench-{name}-{Environment.ProcessId}.json");
    File.WriteAllText(path, json);
    var reference = new Tokenizers.DotNet.Tokenizer(path);
    BpeTokenizer ours = BpeTokenizer.FromTokenizerJson(path);

    // warm-up (JIT, word caches on both sides) and a check that both give the same ids
    long idsOurs = 0, idsRef = 0;
    foreach (string d in docs)
    {
        idsOurs += ours.Encode(d).Length;
        idsRef += reference.Encode(d).Length;
    }
    if (idsOurs != idsRef)
        Console.WriteLine($"WARNING: {name}: {idsOurs} ids ours, {idsRef} reference");

    var tOurs = new List<double>();
    var tRef = new List<double>();
    for (int r = 0; r < runs; r++)
    {
        if (cold)
        {
            reference.Dispose();
            reference = new Tokenizers.DotNet.Tokenizer(path);
            ours = BpeTokenizer.FromTokenizerJson(path);
            GC.Collect();
        }
        var sw = Stopwatch.StartNew();
        foreach (string d in docs)
            ours.Encode(d);
        tOurs.Add(sw.Elapsed.TotalSeconds);
        sw.Restart();
        foreach (string d in docs)
            reference.Encode(d);
        tRef.Add(sw.Elapsed.TotalSeconds);
    }
    double mOurs = Median(tOurs), mRef = Median(tRef);
    Console.WriteLine($"{name,-12} SeekSharp {bytes / mOurs / 1e6,7:F2} MB/s   tokenizers (Rust, via Tokenizers.DotNet) {bytes / mRef / 1e6,7:F2} MB/s   ratio {mRef / mOurs:F2}x   ({idsOurs:N0} ids)");
    File.Delete(path);
}
return 0;

static double Median(List<double> xs)
{
    var s = xs.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

static List<string> Chunk(string all, int size)
{
    var list = new List<string>();
    int start = 0;
    while (start < all.Length)
    {
        int end = Math.Min(all.Length, start + size);
        int nl = end < all.Length ? all.IndexOf('\n', end) : -1;
        end = nl < 0 ? all.Length : nl + 1;
        list.Add(all[start..end]);
        start = end;
    }
    return list;
}

static string ReadGz(string path)
{
    using var gz = new GZipStream(File.OpenRead(path), CompressionMode.Decompress);
    using var reader = new StreamReader(gz, Encoding.UTF8);
    return reader.ReadToEnd();
}

static string FindRepoRoot()
{
    for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SeekSharp.sln")))
            return dir.FullName;
    }
    for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
    {
        if (File.Exists(Path.Combine(dir.FullName, "SeekSharp.sln")))
            return dir.FullName;
    }
    throw new DirectoryNotFoundException("run from inside the SeekSharp repository");
}
