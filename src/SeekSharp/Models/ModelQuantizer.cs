using System.Text.RegularExpressions;
using SeekSharp.Gguf;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Models;

/// <summary>A target of <c>seek quantize</c>: a plain ggml type, or a llama.cpp-style mix such as Q4_K_M.</summary>
public sealed record QuantizationTarget(string Name, GgmlType BaseType, int FileType, bool MoreBitsMix)
{
    public static QuantizationTarget Parse(string name)
    {
        string n = name.Trim().ToLowerInvariant();
        switch (n)
        {
            case "q4_k_m": return new("Q4_K_M", GgmlType.Q4_K, 15, true);
            case "q4_k_s": return new("Q4_K_S", GgmlType.Q4_K, 14, false);
            case "q5_k_m": return new("Q5_K_M", GgmlType.Q5_K, 17, true);
            case "q5_k_s": return new("Q5_K_S", GgmlType.Q5_K, 16, false);
            case "q3_k_m": return new("Q3_K_M", GgmlType.Q3_K, 12, false);
        }
        if (!GgmlTypeInfo.TryParse(n, out var type) || !Quantizer.CanQuantize(type) || type == GgmlType.Q8_K)
            throw new ArgumentException($"unknown or unsupported quantization type '{name}' (use f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k, q4_k, q5_k, q6_k, q4_k_m, q5_k_m)");
        return new(GgmlTypeInfo.Name(type).ToUpperInvariant(), type, RandomModelBuilder.FileType(type), false);
    }

    public bool IsQuantized => BaseType is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16);
}

/// <summary>
/// Rewrites a GGUF model with its weight matrices in another type, following llama.cpp's choices: only 2-D
/// ".weight" tensors are converted (norms and biases stay f32); for quantized targets the output projection gets Q6_K
/// (Q8_0 stays Q8_0); the _M mixes give half of attn_v/ffn_down layers Q6_K; K-quants fall back to 32-wide types
/// when a row is not a multiple of 256.
/// </summary>
public static class ModelQuantizer
{
    public static GgmlType TypeFor(GgufTensorInfo t, QuantizationTarget target, int layerCount, bool hasOutput)
    {
        if (t.Dimensions.Length < 2 || !t.Name.EndsWith(".weight", StringComparison.Ordinal)) return t.Type;
        if (t.Name.Contains("_norm") || t.Name.Contains("ffn_gate_inp")) return t.Type;
        GgmlType type = target.BaseType;
        if (target.IsQuantized)
        {
            bool isOutput = t.Name == "output.weight" || (!hasOutput && t.Name == "token_embd.weight");
            if (isOutput && type != GgmlType.Q8_0) type = GgmlType.Q6_K;
            else if (target.MoreBitsMix && Layer(t.Name) is int layer && (t.Name.Contains("attn_v.") || t.Name.Contains("ffn_down")) && UseMoreBits(layer, layerCount))
                type = GgmlType.Q6_K;
        }
        return RandomModelBuilder.EffectiveType(type, t.Columns);
    }

    private static bool UseMoreBits(int i, int n) => i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;

    private static int? Layer(string name)
    {
        var m = Regex.Match(name, @"^blk\.(\d+)\.");
        return m.Success ? int.Parse(m.Groups[1].Value) : null;
    }

    public static void Quantize(string input, string output, QuantizationTarget target, IProgress<double>? progress = null)
    {
        if (Path.GetFullPath(input) == Path.GetFullPath(output))
            throw new ArgumentException("the output file must differ from the input file");
        using var src = GgufFile.Open(input);
        string arch = src.GetStringOrNull("general.architecture") ?? "";
        int layers = src.GetInt32($"{arch}.block_count", 0);
        bool hasOutput = src.TryGetTensor("output.weight", out _);
        var w = new GgufWriter().CopyMetadataFrom(src);
        w.Set("general.file_type", (uint)target.FileType);
        w.Set("general.quantization_version", 2u);
        foreach (var t in src.Tensors)
        {
            var type = TypeFor(t, target, layers, hasOutput);
            var tensor = t;
            if (type == t.Type)
                w.AddTensor(t.Name, t.Type, t.Dimensions, s => CopyData(src, tensor, s));
            else
            {
                if (!Dequantizer.CanDequantize(t.Type))
                    throw new NotSupportedException($"tensor '{t.Name}' has type {GgmlTypeInfo.Name(t.Type)}, which cannot be converted");
                w.AddTensor(t.Name, type, t.Dimensions, s => Convert(src, tensor, type, s));
            }
        }
        w.Write(output, progress);
    }

    private static unsafe void CopyData(GgufFile src, GgufTensorInfo t, Stream s)
    {
        byte* p = src.GetDataPointer(t);
        for (long off = 0; off < t.ByteSize; off += 1 << 30)
            s.Write(new ReadOnlySpan<byte>(p + off, (int)Math.Min(1 << 30, t.ByteSize - off)));
    }

    private static unsafe void Convert(GgufFile src, GgufTensorInfo t, GgmlType type, Stream s)
    {
        int cols = (int)t.Columns;
        long rows = t.Rows;
        long srcRow = GgmlTypeInfo.RowSize(t.Type, cols), dstRow = GgmlTypeInfo.RowSize(type, cols);
        byte* p = src.GetDataPointer(t);
        // convert a slab of rows in parallel, then write it in order
        const int Slab = 256;
        var floats = new float[Slab][];
        var bytes = new byte[Slab * dstRow];
        for (long r0 = 0; r0 < rows; r0 += Slab)
        {
            int count = (int)Math.Min(Slab, rows - r0);
            Parallel.For(0, count, i =>
            {
                var f = floats[i] ??= new float[cols];
                Dequantizer.DequantizeRow(t.Type, new ReadOnlySpan<byte>(p + (r0 + i) * srcRow, (int)srcRow), f);
                Quantizer.QuantizeRow(type, f, bytes.AsSpan((int)(i * dstRow), (int)dstRow));
            });
            s.Write(bytes, 0, (int)(count * dstRow));
        }
    }
}
