using SeekSharp.Gguf;
using SeekSharp.Models;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Conversion;

/// <summary>
/// A tiny deepseek2-shaped GGUF with random weights, the names, shapes, types and keys llama.cpp's converter gives a
/// DeepSeek-V3 checkpoint: layer 0 dense, layer 1 MoE (4 routed experts, 1 shared, sigmoid router with correction
/// bias), MLA with or without a Q LoRA, YaRN rope scaling. It only needs to round-trip, not to run.
/// </summary>
internal static class Deepseek2Gguf
{
    public const int Embedding = 64;
    private const int Heads = 4, Nope = 16, Rope = 8, V = 16, KvLora = 32, QLora = 24, Ff = 96, MoeFf = 32, Experts = 4, Layers = 2;

    public static GgufWriter Build(bool qLora, GgmlType type, Vocabulary? vocabulary = null)
    {
        var vocab = vocabulary ?? SyntheticVocabulary.Create(512, "deepseek-v3");
        const string a = "deepseek2";
        int d = Embedding;
        var w = new GgufWriter();
        w.Set("general.architecture", a);
        w.Set("general.type", "model");
        w.Set("general.name", "ds2-test");
        w.Set($"{a}.block_count", (uint)Layers);
        w.Set($"{a}.context_length", 4096u);
        w.Set($"{a}.embedding_length", (uint)d);
        w.Set($"{a}.feed_forward_length", (uint)Ff);
        w.Set($"{a}.attention.head_count", (uint)Heads);
        w.Set($"{a}.attention.head_count_kv", 1u);
        w.Set($"{a}.rope.scaling.type", "yarn");
        w.Set($"{a}.rope.scaling.factor", 40f);
        w.Set($"{a}.rope.scaling.original_context_length", 4096u);
        w.Set($"{a}.rope.scaling.yarn_beta_fast", 32f);
        w.Set($"{a}.rope.scaling.yarn_beta_slow", 1f);
        w.Set($"{a}.rope.freq_base", 10000f);
        w.Set($"{a}.attention.layer_norm_rms_epsilon", 1e-6f);
        w.Set($"{a}.expert_used_count", 2u);
        w.Set($"{a}.expert_group_count", 2u);
        w.Set($"{a}.expert_group_used_count", 1u);
        w.Set($"{a}.expert_gating_func", 2u);
        w.Set($"{a}.leading_dense_block_count", 1u);
        w.Set($"{a}.vocab_size", (uint)vocab.Count);
        if (qLora) w.Set($"{a}.attention.q_lora_rank", (uint)QLora);
        w.Set($"{a}.attention.kv_lora_rank", (uint)KvLora);
        w.Set($"{a}.attention.key_length", (uint)(KvLora + Rope));
        w.Set($"{a}.attention.value_length", (uint)KvLora);
        w.Set($"{a}.attention.key_length_mla", (uint)(Nope + Rope));
        w.Set($"{a}.attention.value_length_mla", (uint)V);
        w.Set($"{a}.expert_feed_forward_length", (uint)MoeFf);
        w.Set($"{a}.expert_count", (uint)Experts);
        w.Set($"{a}.expert_shared_count", 1u);
        w.Set($"{a}.expert_weights_scale", 2.5f);
        w.Set($"{a}.expert_weights_norm", true);
        w.Set($"{a}.rope.dimension_count", (uint)Rope);
        w.Set($"{a}.rope.scaling.yarn_log_multiplier", 0.1f);
        w.Set("general.file_type", (uint)RandomModelBuilder.FileType(type));
        w.Set("general.quantization_version", 2u);
        GgufVocabulary.Write(w, vocab);

        var rng = new Random(5);
        void Add(string name, GgmlType t, params long[] dims)
        {
            long rows = 1;
            for (int i = 1; i < dims.Length; i++) rows *= dims[i];
            int cols = (int)dims[0];
            var bytes = new byte[rows * GgmlTypeInfo.RowSize(t, cols)];
            var row = new float[cols];
            int rb = (int)GgmlTypeInfo.RowSize(t, cols);
            for (long r = 0; r < rows; r++)
            {
                for (int i = 0; i < cols; i++) row[i] = (float)(rng.NextDouble() * 2 - 1);
                Quantizer.QuantizeRow(t, row, bytes.AsSpan((int)(r * rb), rb));
            }
            w.AddTensor(name, t, dims, bytes);
        }
        Add("token_embd.weight", type, d, vocab.Count);
        for (int l = 0; l < Layers; l++)
        {
            string p = $"blk.{l}.";
            Add(p + "attn_norm.weight", GgmlType.F32, d);
            if (qLora)
            {
                Add(p + "attn_q_a.weight", type, d, QLora);
                Add(p + "attn_q_a_norm.weight", GgmlType.F32, QLora);
                Add(p + "attn_q_b.weight", type, QLora, Heads * (Nope + Rope));
            }
            else
            {
                Add(p + "attn_q.weight", type, d, Heads * (Nope + Rope));
            }
            Add(p + "attn_kv_a_mqa.weight", type, d, KvLora + Rope);
            Add(p + "attn_kv_a_norm.weight", GgmlType.F32, KvLora);
            Add(p + "attn_k_b.weight", type, Nope, KvLora, Heads);
            Add(p + "attn_v_b.weight", type, KvLora, V, Heads);
            Add(p + "attn_output.weight", type, Heads * V, d);
            Add(p + "ffn_norm.weight", GgmlType.F32, d);
            if (l == 0)
            {
                Add(p + "ffn_gate.weight", type, d, Ff);
                Add(p + "ffn_up.weight", type, d, Ff);
                Add(p + "ffn_down.weight", type, Ff, d);
            }
            else
            {
                Add(p + "ffn_gate_inp.weight", GgmlType.F32, d, Experts);
                Add(p + "exp_probs_b.bias", GgmlType.F32, Experts);
                Add(p + "ffn_gate_exps.weight", type, d, MoeFf, Experts);
                Add(p + "ffn_up_exps.weight", type, d, MoeFf, Experts);
                Add(p + "ffn_down_exps.weight", type, MoeFf, d, Experts);
                Add(p + "ffn_gate_shexp.weight", type, d, MoeFf);
                Add(p + "ffn_up_shexp.weight", type, d, MoeFf);
                Add(p + "ffn_down_shexp.weight", type, MoeFf, d);
            }
        }
        Add("output_norm.weight", GgmlType.F32, d);
        Add("output.weight", type, d, vocab.Count);
        return w;
    }
}
