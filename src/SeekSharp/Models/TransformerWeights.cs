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

    public static TransformerWeights Load(GgufFile file, ModelConfig c)
    {
        var loader = new TensorLoader(file);
        int qDim = c.HeadCount * c.KeyLength, kDim = c.KvHeadCount * c.KeyLength, vDim = c.KvHeadCount * c.ValueLength;
        var embd = loader.Matrix("token_embd.weight", c.EmbeddingLength, c.VocabSize);
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
        // Tied embeddings: without output.weight the token embedding doubles as the output projection.
        var output = file.TryGetTensor("output.weight", out _)
            ? loader.Matrix("output.weight", c.EmbeddingLength, c.VocabSize)
            : embd;
        return new TransformerWeights
        {
            TokenEmbedding = embd,
            OutputNorm = loader.Vector("output_norm.weight", c.EmbeddingLength),
            Output = output,
            Layers = layers,
            RopeFreqFactors = loader.OptionalVector("rope_freqs.weight", c.RopeDimensions / 2, required: false),
        };
    }
}

/// <summary>Finds tensors by name and checks their shapes and types, with errors that name the tensor.</summary>
internal sealed unsafe class TensorLoader(GgufFile file)
{
    /// <summary>A 3-D tensor [columns, rows, count] (experts, or per-head matrices) as <paramref name="count"/> matrices.</summary>
    public WeightMatrix[] Stack(string name, long columns, long rows, long count)
    {
        var t = Find(name);
        if (t.Dimensions.Length < 3 || t.Dimensions[0] != columns || t.Dimensions[1] != rows || t.Dimensions[2] != count || t.Dimensions.Skip(3).Any(d => d != 1))
            throw new GgufFormatException($"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{columns}, {rows}, {count}]");
        if (!MatMul.Supports(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses weight type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        byte* data = file.GetDataPointer(t);
        long bytes = GgmlTypeInfo.RowSize(t.Type, columns) * rows;
        var result = new WeightMatrix[count];
        for (int i = 0; i < count; i++) result[i] = new WeightMatrix(t.Type, (int)rows, (int)columns, data + i * bytes);
        return result;
    }

    public bool Has(string name) => file.TryGetTensor(name, out _);

    public WeightMatrix Matrix(string name, long columns, long rows)
    {
        var t = Find(name);
        if (t.Dimensions.Length > 2 && t.Dimensions.Skip(2).Any(d => d != 1) || t.Columns != columns || t.Rows != rows)
            throw new GgufFormatException($"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{columns}, {rows}]");
        if (!MatMul.Supports(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses weight type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        return new WeightMatrix(t.Type, (int)rows, (int)columns, file.GetDataPointer(t));
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
