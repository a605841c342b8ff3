namespace SeekSharp.Inference;

/// <summary>
/// Picks the next token from logits with llama.cpp's chain order: penalties → top-k → top-p → min-p → temperature →
/// random draw (or argmax when greedy). Buffers are allocated once per vocabulary size; a seeded sampler replays the
/// same choices for the same logits.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly Random _random;
    private readonly List<int> _history = new();
    private readonly Dictionary<int, int> _counts = new();
    private float[] _work = Array.Empty<float>();
    private int[] _ids = Array.Empty<int>();

    public Sampler(SamplingOptions options)
    {
        options.Validate();
        _options = options;
        ulong seed = options.Seed ?? (ulong)Random.Shared.NextInt64();
        Seed = seed;
        _random = new Random(unchecked((int)(seed ^ (seed >> 32))));
    }

    public ulong Seed { get; }

    /// <summary>Records tokens that count for the repetition penalties (prompt and generated).</summary>
    public void Accept(int token) => _history.Add(token);

    public void Reset() => _history.Clear();

    public int Sample(ReadOnlySpan<float> logits)
    {
        int n = logits.Length;
        if (_work.Length < n)
        {
            _work = new float[n];
            _ids = new int[n];
        }
        var work = _work.AsSpan(0, n);
        logits.CopyTo(work);
        ApplyPenalties(work);

        if (_options.Temperature <= 0) return ArgMax(work);

        // Candidates as (id, logit) sorted by logit, cut by top-k first so the sort stays small.
        var ids = _ids.AsSpan(0, n);
        for (int i = 0; i < n; i++) ids[i] = i;
        int count = n;
        int k = _options.TopK > 0 ? Math.Min(_options.TopK, n) : n;
        if (k < n) count = SelectTop(work, ids, k);
        SortDescending(work, ids, count);

        // top-p over the softmax of the remaining candidates
        if (_options.TopP < 1f)
        {
            double max = work[ids[0]], sum = 0;
            for (int i = 0; i < count; i++) sum += Math.Exp(work[ids[i]] - max);
            double cum = 0;
            for (int i = 0; i < count; i++)
            {
                cum += Math.Exp(work[ids[i]] - max) / sum;
                if (cum >= _options.TopP) { count = i + 1; break; }
            }
        }
        // min-p: keep tokens whose probability is at least min_p × the best one's
        if (_options.MinP > 0f)
        {
            float threshold = work[ids[0]] + MathF.Log(_options.MinP);
            int keep = 1;
            while (keep < count && work[ids[keep]] >= threshold) keep++;
            count = keep;
        }
        // temperature, then draw
        double best = work[ids[0]] / _options.Temperature, total = 0;
        Span<double> probs = count <= 4096 ? stackalloc double[count] : new double[count];
        for (int i = 0; i < count; i++)
        {
            probs[i] = Math.Exp(work[ids[i]] / _options.Temperature - best);
            total += probs[i];
        }
        double r = _random.NextDouble() * total;
        for (int i = 0; i < count; i++)
        {
            r -= probs[i];
            if (r < 0) return ids[i];
        }
        return ids[count - 1];
    }

    private float[] _sortKeys = Array.Empty<float>();
    private int[] _sortIds = Array.Empty<int>();

    private void ApplyPenalties(Span<float> logits)
    {
        var o = _options;
        if (o.RepeatPenalty == 1f && o.FrequencyPenalty == 0f && o.PresencePenalty == 0f) return;
        int lastN = o.PenaltyLastN < 0 ? _history.Count : Math.Min(o.PenaltyLastN, _history.Count);
        if (lastN == 0) return;
        _counts.Clear();
        for (int i = _history.Count - lastN; i < _history.Count; i++)
            _counts[_history[i]] = _counts.GetValueOrDefault(_history[i]) + 1;
        foreach (var (token, c) in _counts)
        {
            if ((uint)token >= (uint)logits.Length) continue;
            ref float l = ref logits[token];
            l = l <= 0 ? l * o.RepeatPenalty : l / o.RepeatPenalty;
            l -= c * o.FrequencyPenalty + (c > 0 ? 1 : 0) * o.PresencePenalty;
        }
    }

    public static int ArgMax(ReadOnlySpan<float> x)
    {
        int best = 0;
        for (int i = 1; i < x.Length; i++) if (x[i] > x[best]) best = i;
        return best;
    }

    /// <summary>Moves the k largest logits' ids to the front (unordered), by quickselect; returns k.</summary>
    private static int SelectTop(Span<float> logits, Span<int> ids, int k)
    {
        int lo = 0, hi = ids.Length - 1;
        while (lo < hi)
        {
            float pivot = logits[ids[(lo + hi) >>> 1]];
            int i = lo, j = hi;
            while (i <= j)
            {
                while (logits[ids[i]] > pivot) i++;
                while (logits[ids[j]] < pivot) j--;
                if (i <= j)
                {
                    (ids[i], ids[j]) = (ids[j], ids[i]);
                    i++;
                    j--;
                }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else break;
        }
        return k;
    }

    private void SortDescending(Span<float> logits, Span<int> ids, int count)
    {
        if (_sortKeys.Length < count)
        {
            _sortKeys = new float[ids.Length];
            _sortIds = new int[ids.Length];
        }
        var keys = _sortKeys;
        var order = _sortIds;
        for (int i = 0; i < count; i++)
        {
            keys[i] = -logits[ids[i]];
            order[i] = ids[i];
        }
        Array.Sort(keys, order, 0, count);
        // ties ordered by id so the result never depends on the selection pass
        for (int i = 0; i < count;)
        {
            int j = i;
            while (j < count && keys[j] == keys[i]) j++;
            if (j - i > 1) Array.Sort(order, i, j - i);
            i = j;
        }
        order.AsSpan(0, count).CopyTo(ids);
    }
}
