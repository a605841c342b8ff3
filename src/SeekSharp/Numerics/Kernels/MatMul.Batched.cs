using SeekSharp.Gguf;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Numerics;

/// <summary>
/// One product of <see cref="MatMul.MultiplyBatched"/>: <see cref="Weights"/> times <see cref="Tokens"/> activation rows,
/// row t read from x[<see cref="XOffset"/> + t * <see cref="XStride"/> ..] (Weights.Cols values) and written to
/// y[<see cref="YOffset"/> + t * <see cref="YStride"/> ..] (Weights.Rows values).
/// </summary>
/// <param name="ExpertOrder">True for a mixture-of-experts expert matrix (<see cref="MatMul.MultiplyExpert"/>'s order),
/// false for <see cref="MatMul.Multiply"/>'s.</param>
public readonly record struct MatMulJob(WeightMatrix Weights, int Tokens, int XOffset, int XStride, int YOffset, int YStride,
    bool ExpertOrder = false);

public static unsafe partial class MatMul
{
    /// <summary>
    /// Runs several independent products (<see cref="MatMulJob"/>: any weight types and shapes, each with its own input
    /// and output rows inside <paramref name="x"/> and <paramref name="y"/>) with one parallel loop for the dot products,
    /// instead of one per matrix: many small products (MLA's per-head k_b / v_b, the chosen experts of a MoE layer,
    /// gate and up reading one input) are otherwise dominated by thread hand-offs. Each job's results are those of a
    /// separate <see cref="Multiply"/> (or, with <see cref="MatMulJob.ExpertOrder"/>, <see cref="MultiplyExpert"/>) call
    /// on its rows, bit for bit: the same kernel and activation conversion run per job. Jobs that read the same input
    /// rows with the same kernel share one activation conversion. <paramref name="x"/> and <paramref name="y"/> may be
    /// the same buffer as long as no job writes where any job reads.
    /// </summary>
    public static void MultiplyBatched(ReadOnlySpan<MatMulJob> jobs, ReadOnlySpan<float> x, Span<float> y, WorkerPool pool)
    {
        ArgumentNullException.ThrowIfNull(pool);
        foreach (ref readonly var j in jobs)
            Validate(j, x.Length, y.Length);
        if (jobs.Length == 0)
            return;

        var table = t_jobs;
        if (table == null || table.Length < jobs.Length)
            t_jobs = table = new JobState[Math.Max(jobs.Length, 64)];
        int width = KernelSettings.Width;
        fixed (float* px = x)
        fixed (float* py = y)
        fixed (JobState* js = table)
        {
            // Plan: resolve each job's kernel exactly as Multiply would, find shared conversions, size the scratch.
            int count = 0;
            long actBytes = 0, convTokens = 0, convValues = 0, layoutItems = 0;
            foreach (ref readonly var job in jobs)
            {
                var w = job.Weights;
                if (job.Tokens == 0 || w.Rows == 0)
                    continue;
                if (w.Cols == 0)
                {
                    for (int t = 0; t < job.Tokens; t++)
                        y.Slice(job.YOffset + t * job.YStride, w.Rows).Clear();
                    continue;
                }
                ref var s = ref js[count];
                s = default;
                s.Kind = KindOf(w, job.Tokens, allowSgemmOrder: !job.ExpertOrder);
                s.W = w.Packed != null ? w.Packed : w.Data;
                s.RowBytes = w.RowBytes;
                s.MatrixRows = w.Rows;
                // A packed matrix is split between threads by whole units of interleaved groups (Q4_0 / Q4_K store groups
                // in pairs, which their kernels read as one stream).
                s.UnitGroups = w.Packed == null || w.Type == GgmlType.Q2_K ? 1 : 2;
                s.Groups = w.Packed != null ? WeightPacking.Groups(w.Type, w.Rows) : 0;
                s.Rows = w.Packed != null ? (s.Groups + s.UnitGroups - 1) / s.UnitGroups : w.Rows;
                s.UnitRows = w.Packed != null ? WeightPacking.GroupRows(w.Type) * s.UnitGroups : 1;
                // llama.cpp runs the first n - n % 4 tokens of a repacked product through gemm, the rest through gemv
                // (Q4_K groups its sub-blocks differently in the two); expert products (mul_mat_id) always run gemv.
                s.Split = s.Kind is Kind.Q4_KPacked or Kind.Q2_KPacked && !job.ExpertOrder ? job.Tokens - job.Tokens % 4 : 0;
                s.Cols = w.Cols;
                s.N = job.Tokens;
                s.X = px + job.XOffset;
                s.XStride = job.XStride;
                s.Y = py + job.YOffset;
                s.YStride = job.YStride;
                s.RowTile = (int)Math.Clamp(RowTileBytes / Math.Max(1, w.RowBytes), 1, int.MaxValue);
                s.Width = width;
                Plan(ref s, width);
                s.ShareOf = -1;
                if (s.DotType != GgmlType.F32)
                {
                    for (int k = 0; k < count; k++)
                    {
                        ref var o = ref js[k];
                        // (a packed Q4_K job's preparation is laid out per gemm / gemv split, so that must agree too)
                        if (o.ShareOf < 0 && o.Kind == s.Kind && o.X == s.X && o.XStride == s.XStride && o.N == s.N && o.Cols == s.Cols &&
                            o.Split == s.Split)
                        {
                            s.ShareOf = k;
                            break;
                        }
                    }
                    if (s.ShareOf < 0)
                    {
                        s.ActRow = ActivationQuantizer.KernelRowBytes(s.DotType, s.Cols);
                        s.AOffset = actBytes;
                        actBytes += ((s.ActRow * s.N + 63) & ~63L) + ((LayoutBytes(s) + 63) & ~63L);
                        s.TokLo = convTokens;
                        convTokens += s.N;
                        convValues += (long)s.N * s.Cols;
                        s.LayoutLo = layoutItems;
                        layoutItems += LayoutItems(s);
                    }
                }
                count++;
            }
            if (count == 0)
                return;

            // Convert the activations (all jobs' tokens in one loop when it is worth a hand-off), then build the paired
            // / grouped prefill layouts the same way Run does.
            byte* scratch = actBytes > 0 ? ThreadScratch.Get(actBytes) : null;
            for (int i = 0; i < count; i++)
            {
                ref var s = ref js[i];
                if (s.DotType == GgmlType.F32)
                {
                    s.A = (byte*)s.X;
                    s.ActRow = s.XStride * sizeof(float);
                }
                else if (s.ShareOf < 0)
                {
                    s.A = scratch + s.AOffset;
                    s.L = s.A + ((s.ActRow * s.N + 63) & ~63L);
                }
            }
            for (int i = 0; i < count; i++)
            {
                ref var s = ref js[i];
                if (s.ShareOf >= 0)
                {
                    ref var o = ref js[s.ShareOf];
                    s.A = o.A; s.ActRow = o.ActRow; s.L = o.L; // same kernel, tokens and width: the same layout
                }
            }
            if (convTokens > 0)
            {
                var conv = new BatchConvertBody { Jobs = js, Count = count, Width = width, Layout = false };
                if (convValues >= ParallelQuantizeThreshold && convTokens > 1)
                    pool.For((int)convTokens, ref conv);
                else
                    conv.Execute(0, (int)convTokens);
                if (layoutItems > 0)
                {
                    conv.Layout = true;
                    if (convValues >= ParallelQuantizeThreshold)
                        pool.For((int)layoutItems, ref conv);
                    else
                        conv.Execute(0, (int)layoutItems);
                }
            }

            // Work units: a job's rows weigh its token count, so chunks carry about equal work.
            long units = 0;
            bool decode = true;
            for (int i = 0; i < count; i++)
            {
                ref var s = ref js[i];
                s.Lo = units;
                s.Cost = (long)s.N * s.UnitRows; // a packed job's unit holds UnitRows rows
                units += s.Rows * s.Cost;
                decode &= s.N == 1;
            }
            if (units > int.MaxValue)
            {
                units = 0;
                for (int i = 0; i < count; i++)
                {
                    js[i].Lo = units;
                    js[i].Cost = 1;
                    units += js[i].Rows;
                }
            }
            var body = new BatchBody { Jobs = js, Count = count };
            pool.For((int)units, ref body, decode ? 32 : 64);
        }
    }

    private static void Validate(in MatMulJob j, int xLength, int yLength)
    {
        var w = j.Weights;
        if (j.Tokens < 0 || j.XOffset < 0 || j.YOffset < 0 || j.XStride < 0 || j.YStride < 0)
            throw new ArgumentOutOfRangeException(nameof(j), "negative token count, offset or stride");
        if (j.Tokens == 0 || w.Rows == 0)
            return;
        if (w.Data == null && w.Cols > 0)
            throw new ArgumentException("weight matrix has no data", nameof(j));
        if (!Supports(w.Type))
            throw new NotSupportedException($"matrix multiplication with {GgmlTypeInfo.Name(w.Type)} weights is not supported");
        if (j.Tokens > 1 && j.YStride < w.Rows)
            throw new ArgumentException("output rows overlap (YStride < Rows)", nameof(j));
        if ((long)j.XOffset + (long)(j.Tokens - 1) * j.XStride + w.Cols > xLength)
            throw new ArgumentException("x is too short for a job's input rows", nameof(j));
        if ((long)j.YOffset + (long)(j.Tokens - 1) * j.YStride + w.Rows > yLength)
            throw new ArgumentException("y is too short for a job's output rows", nameof(j));
    }

    [ThreadStatic] private static JobState[]? t_jobs;

    private enum Kind : byte
    {
        F32Sgemm, F16Sgemm, BF16Sgemm, F32, F16, BF16,
        Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,
        Q4_0Packed, Q4_KPacked, Q2_KPacked,
    }

    /// <summary>The kernel <see cref="Multiply(in WeightMatrix, ReadOnlySpan{float}, int, Span{float}, WorkerPool, bool)"/> picks.</summary>
    private static Kind KindOf(in WeightMatrix w, int n, bool allowSgemmOrder) => w.Type switch
    {
        GgmlType.Q4_0 when w.Packed != null => Kind.Q4_0Packed,
        GgmlType.Q4_K when w.Packed != null => Kind.Q4_KPacked,
        GgmlType.Q2_K when w.Packed != null => Kind.Q2_KPacked,
        GgmlType.F32 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols) => Kind.F32Sgemm,
        GgmlType.F16 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols) => Kind.F16Sgemm,
        GgmlType.BF16 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols) => Kind.BF16Sgemm,
        GgmlType.F32 => Kind.F32,
        GgmlType.F16 => Kind.F16,
        GgmlType.BF16 => Kind.BF16,
        GgmlType.Q4_0 => Kind.Q4_0,
        GgmlType.Q4_1 => Kind.Q4_1,
        GgmlType.Q5_0 => Kind.Q5_0,
        GgmlType.Q5_1 => Kind.Q5_1,
        GgmlType.Q8_0 => Kind.Q8_0,
        GgmlType.Q2_K => Kind.Q2_K,
        GgmlType.Q3_K => Kind.Q3_K,
        GgmlType.Q4_K => Kind.Q4_K,
        GgmlType.Q5_K => Kind.Q5_K,
        GgmlType.Q6_K => Kind.Q6_K,
        _ => throw new NotSupportedException($"matrix multiplication with {GgmlTypeInfo.Name(w.Type)} weights is not supported"),
    };

    private static void Plan(ref JobState s, int width)
    {
        switch (s.Kind)
        {
            case Kind.Q4_0Packed: s.DotType = GgmlType.Q8_0; break;
            case Kind.Q4_KPacked or Kind.Q2_KPacked: s.DotType = GgmlType.Q8_K; break;
            case Kind.F32Sgemm: Plan<F32SgemmKernel>(ref s, width); break;
            case Kind.F16Sgemm: Plan<F16SgemmKernel>(ref s, width); break;
            case Kind.BF16Sgemm: Plan<BF16SgemmKernel>(ref s, width); break;
            case Kind.F32: Plan<F32Kernel>(ref s, width); break;
            case Kind.F16: Plan<F16Kernel>(ref s, width); break;
            case Kind.BF16: Plan<BF16Kernel>(ref s, width); break;
            case Kind.Q4_0: Plan<Q4_0Kernel>(ref s, width); break;
            case Kind.Q4_1: Plan<Q4_1Kernel>(ref s, width); break;
            case Kind.Q5_0: Plan<Q5_0Kernel>(ref s, width); break;
            case Kind.Q5_1: Plan<Q5_1Kernel>(ref s, width); break;
            case Kind.Q8_0: Plan<Q8_0Kernel>(ref s, width); break;
            case Kind.Q2_K: Plan<Q2_KKernel>(ref s, width); break;
            case Kind.Q3_K: Plan<Q3_KKernel>(ref s, width); break;
            case Kind.Q4_K: Plan<Q4_KKernel>(ref s, width); break;
            case Kind.Q5_K: Plan<Q5_KKernel>(ref s, width); break;
            default: Plan<Q6_KKernel>(ref s, width); break;
        }
    }

    /// <summary>The activation format and prefill layout <see cref="Run{TKernel}"/> uses for this kernel and token count.</summary>
    private static void Plan<TKernel>(ref JobState s, int width) where TKernel : struct, IDotKernel
    {
        s.DotType = TKernel.DotType;
        s.Layout = PrefillLayout.For<TKernel>(s.Cols, s.N, width);
    }

    /// <summary>Scratch bytes after a job's converted activations: its prefill layout, or a packed kernel's per-call
    /// preparation (one per token set: the gemm tokens, then the rest).</summary>
    private static long LayoutBytes(in JobState s) => s.Kind switch
    {
        Kind.Q4_0Packed => RepackedQ4_0.PrepareBytes(s.Cols, s.N),
        Kind.Q4_KPacked => PrepOffset(s) + RepackedQ4_K.PrepareBytes(s.Cols, s.N - s.Split),
        Kind.Q2_KPacked => 0,
        _ => s.Layout.Bytes,
    };

    /// <summary>Where the preparation of a packed Q4_K job's gemv tokens starts, after its gemm tokens'.</summary>
    private static long PrepOffset(in JobState s) => (RepackedQ4_K.PrepareBytes(s.Cols, s.Split) + 63) & ~63L;

    /// <summary>Work items of a job's layout step: layout groups, or tokens for a packed kernel's preparation.</summary>
    private static long LayoutItems(in JobState s) => s.Kind is Kind.Q4_0Packed or Kind.Q4_KPacked ? s.N : s.Layout.Items;

    /// <summary>Items [start, end) of a job's prefill layout, built as <see cref="Run{TKernel}"/> builds them.</summary>
    private static void BuildLayout(in JobState s, int start, int end)
    {
        switch (s.Kind)
        {
            case Kind.Q4_0Packed:
                RepackedQ4_0.Prepare(s.A, s.ActRow, s.N, s.Cols, s.L, start, end);
                break;
            case Kind.Q4_KPacked:
                if (start < s.Split)
                    RepackedQ4_K.Prepare(s.A, s.ActRow, s.Split, s.Cols, s.L, start, Math.Min(end, s.Split));
                if (end > s.Split)
                    RepackedQ4_K.Prepare(s.A + s.Split * s.ActRow, s.ActRow, s.N - s.Split, s.Cols, s.L + PrepOffset(s),
                        Math.Max(start, s.Split) - s.Split, end - s.Split);
                break;
            case Kind.Q4_0: s.Layout.Build<Q4_0Kernel>(s.A, s.ActRow, s.L, start, end); break;
            case Kind.Q5_0: s.Layout.Build<Q5_0Kernel>(s.A, s.ActRow, s.L, start, end); break;
            case Kind.Q8_0: s.Layout.Build<Q8_0Kernel>(s.A, s.ActRow, s.L, start, end); break;
            case Kind.Q4_K: s.Layout.Build<Q4_KKernel>(s.A, s.ActRow, s.L, start, end); break;
            case Kind.Q5_K: s.Layout.Build<Q5_KKernel>(s.A, s.ActRow, s.L, start, end); break;
            case Kind.Q6_K: s.Layout.Build<Q6_KKernel>(s.A, s.ActRow, s.L, start, end); break;
            default: throw new NotSupportedException($"no prefill layout for {s.Kind}");
        }
    }

    private static void Exec(in JobState s, int start, int end)
    {
        if (s.UnitGroups > 1)
        {
            // Units of groups to groups (the last unit may hold fewer).
            start *= s.UnitGroups;
            end = Math.Min(end * s.UnitGroups, s.Groups);
        }
        switch (s.Kind)
        {
            case Kind.Q4_0Packed:
                RepackedQ4_0.Multiply(s.W, s.MatrixRows, s.Cols, s.A, s.ActRow, s.L, s.N, s.Y, s.YStride, start, end, s.Width);
                break;
            case Kind.Q4_KPacked:
                if (s.Split > 0)
                    RepackedQ4_K.Multiply(s.W, s.MatrixRows, s.Cols, s.A, s.ActRow, s.L, s.Split, s.Y, s.YStride, start, end,
                        gemmGrouping: true, s.Width);
                if (s.Split < s.N)
                    RepackedQ4_K.Multiply(s.W, s.MatrixRows, s.Cols, s.A + s.Split * s.ActRow, s.ActRow, s.L + PrepOffset(s),
                        s.N - s.Split, s.Y + s.Split * s.YStride, s.YStride, start, end, gemmGrouping: false, s.Width);
                break;
            case Kind.Q2_KPacked:
                if (s.Split > 0)
                    RepackedQ2_K.Multiply(s.W, s.MatrixRows, s.Cols, s.A, s.ActRow, s.Split, s.Y, s.YStride, start, end,
                        gemmGrouping: true, s.Width);
                if (s.Split < s.N)
                    RepackedQ2_K.Multiply(s.W, s.MatrixRows, s.Cols, s.A + s.Split * s.ActRow, s.ActRow, s.N - s.Split,
                        s.Y + s.Split * s.YStride, s.YStride, start, end, gemmGrouping: false, s.Width);
                break;
            case Kind.F32Sgemm: Exec<F32SgemmKernel>(s, start, end); break;
            case Kind.F16Sgemm: Exec<F16SgemmKernel>(s, start, end); break;
            case Kind.BF16Sgemm: Exec<BF16SgemmKernel>(s, start, end); break;
            case Kind.F32: Exec<F32Kernel>(s, start, end); break;
            case Kind.F16: Exec<F16Kernel>(s, start, end); break;
            case Kind.BF16: Exec<BF16Kernel>(s, start, end); break;
            case Kind.Q4_0: Exec<Q4_0Kernel>(s, start, end); break;
            case Kind.Q4_1: Exec<Q4_1Kernel>(s, start, end); break;
            case Kind.Q5_0: Exec<Q5_0Kernel>(s, start, end); break;
            case Kind.Q5_1: Exec<Q5_1Kernel>(s, start, end); break;
            case Kind.Q8_0: Exec<Q8_0Kernel>(s, start, end); break;
            case Kind.Q2_K: Exec<Q2_KKernel>(s, start, end); break;
            case Kind.Q3_K: Exec<Q3_KKernel>(s, start, end); break;
            case Kind.Q4_K: Exec<Q4_KKernel>(s, start, end); break;
            case Kind.Q5_K: Exec<Q5_KKernel>(s, start, end); break;
            default: Exec<Q6_KKernel>(s, start, end); break;
        }
    }

    /// <summary>Rows [start, end) of one job through the very body a separate call runs (its output row stride standing in
    /// for the matrix height, which that body only uses to address outputs).</summary>
    private static void Exec<TKernel>(in JobState s, int start, int end) where TKernel : struct, IDotKernel
    {
        var body = new MatMulBody<TKernel>
        {
            W = s.W, RowBytes = s.RowBytes, A = s.A, ActRow = s.ActRow, Y = s.Y,
            Rows = (int)s.YStride, Cols = s.Cols, N = s.N, Width = s.Width, RowTile = s.RowTile,
        };
        s.Layout.Attach(ref body, s.L);
        body.Execute(start, end);
    }

    private struct JobState
    {
        public byte* W, A, L;
        public float* X, Y;
        public long RowBytes, XStride, YStride, ActRow, AOffset;
        public long TokLo, LayoutLo, Lo, Cost;
        public int Rows, Cols, N, RowTile, ShareOf, Width;
        // Packed kinds: the matrix height (Rows counts units of interleaved groups), the gemm token count, the groups
        // per unit, the matrix's group count and the rows per unit (1 for plain jobs).
        public int MatrixRows, Split, UnitGroups, Groups, UnitRows;
        public GgmlType DotType;
        public Kind Kind;
        public PrefillLayout Layout;
    }

    /// <summary>Converts the activation rows of the jobs that own a conversion (item = one token of one job), or with
    /// <see cref="Layout"/> builds their paired / grouped layouts (item = one pair or group).</summary>
    private struct BatchConvertBody : IParallelBody
    {
        public JobState* Jobs;
        public int Count, Width;
        public bool Layout;

        public readonly void Execute(int start, int end)
        {
            for (int i = 0; i < Count && start < end; i++)
            {
                ref var s = ref Jobs[i];
                if (s.DotType == GgmlType.F32 || s.ShareOf >= 0)
                    continue;
                long lo = Layout ? s.LayoutLo : s.TokLo;
                long hi = lo + (Layout ? LayoutItems(s) : s.N);
                int a = (int)Math.Max(start, lo), b = (int)Math.Min(end, hi);
                if (a >= b)
                    continue;
                int first = (int)(a - lo), last = (int)(b - lo);
                if (!Layout)
                {
                    for (int t = first; t < last; t++)
                        ActivationQuantizer.QuantizeForKernel(s.DotType, s.X + t * s.XStride, s.A + t * s.ActRow, s.Cols, Width);
                }
                else
                    BuildLayout(s, first, last); // only jobs with layout items get here
            }
        }
    }

    /// <summary>Work units [start, end) of all jobs: a job owns units [Lo, Lo + Rows * Cost), row r the one starting at
    /// Lo + r * Cost, so every row lands in exactly one chunk.</summary>
    private struct BatchBody : IParallelBody
    {
        public JobState* Jobs;
        public int Count;

        public readonly void Execute(int start, int end)
        {
            // First job whose units reach past start (jobs are in unit order).
            int lo = 0, hi = Count - 1;
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                ref var m = ref Jobs[mid];
                if (m.Lo + m.Rows * m.Cost <= start) lo = mid + 1; else hi = mid;
            }
            for (int i = lo; i < Count; i++)
            {
                ref var s = ref Jobs[i];
                if (s.Lo >= end)
                    break;
                long r0 = Math.Max(0, (start - s.Lo + s.Cost - 1) / s.Cost);
                long r1 = Math.Min(s.Rows, (end - s.Lo + s.Cost - 1) / s.Cost);
                if (r0 < r1)
                    Exec(s, (int)r0, (int)r1);
            }
        }
    }
}
