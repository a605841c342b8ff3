using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Models;

/// <summary>Weights of one decoder block. Matrices point into the memory-mapped file; small vectors are decoded to f32.</summary>
public sealed class LayerWeights
{
    public required float[] AttnNorm { get; init; }
    public required WeightMatrix Wq { get; init; }
    public required WeightMatrix Wk { get; init; }
    public required WeightMatrix Wv { get; init; }
    public required WeightMatrix Wo { get; init; }
    public float[]? Bq { get; init; }
    public float[]? Bk { get; init; }
    public float[]? Bv { get; init; }
    public float[]? QNorm { get; init; }
    public float[]? KNorm { get; init; }
    public required float[] FfnNorm { get; init; }
    public required WeightMatrix FfnGate { get; init; }
    public required WeightMatrix FfnUp { get; init; }
    public required WeightMatrix FfnDown { get; init; }
}

/// <summary>All tensors of a Llama-family model, checked against the hyperparameters when loaded.</summary>
public sealed class TransformerWeights
{
    public required WeightMatrix TokenEmbedding { get; init; }
    public required float[] OutputNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    public required LayerWeights[] Layers { get; init; }
    public float[]? RopeFreqFactors { get; init; }

    /// <summary>The packed (repacked-order) copies of the Q4_0 / Q4_K matrices, or null when loaded without repacking.</summary>
    public PackedWeightStore? Packed { get; init; }

    /// <param name="file">The open GGUF file the matrices point into.</param>
    /// <param name="c">The hyperparameters the shapes are checked against.</param>
    /// <param name="repack">Pack Q4_0 / Q4_K matrices as llama.cpp's default CPU backend does (see <see cref="WeightPacking"/>).</param>
    public static TransformerWeights Load(GgufFile file, ModelConfig c, bool repack = false) =>
        TensorLoader.WithPacking(file, repack, (loader, packed) => Load(file, c, loader, packed));

    private static TransformerWeights Load(GgufFile file, ModelConfig c, TensorLoader loader, PackedWeightStore? packed)
    {
        int qDim = c.HeadCount * c.KeyLength, kDim = c.KvHeadCount * c.KeyLength, vDim = c.KvHeadCount * c.ValueLength;
        var embd = loader.Matrix("token_embd.weight", c.EmbeddingLength, c.VocabSize, packable: false);
        var layers = new LayerWeights[c.LayerCount];
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"blk.{i}.";
            layers[i] = new LayerWeights
            {
                AttnNorm = loader.Vector(p + "attn_norm.weight", c.EmbeddingLength),
                Wq = loader.Matrix(p + "attn_q.weight", c.EmbeddingLength, qDim),
                Wk = loader.Matrix(p + "attn_k.weight", c.EmbeddingLength, kDim),
                Wv = loader.Matrix(p + "attn_v.weight", c.EmbeddingLength, vDim),
                Wo = loader.Matrix(p + "attn_output.weight", c.HeadCount * c.ValueLength, c.EmbeddingLength),
                Bq = loader.OptionalVector(p + "attn_q.bias", qDim, required: c.HasQkvBias),
                Bk = loader.OptionalVector(p + "attn_k.bias", kDim, required: c.HasQkvBias),
                Bv = loader.OptionalVector(p + "attn_v.bias", vDim, required: c.HasQkvBias),
                QNorm = loader.OptionalVector(p + "attn_q_norm.weight", c.KeyLength, required: c.HasQkNorm),
                KNorm = loader.OptionalVector(p + "attn_k_norm.weight", c.KeyLength, required: c.HasQkNorm),
                FfnNorm = loader.Vector(p + "ffn_norm.weight", c.EmbeddingLength),
                FfnGate = loader.Matrix(p + "ffn_gate.weight", c.EmbeddingLength, c.FeedForwardLength),
                FfnUp = loader.Matrix(p + "ffn_up.weight", c.EmbeddingLength, c.FeedForwardLength),
                FfnDown = loader.Matrix(p + "ffn_down.weight", c.FeedForwardLength, c.EmbeddingLength),
            };
        }
        // Tied embeddings: without output.weight the token embedding doubles as the output projection (llama.cpp then
        // repacks a second copy of it for the product, and keeps the plain one for row lookups).
        var output = file.TryGetTensor("output.weight", out _)
            ? loader.Matrix("output.weight", c.EmbeddingLength, c.VocabSize)
            : loader.Packable(embd);
        loader.PackAll();
        return new TransformerWeights
        {
            TokenEmbedding = embd,
            OutputNorm = loader.Vector("output_norm.weight", c.EmbeddingLength),
            Output = output,
            Layers = layers,
            RopeFreqFactors = loader.OptionalVector("rope_freqs.weight", c.RopeDimensions / 2, required: false),
            Packed = packed,
        };
    }
}

/// <summary>
/// Finds tensors by name and checks their shapes and types, with errors that name the tensor. With a
/// <see cref="PackedWeightStore"/>, the matrices llama.cpp would repack get a packed copy (filled by <see cref="PackAll"/>).
/// </summary>
internal sealed unsafe class TensorLoader(GgufFile file, PackedWeightStore? packed = null)
{
    /// <summary>
    /// A 3-D tensor [columns, rows, count] (experts, or per-head matrices) as <paramref name="count"/> matrices.
    /// <paramref name="packable"/>: true for MoE expert stacks (llama.cpp repacks those for mul_mat_id), false for
    /// per-head matrices (a 3-D mul_mat weight, which it does not).
    /// </summary>
    public WeightMatrix[] Stack(string name, long columns, long rows, long count, bool packable)
    {
        var t = Find(name);
        if (t.Dimensions.Length < 3 || t.Dimensions[0] != columns || t.Dimensions[1] != rows || t.Dimensions[2] != count || t.Dimensions.Skip(3).Any(d => d != 1))
            throw new GgufFormatException($"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{columns}, {rows}, {count}]");
        if (!MatMul.Supports(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses weight type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        byte* data = file.GetDataPointer(t);
        long bytes = GgmlTypeInfo.RowSize(t.Type, columns) * rows;
        var result = new WeightMatrix[count];
        for (int i = 0; i < count; i++)
        {
            result[i] = new WeightMatrix(t.Type, (int)rows, (int)columns, data + i * bytes);
            if (packable)
                result[i] = Packable(result[i]);
        }
        return result;
    }

    public bool Has(string name) => file.TryGetTensor(name, out _);

    /// <summary>
    /// Runs <paramref name="load"/> with a loader that packs (when <paramref name="repack"/>) into a new store, which is
    /// freed if loading fails and otherwise belongs to the weights returned.
    /// </summary>
    public static T WithPacking<T>(GgufFile file, bool repack, Func<TensorLoader, PackedWeightStore?, T> load)
    {
        var packed = repack ? new PackedWeightStore() : null;
        try
        {
            return load(new TensorLoader(file, packed), packed);
        }
        catch
        {
            packed?.Dispose();
            throw;
        }
    }

    /// <summary><paramref name="w"/> with a packed copy reserved when loading with repacking and llama.cpp would repack it.</summary>
    public WeightMatrix Packable(in WeightMatrix w) => packed != null ? packed.Add(w, file) : w;

    /// <summary>Fills the reserved packed copies (reading the plain rows from the file), on all cores.</summary>
    public void PackAll() => packed?.PackAll(Environment.ProcessorCount);

    /// <summary>A 2-D weight; <paramref name="packable"/> is false for one only read by rows (the token embedding).</summary>
    public WeightMatrix Matrix(string name, long columns, long rows, bool packable = true)
    {
        var t = Find(name);
        if (t.Dimensions.Length > 2 && t.Dimensions.Skip(2).Any(d => d != 1) || t.Columns != columns || t.Rows != rows)
            throw new GgufFormatException($"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{columns}, {rows}]");
        if (!MatMul.Supports(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses weight type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        var w = new WeightMatrix(t.Type, (int)rows, (int)columns, file.GetDataPointer(t));
        return packable ? Packable(w) : w;
    }

    public float[] Vector(string name, long length) => OptionalVector(name, length, required: true)!;

    public float[]? OptionalVector(string name, long length, bool required)
    {
        if (!file.TryGetTensor(name, out var t))
            return required ? throw new GgufFormatException($"missing tensor '{name}'") : null;
        if (t.ElementCount != length)
            throw new GgufFormatException($"tensor '{name}' has {t.ElementCount} values, expected {length}");
        if (!Dequantizer.CanDequantize(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        var values = new float[length];
        Dequantizer.DequantizeRow(t.Type, file.GetData(t), values);
        return values;
    }

    private GgufTensorInfo Find(string name) =>
        file.TryGetTensor(name, out var t) ? t : throw new GgufFormatException($"missing tensor '{name}'");
}
