using SeekSharp.Inference;
using SeekSharp.Numerics;
using SeekSharp.Numerics.Quantization;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Models;

/// <summary>
/// DeepSeek-V2/V3 (GGUF "deepseek2") in llama.cpp's absorbed form. Attention is multi-head latent attention run in the
/// latent space: the cache holds, per token and layer, only the normalised KV latent (kv_lora_rank values) and the
/// shared RoPE key; each head's no-RoPE query is mapped into the latent space through attn_k_b, so every head attends
/// over the same cached rows (multi-query attention with kv_lora_rank + rope wide heads, the latent serving as value),
/// and the attended latent is mapped to the head's value through attn_v_b. The feed-forward is dense for the leading
/// blocks and DeepSeekMoE after them: routed experts (only the chosen ones are read) plus always-on shared experts.
/// </summary>
public sealed class DeepSeek2Transformer : IDecoderModel, IDisposable
{
    public DeepSeek2Transformer(ModelConfig config, DeepSeek2Weights weights)
    {
        if (!config.IsMla) throw new ArgumentException("not a multi-head latent attention model", nameof(config));
        KernelStatics.EnsureInitialized();
        Config = config;
        Weights = weights;
        // DeepSeek rotates adjacent pairs (ggml's normal mode) over the RoPE part only.
        Rope = new RotaryEmbedding(config.RopeDimensions, neox: false, config.RopeFreqBase, config.RopeFreqScale,
            config.YarnExtFactor, config.YarnAttnFactor, config.RopeOriginalContext, config.YarnBetaFast, config.YarnBetaSlow,
            fused: true);
        AttentionScale = config.MlaAttentionScale;
    }

    public ModelConfig Config { get; }
    public DeepSeek2Weights Weights { get; }

    /// <summary>Test hook (null in normal runs): receives named intermediate tensors, under llama.cpp's graph names, for
    /// op-by-op comparison with llama.cpp's eval callback. Layer -1 means the layer of the previous call.</summary>
    [ThreadStatic] internal static ForwardProbe? Probe;
    internal RotaryEmbedding Rope { get; }
    /// <summary>Softmax scale of the latent attention (YaRN mscale² / √key_length_mla).</summary>
    public float AttentionScale { get; }

    public IForwardWorkspace CreateWorkspace(int maxTokens) => new DeepSeek2Workspace(Config, maxTokens);

    private bool _disposed;

    /// <summary>Frees matrices derived at load time (the split of a legacy attn_kv_b, packed copies), if any.</summary>
    public unsafe void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Weights.Packed?.Dispose();
        foreach (nint p in Weights.OwnedBuffers) System.Runtime.InteropServices.NativeMemory.Free((void*)p);
    }

    void IDecoderModel.Forward(ReadOnlySpan<int> tokens, KvCache cache, IForwardWorkspace workspace, Span<float> logits, bool allLogits, WorkerPool pool) =>
        Forward(tokens, cache, (DeepSeek2Workspace)workspace, logits, allLogits, pool);

    public void Forward(ReadOnlySpan<int> tokens, KvCache cache, DeepSeek2Workspace ws, Span<float> logits, bool allLogits, WorkerPool pool)
    {
        var c = Config;
        int n = tokens.Length;
        if (n == 0) return;
        if (cache.KeyStride != c.CacheKeyWidth || cache.ValueStride != 0)
            throw new ArgumentException("the cache was not made for this model (KvCache.For)", nameof(cache));
        int pos0 = DecoderSteps.BeginBatch(cache, n, ws.MaxTokens);
        int d = c.EmbeddingLength, heads = c.HeadCount, kMla = c.KeyLengthMla, vMla = c.ValueLengthMla;
        int rope = c.RopeDimensions, nope = c.QkNopeHeadDim, kvLora = c.KvLoraRank, row = kvLora + rope;
        int qDim = heads * kMla;

        var x = ws.X.AsSpan(0, n * d);
        var xb = ws.Xb.AsSpan(0, n * d);
        var q = ws.Q.AsSpan(0, n * qDim);
        var kv = ws.Kv.AsSpan(0, n * row);

        DecoderSteps.Embed(Weights.TokenEmbedding, c, tokens, x, Rope, pos0, ws.RopeCos, ws.RopeSin);
        int half = rope / 2;

        for (int l = 0; l < c.LayerCount; l++)
        {
            var w = Weights.Layers[l];
            for (int t = 0; t < n; t++)
                Normalization.RmsNorm(x.Slice(t * d, d), w.AttnNorm, xb.Slice(t * d, d), c.RmsNormEpsilon);
            Probe?.Invoke("attn_norm", l, xb);

            bool batched = KernelSettings.BatchedMatMul;
            if (batched)
            {
                // queries (or the query latent) and the KV latent read the same input: one batched call
                var proj = ws.Scratch(n * (c.QLoraRank > 0 ? c.QLoraRank : qDim) + n * row);
                int kvAt = proj.Length - n * row;
                var jobs = ws.Jobs;
                jobs[0] = new MatMulJob(w.Wq ?? w.WqA!.Value, n, 0, d, 0, (w.Wq ?? w.WqA!.Value).Rows);
                jobs[1] = new MatMulJob(w.WkvA, n, 0, d, kvAt, row);
                MatMul.MultiplyBatched(jobs.AsSpan(0, 2), xb, proj, pool);
                proj.Slice(kvAt, n * row).CopyTo(kv);
                if (w.Wq is not null)
                    proj[..(n * qDim)].CopyTo(q);
                else
                {
                    var qa = ws.QA.AsSpan(0, n * c.QLoraRank);
                    proj[..(n * c.QLoraRank)].CopyTo(qa);
                    for (int t = 0; t < n; t++)
                    {
                        var r = qa.Slice(t * c.QLoraRank, c.QLoraRank);
                        Normalization.RmsNorm(r, w.QANorm, r, c.RmsNormEpsilon);
                    }
                    Probe?.Invoke("q_a_norm", l, qa);
                    MatMul.Multiply(w.WqB!.Value, qa, n, q, pool);
                }
                Probe?.Invoke("q", l, q);
            }
            // queries: [token][head][nope | rope]
            else if (w.Wq is WeightMatrix wq)
                MatMul.Multiply(wq, xb, n, q, pool);
            else
            {
                var qa = ws.QA.AsSpan(0, n * c.QLoraRank);
                MatMul.Multiply(w.WqA!.Value, xb, n, qa, pool);
                for (int t = 0; t < n; t++)
                {
                    var r = qa.Slice(t * c.QLoraRank, c.QLoraRank);
                    Normalization.RmsNorm(r, w.QANorm, r, c.RmsNormEpsilon);
                }
                Probe?.Invoke("q_a_norm", l, qa);
                MatMul.Multiply(w.WqB!.Value, qa, n, q, pool);
            }
            if (!batched)
            {
                Probe?.Invoke("q", l, q);
                // latent and shared RoPE key: [token][kv_lora | rope]
                MatMul.Multiply(w.WkvA, xb, n, kv, pool);
            }
            Probe?.Invoke("kv_cmpr_pe", l, kv);
            for (int t = 0; t < n; t++)
            {
                var cos = ws.RopeCos.AsSpan(t * half, half);
                var sin = ws.RopeSin.AsSpan(t * half, half);
                for (int h = 0; h < heads; h++)
                    Rope.Apply(q.Slice(t * qDim + h * kMla + nope, rope), rope, cos, sin);
                Rope.Apply(kv.Slice(t * row + kvLora, rope), rope, cos, sin);
                var latent = kv.Slice(t * row, kvLora);
                Normalization.RmsNorm(latent, w.KvANorm, latent, c.RmsNormEpsilon);
            }
            Probe?.Invoke("Kcur", l, kv);
            cache.Store(l, pos0, n, kv, ReadOnlySpan<float>.Empty);

            // absorb: per head, latent-space query = k_b · q_nope (ggml batches this per head over the tokens)
            var qNope = ws.HeadIn.AsSpan(0, n * nope);
            var qLatent = ws.HeadOut.AsSpan(0, n * kvLora);
            var qFull = ws.QFull.AsSpan(0, n * heads * row);
            if (batched)
            {
                // all heads in one call, reading the no-RoPE queries in place and writing straight into qFull
                var jobs = ws.Jobs;
                for (int h = 0; h < heads; h++)
                    jobs[h] = new MatMulJob(w.Kb[h], n, h * kMla, qDim, h * row, heads * row, ExpertOrder: w.Kb[h].Type == Gguf.GgmlType.F32);
                MatMul.MultiplyBatched(jobs.AsSpan(0, heads), q, qFull, pool);
                for (int t = 0; t < n; t++)
                    for (int h = 0; h < heads; h++)
                        q.Slice(t * qDim + h * kMla + nope, rope).CopyTo(qFull.Slice((t * heads + h) * row + kvLora, rope));
            }
            else
            for (int h = 0; h < heads; h++)
            {
                for (int t = 0; t < n; t++)
                    q.Slice(t * qDim + h * kMla, nope).CopyTo(qNope.Slice(t * nope, nope));
                // ggml reads the no-RoPE queries through a permuted view: F32 weights then skip tinyBLAS (it needs a
                // contiguous f32 operand), other types convert the view into a contiguous buffer first and use it.
                if (w.Kb[h].Type == Gguf.GgmlType.F32) MatMul.MultiplyExpert(w.Kb[h], qNope, n, qLatent, pool);
                else MatMul.Multiply(w.Kb[h], qNope, n, qLatent, pool);
                for (int t = 0; t < n; t++)
                {
                    var dst = qFull.Slice((t * heads + h) * row, row);
                    qLatent.Slice(t * kvLora, kvLora).CopyTo(dst);
                    q.Slice(t * qDim + h * kMla + nope, rope).CopyTo(dst[kvLora..]);
                }
            }

            Probe?.Invoke("Qcur", l, qFull);
            if (cache.Type == KvCacheType.F16)
                ws.UpdateLatentColumns(cache, l, pos0, pos0 + n, row, kvLora);
            var body = new LatentAttentionBody(this, cache, ws, l, pos0, n);
            if (body.Grouped)
            {
                // every token of the batch reads a prefix of the same cached rows: widen them to f32 once per layer
                // instead of once per token
                int total = pos0 + n;
                GroupedAttention.Widen(cache.Keys16(l), row, row, total, ws.LatentColumns(l), ws.LatentColumnStride, kvLora, total,
                    ws.WideKeys(total * row), ws.WideValues(kvLora * LatentAttention.PaddedLength(total)));
            }
            // Batched f16: one work item per token runs all heads over the rows widened above (MLA is one KV head).
            pool.For(body.Grouped ? n : n * heads, ref body);
            Probe?.Invoke("kqv", l, ws.AttLatent.AsSpan(0, n * heads * kvLora));

            // decompress: per head, value = v_b · attended latent
            var att = ws.Att.AsSpan(0, n * heads * vMla);
            var latentIn = ws.HeadIn.AsSpan(0, n * kvLora);
            var valueOut = ws.HeadOut.AsSpan(0, n * vMla);
            if (batched)
            {
                var jobs = ws.Jobs;
                for (int h = 0; h < heads; h++)
                    jobs[h] = new MatMulJob(w.Vb[h], n, h * kvLora, heads * kvLora, h * vMla, heads * vMla);
                MatMul.MultiplyBatched(jobs.AsSpan(0, heads), ws.AttLatent.AsSpan(0, n * heads * kvLora), att, pool);
            }
            else
            for (int h = 0; h < heads; h++)
            {
                for (int t = 0; t < n; t++)
                    ws.AttLatent.AsSpan((t * heads + h) * kvLora, kvLora).CopyTo(latentIn.Slice(t * kvLora, kvLora));
                MatMul.Multiply(w.Vb[h], latentIn, n, valueOut, pool);
                for (int t = 0; t < n; t++)
                    valueOut.Slice(t * vMla, vMla).CopyTo(att.Slice(t * heads * vMla + h * vMla, vMla));
            }
            Probe?.Invoke("kqv_mla", l, att);
            MatMul.Multiply(w.Wo, att, n, xb, pool);
            Activations.AddInPlace(x, xb);
            Probe?.Invoke("ffn_inp", l, x);

            for (int t = 0; t < n; t++)
                Normalization.RmsNorm(x.Slice(t * d, d), w.FfnNorm, xb.Slice(t * d, d), c.RmsNormEpsilon);
            Probe?.Invoke("ffn_norm", l, xb);
            var ffnOut = ws.FfnOut.AsSpan(0, n * d);
            if (w.IsMoe)
            {
                if (batched) BatchedMixtureOfExperts(w, xb, n, ffnOut, ws, pool);
                else MixtureOfExperts(w, xb, n, ffnOut, ws, pool);
            }
            else if (batched)
                BatchedFfn(w.FfnGate!.Value, w.FfnUp!.Value, w.FfnDown!.Value, xb, n, ffnOut, ws, pool);
            else
                Ffn(w.FfnGate!.Value, w.FfnUp!.Value, w.FfnDown!.Value, xb, n, ffnOut, ws, pool);
            Probe?.Invoke("ffn_out", l, ffnOut);
            Activations.AddInPlace(x, ffnOut);
            Probe?.Invoke("l_out", l, x);
        }
        cache.SetLength(pos0 + n);

        DecoderSteps.OutputLogits(c, Weights.OutputNorm, Weights.Output, x, xb, n, allLogits, logits, pool, probe: null);
    }

    /// <summary>SwiGLU feed-forward: down · (silu(gate · x) ⊙ (up · x)).</summary>
    private static void Ffn(in WeightMatrix gate, in WeightMatrix up, in WeightMatrix down, ReadOnlySpan<float> x, int n,
        Span<float> y, DeepSeek2Workspace ws, WorkerPool pool)
    {
        int ff = gate.Rows;
        var g = ws.Gate.AsSpan(0, n * ff);
        var u = ws.Up.AsSpan(0, n * ff);
        MatMul.Multiply(gate, x, n, g, pool);
        MatMul.Multiply(up, x, n, u, pool);
        GgmlExp.SwiGluRows(g, u, ff);
        MatMul.Multiply(down, g, n, y, pool);
    }

    /// <summary><see cref="Ffn"/> with gate and up in one batched call.</summary>
    private static void BatchedFfn(in WeightMatrix gate, in WeightMatrix up, in WeightMatrix down, ReadOnlySpan<float> x, int n,
        Span<float> y, DeepSeek2Workspace ws, WorkerPool pool)
    {
        int ff = gate.Rows;
        var f = ws.Scratch(2 * n * ff);
        var jobs = ws.Jobs;
        jobs[0] = new MatMulJob(gate, n, 0, gate.Cols, 0, ff);
        jobs[1] = new MatMulJob(up, n, 0, up.Cols, n * ff, ff);
        MatMul.MultiplyBatched(jobs.AsSpan(0, 2), x, f, pool);
        GgmlExp.SwiGluRows(f[..(n * ff)], f.Slice(n * ff, n * ff), ff);
        MatMul.Multiply(down, f[..(n * ff)], n, y, pool);
    }

    /// <summary>
    /// <see cref="MixtureOfExperts"/> with three batched calls per layer instead of three products per chosen expert:
    /// router + shared gate/up (same input), every chosen expert's gate/up (one activation conversion per expert), then
    /// every chosen expert's down + the shared down. Each product is the one the unbatched path makes, so the float
    /// results are the same; the weighted sum runs in the same order.
    /// </summary>
    private unsafe void BatchedMixtureOfExperts(DeepSeek2LayerWeights w, ReadOnlySpan<float> x, int n, Span<float> y, DeepSeek2Workspace ws, WorkerPool pool)
    {
        var c = Config;
        int d = c.EmbeddingLength, experts = c.ExpertCount, used = c.ExpertUsedCount, ff = c.ExpertFeedForwardLength;
        bool hasShared = w.GateShared is not null;
        int sff = hasShared ? w.GateShared!.Value.Rows : 0;
        int slotsN = n * used;
        // scratch regions: router logits | shared gate | shared up | gathered inputs | gate | up | expert out | shared out
        int offSg = n * experts, offSu = offSg + n * sff, offXe = offSu + n * sff, offG = offXe + slotsN * d;
        int offU = offG + slotsN * ff, offYe = offU + slotsN * ff, offSo = offYe + slotsN * d;
        var f = ws.Scratch(offSo + n * d);
        var jobs = ws.Jobs;

        int count = 0;
        jobs[count++] = new MatMulJob(w.Router!.Value, n, 0, d, 0, experts);
        if (hasShared)
        {
            jobs[count++] = new MatMulJob(w.GateShared!.Value, n, 0, d, offSg, sff);
            jobs[count++] = new MatMulJob(w.UpShared!.Value, n, 0, d, offSu, sff);
        }
        MatMul.MultiplyBatched(jobs.AsSpan(0, count), x, f, pool);
        var logits = f[..(n * experts)];
        Probe?.Invoke("ffn_moe_logits", -1, logits);
        var chosen = ws.Chosen.AsSpan(0, n * used);
        var weights = ws.ChosenWeights.AsSpan(0, n * used);
        Route(w, logits, n, chosen, weights, ws);

        // group the (token, slot) pairs by expert (a counting sort): members[first[e] ..] in slot order, and memberOf
        // the inverse
        var members = ws.Members;
        var memberOf = ws.MemberOf;
        var first = ws.ExpertFirst;
        Array.Clear(first, 0, experts + 1);
        for (int i = 0; i < slotsN; i++) first[chosen[i] + 1]++;
        for (int e = 0; e < experts; e++) first[e + 1] += first[e];
        var next = ws.ExpertNext;
        Array.Copy(first, next, experts);
        for (int i = 0; i < slotsN; i++)
        {
            int m = next[chosen[i]]++;
            members[m] = i;
            memberOf[i] = m;
        }
        int active = 0;
        for (int e = 0; e < experts; e++)
        {
            int cnt = first[e + 1] - first[e];
            if (cnt == 0) continue;
            jobs[2 * active] = new MatMulJob(w.GateExperts![e], cnt, offXe + first[e] * d, d, offG + first[e] * ff, ff, ExpertOrder: true);
            jobs[2 * active + 1] = new MatMulJob(w.UpExperts![e], cnt, offXe + first[e] * d, d, offU + first[e] * ff, ff, ExpertOrder: true);
            active++;
        }
        fixed (float* px = x)
        fixed (float* pf = f)
        fixed (float* py = y)
        {
            // the serial steps around the expert products run on the pool: the other thread would only wait
            var moe = new MoeBody(ws, px, pf, py, d, used);
            moe.Run(pool, MoeStep.Gather, slotsN, offXe, 0, 0);
            MatMul.MultiplyBatched(jobs.AsSpan(0, 2 * active), f, f, pool);
            moe.Run(pool, MoeStep.SwiGlu, slotsN, offG, offU, ff);
            if (hasShared)
                moe.Run(pool, MoeStep.SwiGlu, n, offSg, offSu, sff);

            count = 0;
            for (int e = 0; e < experts; e++)
            {
                int cnt = first[e + 1] - first[e];
                if (cnt == 0) continue;
                jobs[count++] = new MatMulJob(w.DownExperts![e], cnt, offG + first[e] * ff, ff, offYe + first[e] * d, d, ExpertOrder: true);
            }
            if (hasShared)
                jobs[count++] = new MatMulJob(w.DownShared!.Value, n, offSg, sff, offSo, d);
            MatMul.MultiplyBatched(jobs.AsSpan(0, count), f, f, pool);

            // per token: its weighted expert outputs, summed in slot order
            moe.Run(pool, MoeStep.Combine, n, offYe, 0, 0);
        }
        Probe?.Invoke("ffn_moe_weights", -1, weights);
        Probe?.Invoke("ffn_moe_out", -1, y);
        if (hasShared)
        {
            var shared = f.Slice(offSo, n * d);
            Probe?.Invoke("ffn_shexp", -1, shared);
            Activations.AddInPlace(y, shared);
        }
    }

    /// <summary>
    /// Routed experts plus shared experts. Tokens are grouped by expert so each chosen expert's matrices are read once
    /// per batch; expert outputs are weighted and summed per token in the router's order (best first), then the
    /// shared experts' output is added, the order of llama.cpp's graph.
    /// </summary>
    private void MixtureOfExperts(DeepSeek2LayerWeights w, ReadOnlySpan<float> x, int n, Span<float> y, DeepSeek2Workspace ws, WorkerPool pool)
    {
        var c = Config;
        int d = c.EmbeddingLength, experts = c.ExpertCount, used = c.ExpertUsedCount, ff = c.ExpertFeedForwardLength;
        var logits = ws.RouterLogits.AsSpan(0, n * experts);
        MatMul.Multiply(w.Router!.Value, x, n, logits, pool);
        Probe?.Invoke("ffn_moe_logits", -1, logits);
        var chosen = ws.Chosen.AsSpan(0, n * used);
        var weights = ws.ChosenWeights.AsSpan(0, n * used);
        Route(w, logits, n, chosen, weights, ws);

        // per (token, slot) expert outputs, then summed in slot order
        var slots = ws.ExpertOut.AsSpan(0, n * used * d);
        var xe = ws.ExpertIn.AsSpan();
        var g = ws.Gate.AsSpan();
        var u = ws.Up.AsSpan();
        var ye = ws.ExpertY.AsSpan();
        var members = ws.Members;
        for (int e = 0; e < experts; e++)
        {
            int count = 0;
            for (int i = 0; i < n * used; i++)
                if (chosen[i] == e) members[count++] = i;
            if (count == 0) continue;
            for (int m = 0; m < count; m++)
                x.Slice(members[m] / used * d, d).CopyTo(xe.Slice(m * d, d));
            MatMul.MultiplyExpert(w.GateExperts![e], xe, count, g, pool);
            MatMul.MultiplyExpert(w.UpExperts![e], xe, count, u, pool);
            GgmlExp.SwiGluRows(g[..(count * ff)], u[..(count * ff)], ff);
            MatMul.MultiplyExpert(w.DownExperts![e], g, count, ye, pool);
            for (int m = 0; m < count; m++)
            {
                int slot = members[m];
                var dst = slots.Slice(slot * d, d);
                System.Numerics.Tensors.TensorPrimitives.Multiply(ye.Slice(m * d, d), weights[slot], dst);
            }
        }
        SumSlots(slots, n, used, d, y);
        Probe?.Invoke("ffn_moe_weights", -1, weights);
        Probe?.Invoke("ffn_moe_out", -1, y);
        if (w.GateShared is WeightMatrix gs)
        {
            var shared = ws.SharedOut.AsSpan(0, n * d);
            Ffn(gs, w.UpShared!.Value, w.DownShared!.Value, x, n, shared, ws, pool);
            Probe?.Invoke("ffn_shexp", -1, shared);
            Activations.AddInPlace(y, shared);
        }
    }

    /// <summary>Each token's chosen experts and their weights from its router logits (scored in place).</summary>
    private void Route(DeepSeek2LayerWeights w, Span<float> logits, int n, Span<int> chosen, Span<float> weights, DeepSeek2Workspace ws)
    {
        var c = Config;
        int experts = c.ExpertCount, used = c.ExpertUsedCount;
        for (int t = 0; t < n; t++)
            ExpertRouting.Route(logits.Slice(t * experts, experts), c.ExpertGating == ExpertGating.Sigmoid, w.RouterBias,
                c.ExpertGroupCount, c.ExpertGroupUsedCount, c.ExpertWeightsNorm, c.ExpertWeightsScale,
                ws.RouterScratch, chosen.Slice(t * used, used), weights.Slice(t * used, used));
    }

    /// <summary>Per token, the sum of its expert slots (weighted expert outputs) in slot order, llama.cpp's order.</summary>
    private static void SumSlots(ReadOnlySpan<float> slots, int n, int used, int d, Span<float> y)
    {
        for (int t = 0; t < n; t++)
        {
            var yt = y.Slice(t * d, d);
            slots.Slice(t * used * d, d).CopyTo(yt);
            for (int s = 1; s < used; s++) Activations.AddInPlace(yt, slots.Slice((t * used + s) * d, d));
        }
    }

    private enum MoeStep { Gather, SwiGlu, Combine }

    /// <summary>
    /// The element-wise steps of <see cref="BatchedMixtureOfExperts"/> as parallel loops, each item doing exactly what the
    /// serial loop did for it: gathering a slot's input row, a SwiGLU row, or a token's weighted slot sum.
    /// </summary>
    private unsafe struct MoeBody : IParallelBody
    {
        private readonly DeepSeek2Workspace _ws;
        private readonly float* _x, _f, _y;
        private readonly int _d, _used;
        private MoeStep _step;
        private int _a, _b, _len;

        /// <param name="x">The layer input rows, <paramref name="f"/> the scratch of the batched products, <paramref name="y"/>
        /// the output rows: pinned by the caller while the body is used.</param>
        public MoeBody(DeepSeek2Workspace ws, float* x, float* f, float* y, int d, int used)
        {
            _ws = ws;
            _x = x; _f = f; _y = y;
            _d = d; _used = used;
        }

        public void Run(WorkerPool pool, MoeStep step, int count, int a, int b, int len)
        {
            _step = step; _a = a; _b = b; _len = len;
            // chunks of at least ~32K values (SwiGLU rows) or 8 rows, so a decode step runs inline without a hand-off
            pool.For(count, ref this, step == MoeStep.SwiGlu ? Math.Max(1, 32768 / Math.Max(1, len)) : 8);
        }

        public readonly void Execute(int start, int end)
        {
            int d = _d;
            switch (_step)
            {
                case MoeStep.Gather:
                    for (int m = start; m < end; m++)
                        new ReadOnlySpan<float>(_x + (long)(_ws.Members[m] / _used) * d, d).CopyTo(new Span<float>(_f + _a + (long)m * d, d));
                    break;
                case MoeStep.SwiGlu:
                    GgmlExp.SwiGluRows(new Span<float>(_f + _a + (long)start * _len, (end - start) * _len),
                        new ReadOnlySpan<float>(_f + _b + (long)start * _len, (end - start) * _len), _len);
                    break;
                default:
                    var slots = _ws.ExpertOut;
                    var weights = _ws.ChosenWeights;
                    for (int t = start; t < end; t++)
                    {
                        for (int s = 0; s < _used; s++)
                        {
                            int slot = t * _used + s;
                            System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(_f + _a + (long)_ws.MemberOf[slot] * d, d),
                                weights[slot], slots.AsSpan(slot * d, d));
                        }
                        SumSlots(slots.AsSpan(t * _used * d, _used * d), 1, _used, d, new Span<float>(_y + (long)t * d, d));
                    }
                    break;
            }
        }
    }

    /// <summary>One (token, head) pair per work item: the head's latent query attends over the cached latent rows.</summary>
    private readonly struct LatentAttentionBody(DeepSeek2Transformer model, KvCache cache, DeepSeek2Workspace ws, int layer, int pos0, int n) : IParallelBody
    {
        public bool Grouped { get; } = cache.Type == KvCacheType.F16 &&
            GroupedAttention.Applies(model.Config.KvLoraRank + model.Config.RopeDimensions, n > 1);

        public void Execute(int start, int end)
        {
            var c = model.Config;
            int heads = c.HeadCount, kvLora = c.KvLoraRank, row = kvLora + c.RopeDimensions;
            float scale = model.AttentionScale;
            var scores = ws.ScoresFor(LatentAttention.PaddedLength(pos0 + n));
            if (Grouped)
            {
                int total = pos0 + n;
                var keys = ws.WideKeys(total * row);
                var values = ws.WideValues(kvLora * LatentAttention.PaddedLength(total));
                for (int t = start; t < end; t++)
                    GroupedAttention.Group(ws.QFull.AsSpan(t * heads * row, heads * row), heads, keys, values, total, kvLora,
                        pos0 + t + 1, scale, scores, ws.AttLatent.AsSpan(t * heads * kvLora, heads * kvLora));
                return;
            }
            for (int item = start; item < end; item++)
            {
                int t = item / heads;
                int count = pos0 + t + 1;
                var q = ws.QFull.AsSpan(item * row, row);
                var o = ws.AttLatent.AsSpan(item * kvLora, kvLora);
                // The latent is the value: the first kv_lora_rank values of each cached row.
                if (cache.Type == KvCacheType.F16)
                    LatentAttention.HeadF16(q, cache.Keys16(layer), row, ws.LatentColumns(layer), ws.LatentColumnStride, pos0 + n, kvLora, count, scale, n > 1, scores, o);
                else
                {
                    var rows = cache.Keys32(layer);
                    Attention.HeadF32(q, rows, row, 0, rows, row, 0, kvLora, count, scale, scores, o);
                }
            }
        }
    }
}

/// <summary>Activation buffers of <see cref="DeepSeek2Transformer"/> for up to <see cref="MaxTokens"/> tokens.</summary>
public sealed class DeepSeek2Workspace : IForwardWorkspace
{
    [ThreadStatic] private static float[]? t_scores;

    public DeepSeek2Workspace(ModelConfig c, int maxTokens)
    {
        MaxTokens = maxTokens;
        int d = c.EmbeddingLength, heads = c.HeadCount, row = c.KvLoraRank + c.RopeDimensions;
        int ff = Math.Max(c.FeedForwardLength, Math.Max(c.ExpertFeedForwardLength * Math.Max(1, c.ExpertSharedCount), 1));
        int used = Math.Max(1, c.ExpertUsedCount);
        X = new float[maxTokens * d];
        Xb = new float[maxTokens * d];
        FfnOut = new float[maxTokens * d];
        SharedOut = new float[maxTokens * d];
        QA = new float[maxTokens * Math.Max(1, c.QLoraRank)];
        Q = new float[maxTokens * heads * c.KeyLengthMla];
        Kv = new float[maxTokens * row];
        QFull = new float[maxTokens * heads * row];
        HeadIn = new float[maxTokens * Math.Max(c.KvLoraRank, c.QkNopeHeadDim)];
        HeadOut = new float[maxTokens * Math.Max(c.KvLoraRank, c.ValueLengthMla)];
        AttLatent = new float[maxTokens * heads * c.KvLoraRank];
        Att = new float[maxTokens * heads * c.ValueLengthMla];
        // expert batches hold up to every token (each token picks an expert at most once)
        Gate = new float[maxTokens * ff];
        Up = new float[maxTokens * ff];
        RouterLogits = new float[maxTokens * Math.Max(1, c.ExpertCount)];
        RouterScratch = new float[Math.Max(1, c.ExpertCount)];
        Chosen = new int[maxTokens * used];
        ChosenWeights = new float[maxTokens * used];
        Members = new int[maxTokens * used];
        MemberOf = new int[maxTokens * used];
        ExpertNext = new int[Math.Max(1, c.ExpertCount) + 1];
        ExpertIn = new float[maxTokens * d];
        ExpertY = new float[maxTokens * d];
        ExpertOut = new float[maxTokens * used * d];
        ExpertFirst = new int[Math.Max(1, c.ExpertCount) + 1];
        Jobs = new MatMulJob[Math.Max(heads, 2 * Math.Max(1, c.ExpertCount) + 3)];
        RopeCos = new float[maxTokens * c.RopeDimensions / 2];
        RopeSin = new float[maxTokens * c.RopeDimensions / 2];
    }

    public int MaxTokens { get; }

    // The cached latents transposed (column c of position j at [c * LatentColumnStride + j], zero past the filled
    // positions), kept per layer between calls and extended by the new positions only, so a decode step does not
    // re-transpose the whole cache. Valid for the cache it was built from; positions from a call's first position on are
    // rewritten, which covers truncation and refill.
    private Half[]?[] _latentCols = Array.Empty<Half[]?>();
    private int[] _latentValid = Array.Empty<int>(), _latentWritten = Array.Empty<int>();
    private KvCache? _latentOwner;

    internal int LatentColumnStride { get; private set; }

    internal ReadOnlySpan<Half> LatentColumns(int layer) => _latentCols[layer];

    /// <summary>Brings layer <paramref name="layer"/>'s transposed latent up to <paramref name="total"/> positions, of which
    /// [<paramref name="pos0"/>, total) were just written to <paramref name="cache"/>.</summary>
    internal void UpdateLatentColumns(KvCache cache, int layer, int pos0, int total, int row, int kvLora)
    {
        if (!ReferenceEquals(_latentOwner, cache) || _latentCols.Length != cache.Layers)
        {
            _latentOwner = cache;
            _latentCols = new Half[]?[cache.Layers];
            _latentValid = new int[cache.Layers];
            _latentWritten = new int[cache.Layers];
            LatentColumnStride = 0;
        }
        int need = LatentAttention.PaddedLength(total);
        if (LatentColumnStride < need)
        {
            // grow geometrically (up to the cache's capacity): every layer starts over at the new stride
            LatentColumnStride = Math.Max(need, Math.Min(LatentAttention.PaddedLength(cache.Capacity), Math.Max(256, 2 * LatentColumnStride)));
            Array.Clear(_latentCols);
            Array.Clear(_latentValid);
            Array.Clear(_latentWritten);
        }
        int stride = LatentColumnStride;
        var vt = _latentCols[layer] ??= new Half[(long)kvLora * stride <= Array.MaxLength ? kvLora * stride : throw new InvalidOperationException("context too large")];
        var rows = cache.Keys16(layer);
        int from = Math.Min(_latentValid[layer], pos0);
        for (int j = from; j < total; j++)
        {
            var src = rows.AsSpan(j * row, kvLora);
            for (int c = 0; c < kvLora; c++) vt[c * stride + j] = src[c];
        }
        int written = _latentWritten[layer];
        if (written > total)
            for (int c = 0; c < kvLora; c++) vt.AsSpan(c * stride + total, written - total).Clear();
        _latentWritten[layer] = total;
        _latentValid[layer] = total;
    }

    internal float[] X { get; }
    internal float[] Xb { get; }
    internal float[] FfnOut { get; }
    internal float[] SharedOut { get; }
    internal float[] QA { get; }
    internal float[] Q { get; }
    internal float[] Kv { get; }
    internal float[] QFull { get; }
    internal float[] HeadIn { get; }
    internal float[] HeadOut { get; }
    internal float[] AttLatent { get; }
    internal float[] Att { get; }
    internal float[] Gate { get; }
    internal float[] Up { get; }
    internal float[] RouterLogits { get; }
    internal float[] RouterScratch { get; }
    internal int[] Chosen { get; }
    internal float[] ChosenWeights { get; }
    internal int[] Members { get; }
    internal int[] MemberOf { get; }
    internal int[] ExpertNext { get; }
    internal float[] ExpertIn { get; }
    internal float[] ExpertY { get; }
    internal float[] ExpertOut { get; }
    internal int[] ExpertFirst { get; }
    internal MatMulJob[] Jobs { get; }
    internal float[] RopeCos { get; }

    private float[] _scratch = Array.Empty<float>(), _wideKeys = Array.Empty<float>(), _wideValues = Array.Empty<float>();

    /// <summary>The batch's cached key rows widened to f32 for the grouped attention (grown on demand, then reused).</summary>
    internal Span<float> WideKeys(int length)
    {
        if (_wideKeys.Length < length) _wideKeys = new float[length];
        return _wideKeys.AsSpan(0, length);
    }

    /// <summary>The batch's transposed latents widened to f32 for the grouped attention (grown on demand, then reused).</summary>
    internal Span<float> WideValues(int length)
    {
        if (_wideValues.Length < length) _wideValues = new float[length];
        return _wideValues.AsSpan(0, length);
    }

    /// <summary>Scratch of the batched products (grown on demand to the largest batch seen, then reused).</summary>
    internal Span<float> Scratch(int length)
    {
        if (_scratch.Length < length) _scratch = new float[length];
        return _scratch.AsSpan(0, length);
    }
    internal float[] RopeSin { get; }

    /// <summary>Per-thread score buffer, grown on demand and then reused (no allocation per token).</summary>
    internal Span<float> ScoresFor(int positions)
    {
        if (t_scores == null || t_scores.Length < positions) t_scores = new float[Math.Max(positions, 1024)];
        return t_scores;
    }
}
