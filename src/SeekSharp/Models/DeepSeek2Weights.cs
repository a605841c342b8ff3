using SeekSharp.Gguf;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;

namespace SeekSharp.Models;

/// <summary>Weights of one DeepSeek-V2/V3 block: multi-head latent attention, then a dense or a mixture-of-experts
/// feed-forward. Matrices point into the memory-mapped file; norms and the router bias are decoded to f32.</summary>
public sealed class DeepSeek2LayerWeights
{
    public required float[] AttnNorm { get; init; }
    /// <summary>Full query projection (no query compression, q_lora_rank = 0).</summary>
    public WeightMatrix? Wq { get; init; }
    /// <summary>Query compression (q_lora_rank &gt; 0): down-projection, its RMS norm, up-projection.</summary>
    public WeightMatrix? WqA { get; init; }
    public float[]? QANorm { get; init; }
    public WeightMatrix? WqB { get; init; }
    /// <summary>Down-projection to the latent (kv_lora_rank) followed by the shared RoPE key.</summary>
    public required WeightMatrix WkvA { get; init; }
    public required float[] KvANorm { get; init; }
    /// <summary>Per head: latent ← no-RoPE query (kv_lora_rank rows of qk_nope values): absorbs the key up-projection.</summary>
    public required WeightMatrix[] Kb { get; init; }
    /// <summary>Per head: value ← latent (v_head_dim rows of kv_lora_rank values).</summary>
    public required WeightMatrix[] Vb { get; init; }
    public required WeightMatrix Wo { get; init; }
    public required float[] FfnNorm { get; init; }

    // leading dense blocks
    public WeightMatrix? FfnGate { get; init; }
    public WeightMatrix? FfnUp { get; init; }
    public WeightMatrix? FfnDown { get; init; }

    // DeepSeekMoE blocks
    public WeightMatrix? Router { get; init; }
    /// <summary>DeepSeek-V3's e_score_correction_bias: added to the scores to choose experts, never to weigh them.</summary>
    public float[]? RouterBias { get; init; }
    public WeightMatrix[]? GateExperts { get; init; }
    public WeightMatrix[]? UpExperts { get; init; }
    public WeightMatrix[]? DownExperts { get; init; }
    public WeightMatrix? GateShared { get; init; }
    public WeightMatrix? UpShared { get; init; }
    public WeightMatrix? DownShared { get; init; }

    public bool IsMoe => Router != null;
}

/// <summary>All tensors of a GGUF "deepseek2" model, checked against the hyperparameters when loaded.</summary>
public sealed class DeepSeek2Weights
{
    public required WeightMatrix TokenEmbedding { get; init; }
    public required float[] OutputNorm { get; init; }
    public required WeightMatrix Output { get; init; }
    public required DeepSeek2LayerWeights[] Layers { get; init; }

    /// <summary>Tensors of the multi-token-prediction blocks (blk.N.* for N ≥ the main layer count, including
    /// blk.N.nextn.*), kept for speculative decoding; the main forward pass never runs them, as in llama.cpp.</summary>
    public required IReadOnlyList<GgufTensorInfo> NextNTensors { get; init; }

    /// <summary>The packed (repacked-order) copies of the Q4_0 / Q4_K matrices, or null when loaded without repacking.</summary>
    public PackedWeightStore? Packed { get; init; }

    /// <param name="file">The open GGUF file the matrices point into.</param>
    /// <param name="c">The hyperparameters the shapes are checked against.</param>
    /// <param name="repack">Pack Q4_0 / Q4_K matrices as llama.cpp's default CPU backend does (see <see cref="WeightPacking"/>).</param>
    public static DeepSeek2Weights Load(GgufFile file, ModelConfig c, bool repack = false) =>
        TensorLoader.WithPacking(file, repack, (loader, packed) => Load(file, c, loader, packed));

    private static DeepSeek2Weights Load(GgufFile file, ModelConfig c, TensorLoader loader, PackedWeightStore? packed)
    {
        var owned = new List<nint>();
        int d = c.EmbeddingLength, heads = c.HeadCount, kMla = c.KeyLengthMla, vMla = c.ValueLengthMla;
        int rope = c.RopeDimensions, nope = c.QkNopeHeadDim, kvLora = c.KvLoraRank;
        var embd = loader.Matrix("token_embd.weight", d, c.VocabSize, packable: false);
        var layers = new DeepSeek2LayerWeights[c.LayerCount];
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"blk.{i}.";
            WeightMatrix[] kb, vb;
            if (loader.Has(p + "attn_k_b.weight"))
            {
                kb = loader.Stack(p + "attn_k_b.weight", nope, kvLora, heads, packable: false);
                vb = loader.Stack(p + "attn_v_b.weight", kvLora, vMla, heads, packable: false);
            }
            else if (loader.Has(p + "attn_kv_b.weight"))
                (kb, vb) = SplitKvB(file, p + "attn_kv_b.weight", c, owned);
            else
                throw new GgufFormatException($"missing tensor '{p}attn_k_b.weight'");
            bool dense = i < c.LeadingDenseBlocks;
            int ff = c.ExpertFeedForwardLength, shared = c.ExpertFeedForwardLength * c.ExpertSharedCount;
            layers[i] = new DeepSeek2LayerWeights
            {
                AttnNorm = loader.Vector(p + "attn_norm.weight", d),
                Wq = c.QLoraRank == 0 ? loader.Matrix(p + "attn_q.weight", d, heads * kMla) : null,
                WqA = c.QLoraRank > 0 ? loader.Matrix(p + "attn_q_a.weight", d, c.QLoraRank) : null,
                QANorm = c.QLoraRank > 0 ? loader.Vector(p + "attn_q_a_norm.weight", c.QLoraRank) : null,
                WqB = c.QLoraRank > 0 ? loader.Matrix(p + "attn_q_b.weight", c.QLoraRank, heads * kMla) : null,
                WkvA = loader.Matrix(p + "attn_kv_a_mqa.weight", d, kvLora + rope),
                KvANorm = loader.Vector(p + "attn_kv_a_norm.weight", kvLora),
                Kb = kb,
                Vb = vb,
                Wo = loader.Matrix(p + "attn_output.weight", heads * vMla, d),
                FfnNorm = loader.Vector(p + "ffn_norm.weight", d),
                FfnGate = dense ? loader.Matrix(p + "ffn_gate.weight", d, c.FeedForwardLength) : null,
                FfnUp = dense ? loader.Matrix(p + "ffn_up.weight", d, c.FeedForwardLength) : null,
                FfnDown = dense ? loader.Matrix(p + "ffn_down.weight", c.FeedForwardLength, d) : null,
                Router = dense ? null : loader.Matrix(p + "ffn_gate_inp.weight", d, c.ExpertCount),
                RouterBias = dense ? null : loader.OptionalVector(p + "exp_probs_b.bias", c.ExpertCount, required: false),
                GateExperts = dense ? null : loader.Stack(p + "ffn_gate_exps.weight", d, ff, c.ExpertCount, packable: true),
                UpExperts = dense ? null : loader.Stack(p + "ffn_up_exps.weight", d, ff, c.ExpertCount, packable: true),
                DownExperts = dense ? null : loader.Stack(p + "ffn_down_exps.weight", ff, d, c.ExpertCount, packable: true),
                GateShared = dense || shared == 0 ? null : loader.Matrix(p + "ffn_gate_shexp.weight", d, shared),
                UpShared = dense || shared == 0 ? null : loader.Matrix(p + "ffn_up_shexp.weight", d, shared),
                DownShared = dense || shared == 0 ? null : loader.Matrix(p + "ffn_down_shexp.weight", shared, d),
            };
        }
        var output = file.TryGetTensor("output.weight", out _) ? loader.Matrix("output.weight", d, c.VocabSize) : loader.Packable(embd);
        loader.PackAll();
        var nextn = file.Tensors.Where(t => t.Name.StartsWith("blk.", StringComparison.Ordinal)
            && int.TryParse(t.Name.AsSpan(4, t.Name.IndexOf('.', 4) - 4), out int b) && b >= c.LayerCount).ToArray();
        return new DeepSeek2Weights
        {
            TokenEmbedding = embd,
            OutputNorm = loader.Vector("output_norm.weight", d),
            Output = output,
            Layers = layers,
            NextNTensors = nextn,
            OwnedBuffers = owned,
            Packed = packed,
        };
    }

    /// <summary>Native buffers of matrices derived at load time (split attn_kv_b); freed with the model.</summary>
    internal IReadOnlyList<nint> OwnedBuffers { get; init; } = Array.Empty<nint>();

    /// <summary>
    /// Older GGUFs store the key/value up-projection unsplit (attn_kv_b: per head nope key rows then value rows, each
    /// over the latent). The absorbed form needs it per head as latent ← no-RoPE query (the key rows transposed) and
    /// value ← latent: the split convert_hf_to_gguf.py does, done here once, into f32 matrices. (llama.cpp itself runs
    /// such files without absorption, with a full per-head K/V cache; the math is the same, the rounding differs.)
    /// </summary>
    private static unsafe (WeightMatrix[] Kb, WeightMatrix[] Vb) SplitKvB(GgufFile file, string name, ModelConfig c, List<nint> owned)
    {
        int heads = c.HeadCount, nope = c.QkNopeHeadDim, v = c.ValueLengthMla, kvLora = c.KvLoraRank;
        var t = file.TryGetTensor(name, out var info) ? info : throw new GgufFormatException($"missing tensor '{name}'");
        if (t.Columns != kvLora || t.Rows != (long)heads * (nope + v))
            throw new GgufFormatException($"tensor '{name}' has shape [{string.Join(", ", t.Dimensions)}], expected [{kvLora}, {heads * (nope + v)}]");
        if (!Dequantizer.CanDequantize(t.Type))
            throw new NotSupportedException($"tensor '{name}' uses type {GgmlTypeInfo.Name(t.Type)}, which is not supported");
        var data = file.GetData(t);
        long rowBytes = GgmlTypeInfo.RowSize(t.Type, kvLora);
        var row = new float[kvLora];
        var kb = new WeightMatrix[heads];
        var vb = new WeightMatrix[heads];
        for (int h = 0; h < heads; h++)
        {
            float* k = (float*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)(kvLora * nope), sizeof(float));
            float* vv = (float*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)(v * kvLora), sizeof(float));
            owned.Add((nint)k);
            owned.Add((nint)vv);
            for (int j = 0; j < nope + v; j++)
            {
                long r = (long)h * (nope + v) + j;
                Dequantizer.DequantizeRow(t.Type, data.Slice((int)(r * rowBytes), (int)rowBytes), row);
                if (j < nope)
                    for (int i = 0; i < kvLora; i++) k[(long)i * nope + j] = row[i];
                else
                    row.CopyTo(new Span<float>(vv + (long)(j - nope) * kvLora, kvLora));
            }
            kb[h] = new WeightMatrix(GgmlType.F32, kvLora, nope, (byte*)k);
            vb[h] = new WeightMatrix(GgmlType.F32, v, kvLora, (byte*)vv);
        }
        return (kb, vb);
    }
}
