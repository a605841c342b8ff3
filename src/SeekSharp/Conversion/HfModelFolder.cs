using System.Text.Json;

namespace SeekSharp.Conversion;

/// <summary>A tensor of a Hugging Face model folder: which shard holds it and where.</summary>
public sealed record HfTensor(SafeTensorsFile File, SafeTensorInfo Info)
{
    public string Name => Info.Name;
    public long[] Shape => Info.Shape;
}

/// <summary>
/// A Hugging Face model folder: config.json, the tokenizer files and the weights, either one model.safetensors or
/// shards listed by model.safetensors.index.json (whose weight map must agree with what the shards hold). Tensors
/// keep the order convert_hf_to_gguf.py sees them in: shards sorted by name, each in header order.
/// </summary>
public sealed class HfModelFolder : IDisposable
{
    private readonly List<SafeTensorsFile> _files = new();
    private readonly Dictionary<string, HfTensor> _byName = new(StringComparer.Ordinal);
    private readonly List<HfTensor> _ordered = new();

    public string Path { get; }
    public HfConfig Config { get; }
    public IReadOnlyList<HfTensor> Tensors => _ordered;

    private HfModelFolder(string path, HfConfig config)
    {
        Path = path;
        Config = config;
    }

    public static HfModelFolder Open(string path)
    {
        if (!Directory.Exists(path)) throw new DirectoryNotFoundException($"model folder not found: {path}");
        string configPath = System.IO.Path.Combine(path, "config.json");
        if (!File.Exists(configPath)) throw new FileNotFoundException($"{path} has no config.json (not a Hugging Face model folder)", configPath);
        var folder = new HfModelFolder(path, HfConfig.Load(configPath));
        try
        {
            folder.LoadWeights();
        }
        catch
        {
            folder.Dispose();
            throw;
        }
        return folder;
    }

    public bool TryGetTensor(string name, out HfTensor tensor) => _byName.TryGetValue(name, out tensor!);

    public string? FindFile(string name)
    {
        string p = System.IO.Path.Combine(Path, name);
        return File.Exists(p) ? p : null;
    }

    private void LoadWeights()
    {
        string indexPath = System.IO.Path.Combine(Path, "model.safetensors.index.json");
        Dictionary<string, string>? weightMap = null;
        List<string> parts;
        if (File.Exists(indexPath))
        {
            weightMap = ReadWeightMap(indexPath);
            parts = weightMap.Values.Distinct(StringComparer.Ordinal).OrderBy(s => s, StringComparer.Ordinal).ToList();
            foreach (string part in parts)
            {
                if (part.Contains('/') || part.Contains('\\') || part.Contains("..") || System.IO.Path.IsPathRooted(part))
                    throw new SafeTensorsFormatException($"{indexPath}: shard name '{part}' must be a plain file name in the model folder");
                if (!File.Exists(System.IO.Path.Combine(Path, part)))
                    throw new FileNotFoundException($"{Path}: shard '{part}' listed in model.safetensors.index.json is missing", part);
            }
        }
        else
        {
            parts = Directory.EnumerateFiles(Path, "model*.safetensors").Select(System.IO.Path.GetFileName).OfType<string>()
                .OrderBy(s => s, StringComparer.Ordinal).ToList();
            if (parts.Count == 0) throw new FileNotFoundException($"{Path} has no model*.safetensors weights");
        }
        foreach (string part in parts)
        {
            var file = SafeTensorsFile.Open(System.IO.Path.Combine(Path, part));
            _files.Add(file);
            foreach (var t in file.Tensors)
            {
                if (_byName.ContainsKey(t.Name))
                    throw new SafeTensorsFormatException($"{Path}: tensor '{t.Name}' appears in more than one shard");
                if (weightMap != null && (!weightMap.TryGetValue(t.Name, out string? listed) || listed != part))
                    throw new SafeTensorsFormatException($"{Path}: tensor '{t.Name}' is in {part} but model.safetensors.index.json says {(listed ?? "nothing")}");
                var ht = new HfTensor(file, t);
                _byName[t.Name] = ht;
                _ordered.Add(ht);
            }
        }
        if (weightMap != null)
        {
            var missing = weightMap.Keys.Where(k => !_byName.ContainsKey(k)).OrderBy(k => k, StringComparer.Ordinal).Take(5).ToList();
            if (missing.Count > 0)
                throw new SafeTensorsFormatException($"{Path}: tensors listed in model.safetensors.index.json are missing from the shards: {string.Join(", ", missing)}");
        }
    }

    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath), new JsonDocumentOptions { MaxDepth = 16 });
        if (doc.RootElement.ValueKind != JsonValueKind.Object || !doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{indexPath}: no weight_map object");
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in map.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String) throw new SafeTensorsFormatException($"{indexPath}: weight_map entry '{p.Name}' is not a file name");
            result[p.Name] = p.Value.GetString()!;
        }
        return result;
    }

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
        _files.Clear();
    }
}
