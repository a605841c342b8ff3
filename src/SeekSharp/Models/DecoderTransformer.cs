using SeekSharp.Inference;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Models;

/// <summary>
/// The Llama-family decoder (llama, qwen2, qwen3): pre-norm blocks of grouped-query attention with RoPE and a SwiGLU
/// feed-forward. One forward pass handles a batch of consecutive tokens of one sequence (prefill) or a single token
/// (decode); the per-architecture differences (biases, q/k norms, RoPE layout) come from <see cref="ModelConfig"/>.
/// </summary>
public sealed class DecoderTransformer : IDecoderModel, IDisposable
{
    /// <summary>Frees the packed weight copies, if the model was loaded with repacking.</summary>
    public void Dispose() => Weights.Packed?.Dispose();

    public DecoderTransformer(ModelConfig config, TransformerWeights weights)
    {
        KernelStatics.EnsureInitialized();
        Config = config;
        Weights = weights;
        Rope = new RotaryEmbedding(config.RopeDimensions, config.RopeLayout == RopeLayout.NeoX, config.RopeFreqBase,
            config.RopeFreqScale, config.YarnExtFactor, config.YarnAttnFactor, config.RopeOriginalContext,
            config.YarnBetaFast, config.YarnBetaSlow, weights.RopeFreqFactors, fused: true);
    }

    public ModelConfig Config { get; }
    public TransformerWeights Weights { get; }
    internal RotaryEmbedding Rope { get; }

    /// <summary>Test hook (null in normal runs): receives named intermediate tensors, under llama.cpp's graph names, for
    /// op-by-op comparison with llama.cpp's eval callback.</summary>
    [ThreadStatic] internal static ForwardProbe? Probe;

    public IForwardWorkspace CreateWorkspace(int maxTokens) => new ForwardWorkspace(Config, maxTokens);

    void IDecoderModel.Forward(ReadOnlySpan<int> tokens, KvCache cache, IForwardWorkspace workspace, Span<float> logits, bool allLogits, WorkerPool pool) =>
        Forward(tokens, cache, (ForwardWorkspace)workspace, logits, allLogits, pool);

    /// <summary>
    /// Runs <paramref name="tokens"/> at the cache's next positions, appends their keys/values to the cache, and
    /// writes logits: for every token when <paramref name="allLogits"/> (logits.Length ≥ n·vocab), else for the last.
    /// </summary>
    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, ForwardWorkspace ws, Span<float> logits, bool allLogits, WorkerPool pool)
    {
        var c = Config;
        int n = tokens.Length;
        if (n == 0) return;
        int pos0 = DecoderSteps.BeginBatch(cache, n, ws.MaxTokens);
        int d = c.EmbeddingLength, qDim = c.HeadCount * c.KeyLength, kDim = c.KvHeadCount * c.KeyLength;
        int vDim = c.KvHeadCount * c.ValueLength, oDim = c.HeadCount * c.ValueLength, ff = c.FeedForwardLength;

        var x = ws.X.AsSpan(0, n * d);
        var xb = ws.Xb.AsSpan(0, n * d);
        var q = ws.Q.AsSpan(0, n * qDim);
        var k = ws.K.AsSpan(0, n * kDim);
        var v = ws.V.AsSpan(0, n * vDim);
        var att = ws.Att.AsSpan(0, n * oDim);
        var gate = ws.Gate.AsSpan(0, n * ff);
        var up = ws.Up.AsSpan(0, n * ff);

        DecoderSteps.Embed(Weights.TokenEmbedding, c, tokens, x, Rope, pos0, ws.RopeCos, ws.RopeSin);
        int half = c.RopeDimensions / 2;


        for (int l = 0; l < c.LayerCount; l++)
        {
            var w = Weights.Layers[l];
            for (int t = 0; t < n; t++)
                Normalization.RmsNorm(x.Slice(t * d, d), w.AttnNorm, xb.Slice(t * d, d), c.RmsNormEpsilon);
            Probe?.Invoke("attn_norm", l, xb);
            MatMul.MultiplyShared(xb, n, pool, w.Wq, q, w.Wk, k, w.Wv, v);
            if (w.Bq != null) AddBias(q, w.Bq, n);
            if (w.Bk != null) AddBias(k, w.Bk, n);
            if (w.Bv != null) AddBias(v, w.Bv, n);
            if (w.QNorm != null) HeadNorm(q, w.QNorm, c.RmsNormEpsilon);
            if (w.KNorm != null) HeadNorm(k, w.KNorm, c.RmsNormEpsilon);
            Probe?.Invoke("Vcur", l, v);
            for (int t = 0; t < n; t++)
            {
                var cos = ws.RopeCos.AsSpan(t * half, half);
                var sin = ws.RopeSin.AsSpan(t * half, half);
                Rope.Apply(q.Slice(t * qDim, qDim), c.KeyLength, cos, sin);
                Rope.Apply(k.Slice(t * kDim, kDim), c.KeyLength, cos, sin);
            }
            Probe?.Invoke("Qcur", l, q);
            Probe?.Invoke("Kcur", l, k);
            // f16 values land transposed in the cache (as ggml keeps V), so attention reads them in place
            cache.Store(l, pos0, n, k, v);

            var body = new AttentionBody(this, cache, ws, l, pos0, n);
            // Batched f16 attention runs one work item per (token, KV head), sharing the group's widened keys and values.
            pool.For(n * (body.Grouped ? c.KvHeadCount : c.HeadCount), ref body);
            Probe?.Invoke("kqv_out", l, att);

            MatMul.Multiply(w.Wo, att, n, xb, pool);
            Activations.AddInPlace(x, xb);
            Probe?.Invoke("ffn_inp", l, x);

            for (int t = 0; t < n; t++)
                Normalization.RmsNorm(x.Slice(t * d, d), w.FfnNorm, xb.Slice(t * d, d), c.RmsNormEpsilon);
            Probe?.Invoke("ffn_norm", l, xb);
            MatMul.MultiplyShared(xb, n, pool, w.FfnGate, gate, w.FfnUp, up);
            Probe?.Invoke("ffn_gate", l, gate);
            Probe?.Invoke("ffn_up", l, up);
            GgmlExp.SwiGluRows(gate, up, ff);
            Probe?.Invoke("ffn_swiglu", l, gate);
            MatMul.Multiply(w.FfnDown, gate, n, xb, pool);
            Probe?.Invoke("ffn_out", l, xb);
            Activations.AddInPlace(x, xb);
            Probe?.Invoke("l_out", l, x);
        }
        cache.SetLength(pos0 + n);

        DecoderSteps.OutputLogits(c, Weights.OutputNorm, Weights.Output, x, xb, n, allLogits, logits, pool, Probe);
    }

    private static void AddBias(Span<float> y, float[] bias, int n)
    {
        for (int t = 0; t < n; t++) Activations.AddInPlace(y.Slice(t * bias.Length, bias.Length), bias);
    }

    private static void HeadNorm(Span<float> heads, float[] weight, float eps)
    {
        for (int h = 0; h < heads.Length; h += weight.Length)
        {
            var head = heads.Slice(h, weight.Length);
            Normalization.RmsNorm(head, weight, head, eps);
        }
    }

    /// <summary>One (token, head) pair per work item: causal attention over the cache up to the token's position.</summary>
    private readonly struct AttentionBody(DecoderTransformer model, KvCache cache, ForwardWorkspace ws, int layer, int pos0, int n) : IParallelBody
    {
        public bool Grouped { get; } = cache.Type == KvCacheType.F16 && GroupedAttention.Applies(model.Config.KeyLength, n > 1);

        public void Execute(int start, int end)
        {
            var c = model.Config;
            int qDim = c.HeadCount * c.KeyLength, oDim = c.HeadCount * c.ValueLength;
            float scale = 1.0f / MathF.Sqrt(c.KeyLength);
            int total = pos0 + ws.MaxTokens, vStride = cache.ValueColumnStride;
            var scores = ws.ScoresFor(LatentAttention.PaddedLength(total));
            if (Grouped)
            {
                int g = c.GroupSize;
                for (int item = start; item < end; item++)
                {
                    int t = item / c.KvHeadCount, kvh = item % c.KvHeadCount;
                    GroupedAttention.GroupF16(ws.Q.AsSpan(t * qDim + kvh * g * c.KeyLength, g * c.KeyLength), g,
                        cache.Keys16(layer).AsSpan(kvh * c.KeyLength), cache.KeyStride,
                        cache.Values16(layer).AsSpan(kvh * c.ValueLength * vStride), vStride, pos0 + n, c.ValueLength, pos0 + t + 1, scale,
                        scores, ws.Att.AsSpan(t * oDim + kvh * g * c.ValueLength, g * c.ValueLength));
                }
                return;
            }
            for (int item = start; item < end; item++)
            {
                int t = item / c.HeadCount, h = item % c.HeadCount;
                int kvh = h / c.GroupSize;
                int count = pos0 + t + 1;
                var q = ws.Q.AsSpan(t * qDim + h * c.KeyLength, c.KeyLength);
                var o = ws.Att.AsSpan(t * oDim + h * c.ValueLength, c.ValueLength);
                if (cache.Type == KvCacheType.F16)
                    // llama.cpp's order: K·q and Vᵀ·p as f16 matrix products (see LatentAttention), ggml's softmax
                    LatentAttention.HeadF16(q, cache.Keys16(layer).AsSpan(kvh * c.KeyLength), cache.KeyStride,
                        cache.Values16(layer).AsSpan(kvh * c.ValueLength * vStride), vStride, pos0 + n, c.ValueLength, count, scale, n > 1,
                        scores, o);
                else
                    Attention.HeadF32(q, cache.Keys32(layer), cache.KeyStride, kvh * c.KeyLength,
                        cache.Values32(layer), cache.ValueStride, kvh * c.ValueLength, c.ValueLength, count, scale, scores, o);
            }
        }
    }
}

/// <summary>Activation buffers for forward passes of up to <see cref="MaxTokens"/> tokens, allocated once.</summary>
public sealed class ForwardWorkspace : IForwardWorkspace
{
    [ThreadStatic] private static float[]? t_scores;

    public ForwardWorkspace(ModelConfig c, int maxTokens)
    {
        MaxTokens = maxTokens;
        X = new float[maxTokens * c.EmbeddingLength];
        Xb = new float[maxTokens * c.EmbeddingLength];
        Q = new float[maxTokens * c.HeadCount * c.KeyLength];
        K = new float[maxTokens * c.KvHeadCount * c.KeyLength];
        V = new float[maxTokens * c.KvHeadCount * c.ValueLength];
        Att = new float[maxTokens * c.HeadCount * c.ValueLength];
        Gate = new float[maxTokens * c.FeedForwardLength];
        Up = new float[maxTokens * c.FeedForwardLength];
        RopeCos = new float[maxTokens * c.RopeDimensions / 2];
        RopeSin = new float[maxTokens * c.RopeDimensions / 2];
    }

    public int MaxTokens { get; }
    internal float[] X { get; }
    internal float[] Xb { get; }
    internal float[] Q { get; }
    internal float[] K { get; }
    internal float[] V { get; }
    internal float[] Att { get; }
    internal float[] Gate { get; }
    internal float[] Up { get; }
    internal float[] RopeCos { get; }
    internal float[] RopeSin { get; }

    /// <summary>Per-thread score buffer, grown on demand and then reused (no allocation per token).</summary>
    internal Span<float> ScoresFor(int positions)
    {
        if (t_scores == null || t_scores.Length < positions) t_scores = new float[Math.Max(positions, 1024)];
        return t_scores;
    }
}
