namespace SeekSharp.Numerics;

/// <summary>
/// Mixture-of-experts routing as llama.cpp's build_moe_ffn computes it for DeepSeek: scores from the router logits
/// (softmax or sigmoid), an optional selection bias that only steers the choice, optional group-limited selection
/// (the best groups by the sum of their two best biased scores), top-k, weights taken from the unbiased scores,
/// optionally normalised to sum 1 (the sum clamped below at f16's smallest normal) and scaled.
/// </summary>
public static class ExpertRouting
{
    /// <param name="logits">Router logits of one token (one per expert); overwritten with scratch values.</param>
    /// <param name="selectionScratch">Scratch of at least logits.Length floats.</param>
    /// <param name="experts">Receives the chosen experts, best first.</param>
    /// <param name="weights">Receives their weights, in the same order.</param>
    public static void Route(Span<float> logits, bool sigmoid, ReadOnlySpan<float> selectionBias, int groups, int groupsUsed,
        bool normalize, float scale, Span<float> selectionScratch, Span<int> experts, Span<float> weights)
    {
        int n = logits.Length, k = experts.Length;
        var probs = logits;
        if (sigmoid)
            for (int i = 0; i < n; i++) probs[i] = 1.0f / (1.0f + MathF.Exp(-probs[i]));
        else
            GgmlExp.SoftmaxInPlace(probs);

        var sel = selectionScratch[..n];
        if (!selectionBias.IsEmpty)
            for (int i = 0; i < n; i++) sel[i] = probs[i] + selectionBias[i];
        else
            probs.CopyTo(sel);

        if (groups > 1)
        {
            int per = n / groups;
            Span<float> groupScore = stackalloc float[groups];
            for (int g = 0; g < groups; g++)
            {
                var part = sel.Slice(g * per, per);
                int best = ArgMax(part, -1);
                float top2 = per > 1 ? part[ArgMax(part, best)] : 0f;
                groupScore[g] = part[best] + top2;
            }
            Span<bool> keep = stackalloc bool[groups];
            for (int j = 0; j < groupsUsed; j++)
            {
                int bestGroup = -1;
                for (int g = 0; g < groups; g++)
                    if (!keep[g] && (bestGroup < 0 || groupScore[g] > groupScore[bestGroup])) bestGroup = g;
                keep[bestGroup] = true;
            }
            for (int g = 0; g < groups; g++)
                if (!keep[g]) sel.Slice(g * per, per).Fill(float.NegativeInfinity);
        }

        for (int j = 0; j < k; j++)
        {
            int best = -1;
            for (int i = 0; i < n; i++)
                if (!float.IsNaN(sel[i]) && (best < 0 || sel[i] > sel[best])) best = i;
            experts[j] = best;
            weights[j] = probs[best];
            sel[best] = float.NaN; // taken
        }

        if (normalize)
        {
            double sum = 0;
            for (int j = 0; j < k; j++) sum += weights[j];
            float s = MathF.Max((float)sum, 6.103515625e-5f);
            for (int j = 0; j < k; j++) weights[j] /= s;
        }
        if (scale != 0f && scale != 1f)
            for (int j = 0; j < k; j++) weights[j] *= scale;
    }

    private static int ArgMax(ReadOnlySpan<float> x, int skip)
    {
        int best = -1;
        for (int i = 0; i < x.Length; i++)
            if (i != skip && (best < 0 || x[i] > x[best])) best = i;
        return best;
    }
}
