using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using SeekSharp.Numerics.Threading;

namespace SeekSharp.Numerics;

/// <summary>Matrix x vector (decode) and matrix x matrix (prefill) products over GGUF weight types.</summary>
public static unsafe partial class MatMul
{
    /// <summary>
    /// y[t*w.Rows + r] = dot(row r of <paramref name="w"/>, x[t*w.Cols .. +w.Cols]) for t in [0, <paramref name="n"/>).
    /// </summary>
    /// <remarks>
    /// Like ggml, the activations are first converted to the weight type's vec_dot type (F32, F16, BF16, Q8_0, Q8_1 or
    /// Q8_K, byte-identical to ggml's x86 quantizers) and dotted with integer arithmetic, with the float operations in
    /// the order of llama.cpp's x86 (AVX-512 build) kernels: results are bit-identical to ggml_mul_mat on a plain CPU
    /// buffer, including the llamafile-sgemm order llama.cpp switches to for multi-token F32/F16/BF16 products, on every
    /// vector path. Rows are split across <paramref name="pool"/>; for n &gt; 1 each worker walks its rows in L2-sized
    /// tiles and, inside a tile, in groups of tokens, running several tokens per weight row at a time so each weight block
    /// is unpacked once per group (Q8_0/Q4_0/Q5_0 on AVX-512: two rows x sixteen tokens, see
    /// <see cref="PrefillTileKernels"/>). Steady-state calls allocate nothing (the converted activations live in a
    /// per-thread native buffer that is reused).
    /// </remarks>
    public static void Multiply(in WeightMatrix w, ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool) =>
        Multiply(w, x, n, y, pool, allowSgemmOrder: true);

    /// <summary>
    /// <see cref="Multiply"/> for a mixture-of-experts expert matrix: llama.cpp computes those with ggml_mul_mat_id,
    /// which always uses the vec_dot order (never llamafile sgemm), so every token's result equals its n = 1 result.
    /// Identical to <see cref="Multiply"/> for quantized weights; differs only for multi-token F32/F16/BF16 products.
    /// </summary>
    public static void MultiplyExpert(in WeightMatrix w, ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool) =>
        Multiply(w, x, n, y, pool, allowSgemmOrder: false);

    private static void Multiply(in WeightMatrix w, ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool, bool allowSgemmOrder)
    {
        ArgumentNullException.ThrowIfNull(pool);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (w.Data == null && w.Rows > 0 && w.Cols > 0)
            throw new ArgumentException("weight matrix has no data", nameof(w));
        if ((long)x.Length < (long)n * w.Cols)
            throw new ArgumentException($"x holds {x.Length} values, {n} x {w.Cols} needed", nameof(x));
        if ((long)y.Length < (long)n * w.Rows)
            throw new ArgumentException($"y holds {y.Length} values, {n} x {w.Rows} needed", nameof(y));
        if (n == 0 || w.Rows == 0)
            return;
        if (w.Cols == 0)
        {
            y[..(n * w.Rows)].Clear();
            return;
        }
        if (w.Packed != null)
        {
            // Packed (repacked-order) products run through the batched driver, which splits them by interleaved groups.
            Span<MatMulJob> job = [new MatMulJob(w, n, 0, w.Cols, 0, w.Rows, ExpertOrder: !allowSgemmOrder)];
            MultiplyBatched(job, x, y, pool);
            return;
        }

        switch (w.Type)
        {
            // Multi-token float products follow llamafile sgemm's order when llama.cpp would use it (see SgemmDot).
            case GgmlType.F32 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols): Run<F32SgemmKernel>(w, x, n, y, pool); break;
            case GgmlType.F16 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols): Run<F16SgemmKernel>(w, x, n, y, pool); break;
            case GgmlType.BF16 when allowSgemmOrder && SgemmDot.Applies(n, w.Rows, w.Cols): Run<BF16SgemmKernel>(w, x, n, y, pool); break;
            case GgmlType.F32: Run<F32Kernel>(w, x, n, y, pool); break;
            case GgmlType.F16: Run<F16Kernel>(w, x, n, y, pool); break;
            case GgmlType.BF16: Run<BF16Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q4_0: Run<Q4_0Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q4_1: Run<Q4_1Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q5_0: Run<Q5_0Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q5_1: Run<Q5_1Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q8_0: Run<Q8_0Kernel>(w, x, n, y, pool); break;
            case GgmlType.Q2_K: Run<Q2_KKernel>(w, x, n, y, pool); break;
            case GgmlType.Q3_K: Run<Q3_KKernel>(w, x, n, y, pool); break;
            case GgmlType.Q4_K: Run<Q4_KKernel>(w, x, n, y, pool); break;
            case GgmlType.Q5_K: Run<Q5_KKernel>(w, x, n, y, pool); break;
            case GgmlType.Q6_K: Run<Q6_KKernel>(w, x, n, y, pool); break;
            default: throw new NotSupportedException($"matrix multiplication with {GgmlTypeInfo.Name(w.Type)} weights is not supported");
        }
    }

    /// <summary>True for the weight types <see cref="Multiply"/> handles.</summary>
    public static bool Supports(GgmlType type) => type is
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    /// <summary>The activation format (ggml's vec_dot_type) used with <paramref name="type"/> weights.</summary>
    internal static GgmlType DotType(GgmlType type) => type switch
    {
        GgmlType.F32 => GgmlType.F32,
        GgmlType.F16 => GgmlType.F16,
        GgmlType.BF16 => GgmlType.BF16,
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => GgmlType.Q8_0,
        GgmlType.Q4_1 or GgmlType.Q5_1 => GgmlType.Q8_1,
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K => GgmlType.Q8_K,
        _ => throw new NotSupportedException($"no vec_dot type for {type}"),
    };

    /// <summary>
    /// Single-row dot product through the same kernel <see cref="Multiply"/> uses, with the activation row in ggml's
    /// format for the vec_dot type (for tests and tools).
    /// </summary>
    internal static float DotRow(GgmlType type, byte* w, byte* act, int cols, int width) => type switch
    {
        GgmlType.F32 => F32Kernel.Dot(w, act, cols, width),
        GgmlType.F16 => DotF16Row(w, act, cols, width),
        GgmlType.BF16 => BF16Kernel.Dot(w, act, cols, width),
        GgmlType.Q4_0 => Q4_0Kernel.Dot(w, act, cols, width),
        GgmlType.Q4_1 => Q4_1Kernel.Dot(w, act, cols, width),
        GgmlType.Q5_0 => Q5_0Kernel.Dot(w, act, cols, width),
        GgmlType.Q5_1 => Q5_1Kernel.Dot(w, act, cols, width),
        GgmlType.Q8_0 => Q8_0Kernel.Dot(w, act, cols, width),
        GgmlType.Q2_K => Q2_KKernel.Dot(w, act, cols, width),
        GgmlType.Q3_K => Q3_KKernel.Dot(w, act, cols, width),
        GgmlType.Q4_K => Q4_KKernel.Dot(w, act, cols, width),
        GgmlType.Q5_K => Q5_KKernel.Dot(w, act, cols, width),
        GgmlType.Q6_K => Q6_KKernel.Dot(w, act, cols, width),
        _ => throw new NotSupportedException(type.ToString()),
    };

    private static float DotF16Row(byte* w, byte* act, int cols, int width)
    {
        float[] a = F16ToF32(act, cols);
        fixed (float* pa = a)
            return F16Kernel.Dot(w, (byte*)pa, cols, width);
    }

    private static float[] F16ToF32(byte* act, int cols)
    {
        var a = new float[cols];
        for (int i = 0; i < cols; i++)
            a[i] = Fp16.ToFloat(((ushort*)act)[i]);
        return a;
    }

    /// <summary>Four-token form of <see cref="DotRow"/> (the prefill kernel), for tests.</summary>
    internal static void DotRow4(GgmlType type, byte* w, byte* act, long stride, int cols, int width, float* result)
    {
        switch (type)
        {
            case GgmlType.F32: F32Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.F16:
            {
                float[] a = new float[4 * cols];
                for (int t = 0; t < 4; t++)
                    F16ToF32(act + t * stride, cols).CopyTo(a, t * cols);
                fixed (float* pa = a)
                    F16Kernel.Dot4(w, (byte*)pa, (long)cols * sizeof(float), cols, width, result);
                break;
            }
            case GgmlType.BF16: BF16Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q4_0: Q4_0Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q4_1: Q4_1Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q5_0: Q5_0Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q5_1: Q5_1Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q8_0: Q8_0Kernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q2_K: Q2_KKernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q3_K: Q3_KKernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q4_K: Q4_KKernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q5_K: Q5_KKernel.Dot4(w, act, stride, cols, width, result); break;
            case GgmlType.Q6_K: Q6_KKernel.Dot4(w, act, stride, cols, width, result); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    // Work below this many activation values is converted on the calling thread.
    private const long ParallelQuantizeThreshold = 1 << 15;
    // Weight bytes per row tile: what a core can keep in L2 next to a group of activation rows.
    private const long RowTileBytes = 256 * 1024;
    // Tokens per group inside a row tile; a group's activations stay in L1/L2 while the tile's rows stream past.
    private const int TokenTile = 8;
    // Token pairs per group for the row-tiled prefill kernel (sixteen tokens).
    private const int TiledPairTile = 8;

    private static void Run<TKernel>(in WeightMatrix w, ReadOnlySpan<float> x, int n, Span<float> y, WorkerPool pool)
        where TKernel : struct, IDotKernel
    {
        int width = KernelSettings.Width;
        int cols = w.Cols;
        var layout = PrefillLayout.For<TKernel>(cols, n, width);
        fixed (float* px = x)
        fixed (float* py = y)
        {
            byte* act;
            long actRow;
            if (TKernel.DotType == GgmlType.F32)
            {
                act = (byte*)px;
                actRow = (long)cols * sizeof(float);
            }
            else
            {
                actRow = ActivationQuantizer.KernelRowBytes(TKernel.DotType, cols);
                // The prefill layout (if any) follows the converted rows in the same buffer.
                act = ThreadScratch.Get(((actRow * n + 63) & ~63L) + layout.Bytes);
                var q = new QuantizeBody { X = px, A = act, ActRow = actRow, Cols = cols, Type = TKernel.DotType, Width = width };
                if ((long)n * cols >= ParallelQuantizeThreshold && n > 1)
                    pool.For(n, ref q);
                else
                    q.Execute(0, n);
            }

            var body = new MatMulBody<TKernel>
            {
                W = w.Data, RowBytes = w.RowBytes, A = act, ActRow = actRow, Y = py,
                Rows = w.Rows, Cols = cols, N = n, Width = width,
                RowTile = (int)Math.Clamp(RowTileBytes / Math.Max(1, w.RowBytes), 1, int.MaxValue),
            };
            if (layout.Kind != LayoutNone)
            {
                // Rearrange the converted activations once per call (O(n * cols)) for the paired / tiled / grouped kernel.
                var lb = new LayoutBody<TKernel> { Layout = layout, A = act, ActRow = actRow, L = act + ((actRow * n + 63) & ~63L) };
                if ((long)n * cols >= ParallelQuantizeThreshold)
                    pool.For((int)layout.Items, ref lb);
                else
                    lb.Execute(0, (int)layout.Items);
                layout.Attach(ref body, lb.L);
            }
            // Decode rows are cheap, so keep chunks big enough to amortize the hand-off; prefill rows carry n dots each.
            int grain = n == 1 ? 32 : Math.Max(1, 64 / n);
            pool.For(w.Rows, ref body, grain);
        }
    }

    /// <summary>Decode rows [start, end) of one matrix: y[r] = row r · the converted activation row.</summary>
    private static void DotRows<TKernel>(byte* W, long RowBytes, byte* A, int Cols, int Width, float* Y, int start, int end)
        where TKernel : struct, IDotKernel
    {
        if (LegacyDecode.Applies<TKernel>(Width))
        {
            LegacyDecode.Rows<TKernel>(W + start * RowBytes, RowBytes, A, Cols, Width, Y + start, end - start);
            return;
        }
        int r = start;
        if (typeof(TKernel) == typeof(Q4_KKernel) && KQuantDecode.Applies(Width))
        {
            // Two rows per pass over the activations; an odd last row goes through the same kernel twice.
            float* two = stackalloc float[2];
            for (; r < end; r += 2)
            {
                if (r + 1 < end)
                    KQuantDecode.Q4K2(W + r * RowBytes, W + (r + 1) * RowBytes, A, Cols, Y + r);
                else
                {
                    KQuantDecode.Q4K2(W + r * RowBytes, W + r * RowBytes, A, Cols, two);
                    Y[r] = two[0];
                }
            }
            return;
        }
        if (typeof(TKernel) == typeof(Q6_KKernel) && KQuantDecode.Applies(Width))
        {
            float* two = stackalloc float[2];
            for (; r < end; r += 2)
            {
                if (r + 1 < end)
                    KQuantDecode.Q6K2(W + r * RowBytes, W + (r + 1) * RowBytes, A, Cols, Y + r);
                else
                {
                    KQuantDecode.Q6K2(W + r * RowBytes, W + r * RowBytes, A, Cols, two);
                    Y[r] = two[0];
                }
            }
            return;
        }
        if (typeof(TKernel) == typeof(Q6_KKernel) && KQuantDecode.AppliesFourRows(Width, RowBytes))
        {
            // Four rows per pass; the next group is prefetched while this one runs, except for the chunk's last group.
            for (; r + 4 <= end; r += 4)
                KQuantDecode.Q6K4(W + r * RowBytes, RowBytes, A, Cols, Y + r, prefetch: r + 8 <= end);
        }
        if (typeof(TKernel) == typeof(F16Kernel) && KernelSettings.MultiRowFloatDecode)
        {
            // Four rows per pass; the next group is prefetched while this one runs, except for the chunk's last group.
            // F32 rows stay one-row: the same kernel measured 0.75-0.9x from DRAM on 896-wide F32 rows.
            for (; r + 4 <= end; r += 4)
                FloatDot.Dot64Rows4<Half>(W + r * RowBytes, RowBytes, (float*)A, Cols, Width, Y + r, prefetch: r + 8 <= end);
        }
        if (typeof(TKernel) == typeof(Q4_KKernel) && KQuantDecode.AppliesOneRow(Width))
        {
            for (; r < end; r++)
                Y[r] = KQuantDecode.Q4K1(W + r * RowBytes, A, Cols);
            return;
        }
        if (typeof(TKernel) == typeof(Q6_KKernel) && KQuantDecode.AppliesOneRow(Width))
        {
            for (; r < end; r++)
                Y[r] = KQuantDecode.Q6K1(W + r * RowBytes, A, Cols);
            return;
        }
        for (; r < end; r++)
            Y[r] = TKernel.Dot(W + r * RowBytes, A, Cols, Width);
    }

    /// <summary><see cref="DotRows{TKernel}"/> for a weight type known at run time (quantized types only).</summary>
    private static void DotRows(GgmlType type, byte* w, long rowBytes, byte* a, int cols, int width, float* y, int start, int end)
    {
        switch (type)
        {
            case GgmlType.Q4_0: DotRows<Q4_0Kernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q4_1: DotRows<Q4_1Kernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q5_0: DotRows<Q5_0Kernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q5_1: DotRows<Q5_1Kernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q8_0: DotRows<Q8_0Kernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q2_K: DotRows<Q2_KKernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q3_K: DotRows<Q3_KKernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q4_K: DotRows<Q4_KKernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q5_K: DotRows<Q5_KKernel>(w, rowBytes, a, cols, width, y, start, end); break;
            case GgmlType.Q6_K: DotRows<Q6_KKernel>(w, rowBytes, a, cols, width, y, start, end); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    /// <summary>
    /// y0 = w0 · x, y1 = w1 · x (and y2 = w2 · x when <paramref name="w2"/> has rows): several matrices that read the same
    /// input, e.g. Q/K/V or gate/up. Results are those of separate <see cref="Multiply"/> calls, bit for bit. For one
    /// token with quantized weights of one activation format, the input is converted once and all rows run in a single
    /// parallel loop (one thread hand-off instead of two or three); otherwise it makes the separate calls.
    /// </summary>
    public static void MultiplyShared(ReadOnlySpan<float> x, int n, WorkerPool pool,
        in WeightMatrix w0, Span<float> y0, in WeightMatrix w1, Span<float> y1, in WeightMatrix w2, Span<float> y2)
    {
        ArgumentNullException.ThrowIfNull(pool);
        bool three = w2.Rows > 0;
        if ((w0.IsPacked || w1.IsPacked || w2.IsPacked) && KernelSettings.SharedDecode)
        {
            MultiplySharedBatched(x, n, pool, w0, y0, w1, y1, w2, y2);
            return;
        }
        if (!SharedApplies(n, w0, w1) || (three && !SharedApplies(n, w0, w2)) ||
            x.Length < w0.Cols || y0.Length < w0.Rows || y1.Length < w1.Rows || (three && y2.Length < w2.Rows) ||
            !KernelSettings.SharedDecode)
        {
            Multiply(w0, x, n, y0, pool);
            Multiply(w1, x, n, y1, pool);
            if (three) Multiply(w2, x, n, y2, pool);
            return;
        }
        int width = KernelSettings.Width;
        int cols = w0.Cols;
        GgmlType dotType = DotType(w0.Type);
        long actRow = ActivationQuantizer.KernelRowBytes(dotType, cols);
        byte* act = ThreadScratch.Get((actRow + 63) & ~63L);
        fixed (float* px = x)
        fixed (float* p0 = y0)
        fixed (float* p1 = y1)
        fixed (float* p2 = y2)
        {
            ActivationQuantizer.QuantizeForKernel(dotType, px, act, cols, width);
            var body = new SharedBody
            {
                A = act, Cols = cols, Width = width,
                W0 = w0.Data, W1 = w1.Data, W2 = three ? w2.Data : null,
                B0 = w0.RowBytes, B1 = w1.RowBytes, B2 = three ? w2.RowBytes : 0,
                T0 = w0.Type, T1 = w1.Type, T2 = three ? w2.Type : w0.Type,
                R0 = w0.Rows, R1 = w1.Rows, R2 = three ? w2.Rows : 0,
                Y0 = p0, Y1 = p1, Y2 = p2,
            };
            pool.For(body.R0 + body.R1 + body.R2, ref body, 32);
        }
    }

    [ThreadStatic] private static float[]? t_sharedOut;

    /// <summary>
    /// <see cref="MultiplyShared(ReadOnlySpan{float}, int, WorkerPool, in WeightMatrix, Span{float}, in WeightMatrix, Span{float}, in WeightMatrix, Span{float})"/>
    /// when a matrix is packed: one batched call (one hand-off, one activation conversion per kernel) into a per-thread
    /// buffer, then copied out; each result equals a separate <see cref="Multiply"/>'s.
    /// </summary>
    private static void MultiplySharedBatched(ReadOnlySpan<float> x, int n, WorkerPool pool,
        in WeightMatrix w0, Span<float> y0, in WeightMatrix w1, Span<float> y1, in WeightMatrix w2, Span<float> y2)
    {
        int r0 = w0.Rows, r1 = w1.Rows, r2 = w2.Rows, all = r0 + r1 + r2;
        if (y0.Length < n * r0 || y1.Length < n * r1 || y2.Length < n * r2)
            throw new ArgumentException("an output span is too short for its matrix's rows");
        var buffer = t_sharedOut;
        if (buffer == null || buffer.Length < (long)n * all)
            t_sharedOut = buffer = new float[Math.Max((long)n * all, 4096)];
        Span<MatMulJob> jobs =
        [
            new MatMulJob(w0, n, 0, w0.Cols, 0, all),
            new MatMulJob(w1, n, 0, w0.Cols, r0, all),
            new MatMulJob(w2, r2 > 0 ? n : 0, 0, w0.Cols, r0 + r1, all),
        ];
        MultiplyBatched(jobs, x, buffer, pool);
        for (int t = 0; t < n; t++)
        {
            var row = buffer.AsSpan(t * all, all);
            row[..r0].CopyTo(y0.Slice(t * r0, r0));
            row.Slice(r0, r1).CopyTo(y1.Slice(t * r1, r1));
            if (r2 > 0) row.Slice(r0 + r1, r2).CopyTo(y2.Slice(t * r2, r2));
        }
    }

    /// <summary>Two-matrix form of <see cref="MultiplyShared(ReadOnlySpan{float}, int, WorkerPool, in WeightMatrix, Span{float}, in WeightMatrix, Span{float}, in WeightMatrix, Span{float})"/>.</summary>
    public static void MultiplyShared(ReadOnlySpan<float> x, int n, WorkerPool pool,
        in WeightMatrix w0, Span<float> y0, in WeightMatrix w1, Span<float> y1) =>
        MultiplyShared(x, n, pool, w0, y0, w1, y1, default, default);

    // The fused loop reads plain rows, so packed matrices never take it.
    private static bool SharedApplies(int n, in WeightMatrix a, in WeightMatrix b) =>
        n == 1 && a.Cols == b.Cols && a.Cols > 0 && a.Rows > 0 && b.Rows > 0 && a.Data != null && b.Data != null &&
        !a.IsPacked && !b.IsPacked &&
        IsQuantized(a.Type) && IsQuantized(b.Type) && DotType(a.Type) == DotType(b.Type);

    private static bool IsQuantized(GgmlType t) => t is
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    private struct SharedBody : IParallelBody
    {
        public byte* A, W0, W1, W2;
        public float* Y0, Y1, Y2;
        public long B0, B1, B2;
        public GgmlType T0, T1, T2;
        public int R0, R1, R2, Cols, Width;

        public readonly void Execute(int start, int end)
        {
            // Global row index: [0, R0) is w0, then w1, then w2; a chunk may straddle a boundary.
            Segment(T0, W0, B0, Y0, 0, R0, start, end);
            Segment(T1, W1, B1, Y1, R0, R0 + R1, start, end);
            if (R2 > 0)
                Segment(T2, W2, B2, Y2, R0 + R1, R0 + R1 + R2, start, end);
        }

        private readonly void Segment(GgmlType t, byte* w, long rb, float* y, int lo, int hi, int start, int end)
        {
            int s = Math.Max(start, lo), e = Math.Min(end, hi);
            if (s < e)
                DotRows(t, w, rb, A, Cols, Width, y, s - lo, e - lo);
        }
    }

    private struct QuantizeBody : IParallelBody
    {
        public float* X;
        public byte* A;
        public long ActRow;
        public int Cols, Width;
        public GgmlType Type;

        public readonly void Execute(int start, int end)
        {
            for (int t = start; t < end; t++)
                ActivationQuantizer.QuantizeForKernel(Type, X + (long)t * Cols, A + t * ActRow, Cols, Width);
        }
    }

    private struct MatMulBody<TKernel> : IParallelBody where TKernel : struct, IDotKernel
    {
        public byte* W, A, P, G;
        public float* Y;
        public long RowBytes, ActRow, PairStride, GroupStride;
        public int Rows, Cols, N, Width, RowTile, Nb, ScaleStride, Groups;
        public float* Scales;
        public bool Tiled, Whole, FastTail;

        public readonly void Execute(int start, int end)
        {
            if (N == 1)
            {
                DotRows<TKernel>(W, RowBytes, A, Cols, Width, Y, start, end);
                return;
            }
            if (P != null)
            {
                if (Tiled)
                    ExecuteTiled(start, end);
                else
                    ExecutePaired(start, end);
                return;
            }
            if (G != null)
            {
                ExecuteGrouped(start, end);
                return;
            }
            float* four = stackalloc float[4];
            float* eight = stackalloc float[8];
            for (int r0 = start; r0 < end; r0 += RowTile)
            {
                int r1 = Math.Min(end, r0 + RowTile);
                for (int t0 = 0; t0 < N; t0 += TokenTile)
                {
                    int t1 = Math.Min(N, t0 + TokenTile);
                    for (int r = r0; r < r1; r++)
                    {
                        byte* row = W + r * RowBytes;
                        int t = t0;
                        if (IsSgemm && t + 8 <= t1 && KernelSettings.WidePrefill)
                        {
                            Dot8(row, A + t * ActRow, ActRow, Cols, Width, eight);
                            for (int k = 0; k < 8; k++)
                                Y[(long)(t + k) * Rows + r] = eight[k];
                            t += 8;
                        }
                        for (; t + 4 <= t1; t += 4)
                        {
                            TKernel.Dot4(row, A + t * ActRow, ActRow, Cols, Width, four);
                            for (int k = 0; k < 4; k++)
                                Y[(long)(t + k) * Rows + r] = four[k];
                        }
                        for (; t < t1; t++)
                            Y[(long)t * Rows + r] = TKernel.Dot(row, A + t * ActRow, Cols, Width);
                    }
                }
            }
        }

        private static bool IsSgemm =>
            typeof(TKernel) == typeof(F32SgemmKernel) || typeof(TKernel) == typeof(F16SgemmKernel) || typeof(TKernel) == typeof(BF16SgemmKernel);

        private static void Dot8(byte* w, byte* a, long stride, int cols, int width, float* result)
        {
            if (typeof(TKernel) == typeof(F16SgemmKernel)) SgemmDot.Dot8<Half, float>(w, a, stride, cols, width, result);
            else if (typeof(TKernel) == typeof(F32SgemmKernel)) SgemmDot.Dot8<float, float>(w, a, stride, cols, width, result);
            else SgemmDot.Dot8<ushort, ushort>(w, a, stride, cols, width, result);
        }

        /// <summary>Grouped Q4_K / Q5_K / Q6_K prefill (<see cref="KQuantGroups"/>): eight tokens per weight row at a time (a
        /// padded last group stores only its real tokens), then the remaining tokens with the one-row decode kernels
        /// (<see cref="FastTail"/>) or the four-token and single-token kernels on the ggml-layout activations.</summary>
        private readonly void ExecuteGrouped(int start, int end)
        {
            float* eight = stackalloc float[8];
            float* four = stackalloc float[4];
            int groups = Groups;
            int tail = Math.Min(N, groups * KQuantGroups.GroupTokens);
            long ahead = KernelSettings.PrefetchTiles ? RowBytes : 0;
            for (int r0 = start; r0 < end; r0 += RowTile)
            {
                int r1 = Math.Min(end, r0 + RowTile);
                // One group (the token tile) at a time against all rows of the row tile.
                for (int g = 0; g < groups; g++)
                {
                    byte* group = G + g * GroupStride;
                    // a padded last group's copies of its last token are not stored
                    int tokens = Math.Min(KQuantGroups.GroupTokens, N - 8 * g);
                    for (int r = r0; r < r1; r++)
                    {
                        byte* row = W + r * RowBytes;
                        if (typeof(TKernel) == typeof(Q6_KKernel))
                            Q6KGroup.DotGroup(row, group, Nb, eight, ahead);
                        else if (typeof(TKernel) == typeof(Q5_KKernel))
                            Q4KGroup.DotGroup<Q4KGroup.Five>(row, group, Nb, eight, ahead);
                        else
                            Q4KGroup.DotGroup<Q4KGroup.Four>(row, group, Nb, eight, ahead);
                        for (int k = 0; k < tokens; k++)
                            Y[(long)(8 * g + k) * Rows + r] = eight[k];
                    }
                }
                for (int r = r0; r < r1; r++)
                {
                    byte* row = W + r * RowBytes;
                    int t = tail;
                    if (FastTail)
                    {
                        for (; t < N; t++)
                            Y[(long)t * Rows + r] = typeof(TKernel) == typeof(Q6_KKernel)
                                ? KQuantDecode.Q6K1(row, A + t * ActRow, Cols)
                                : KQuantDecode.Q4K1(row, A + t * ActRow, Cols);
                        continue;
                    }
                    for (; t + 4 <= N; t += 4)
                    {
                        TKernel.Dot4(row, A + t * ActRow, ActRow, Cols, Width, four);
                        for (int k = 0; k < 4; k++)
                            Y[(long)(t + k) * Rows + r] = four[k];
                    }
                    for (; t < N; t++)
                        Y[(long)t * Rows + r] = TKernel.Dot(row, A + t * ActRow, Cols, Width);
                }
            }
        }

        /// <summary>Paired-token prefill (<see cref="PairedTokenKernels"/>): eight tokens per weight row at a time, then
        /// a remaining pair, then an odd last token with the single-token kernel on the ggml-layout activations.</summary>
        private readonly void ExecutePaired(int start, int end)
        {
            float* eight = stackalloc float[8];
            int pairs = N / 2;
            for (int r0 = start; r0 < end; r0 += RowTile)
            {
                int r1 = Math.Min(end, r0 + RowTile);
                for (int p0 = 0; p0 < pairs; p0 += TokenTile / 2)
                {
                    int p1 = Math.Min(pairs, p0 + TokenTile / 2);
                    for (int r = r0; r < r1; r++)
                    {
                        byte* row = W + r * RowBytes;
                        int p = p0;
                        if (p1 - p0 == 4)
                        {
                            PairedTokenKernels.Dot4Pairs<TKernel>(row, P + p * PairStride, PairStride, Nb, eight);
                            for (int k = 0; k < 8; k++)
                                Y[(long)(2 * p + k) * Rows + r] = eight[k];
                            continue;
                        }
                        for (; p < p1; p++)
                        {
                            PairedTokenKernels.Dot1Pair<TKernel>(row, P + p * PairStride, Nb, eight);
                            Y[(long)(2 * p) * Rows + r] = eight[0];
                            Y[(long)(2 * p + 1) * Rows + r] = eight[1];
                        }
                    }
                }
                if ((N & 1) != 0)
                    for (int r = r0; r < r1; r++)
                        Y[(long)(N - 1) * Rows + r] = TKernel.Dot(W + r * RowBytes, A + (N - 1) * ActRow, Cols, Width);
            }
        }

        /// <summary>Row-tiled prefill (<see cref="PrefillTileKernels"/>): two weight rows x sixteen tokens at a time.</summary>
        /// <remarks>Same walk as <see cref="ExecutePaired"/> with rows taken two at a time (an odd last row of a chunk runs
        /// as both rows of the tile and its copy is dropped) and token groups of up to eight pairs. With
        /// <see cref="Whole"/> (<see cref="KernelSettings.WholeGroupTiles"/>) a group is one kernel call whatever its
        /// pair count and an odd last token is paired with a copy of itself in the layout (the copy's results are
        /// dropped); otherwise a group's leftover pairs go four, two, then one at a time and an odd last token uses the
        /// single-token kernel.</remarks>
        private readonly void ExecuteTiled(int start, int end)
        {
            float* out0 = stackalloc float[16];
            float* out1 = stackalloc float[16];
            float* scratch = stackalloc float[PrefillTileKernels.ScratchFloats];
            int pairs = Whole ? (N + 1) / 2 : N / 2;
            for (int r0 = start; r0 < end; r0 += RowTile)
            {
                int r1 = Math.Min(end, r0 + RowTile);
                for (int g0 = 0; g0 < pairs; g0 += TiledPairTile)
                {
                    int g1 = Math.Min(pairs, g0 + TiledPairTile);
                    for (int r = r0; r < r1; r += 2)
                    {
                        bool two = r + 1 < r1;
                        byte* x0 = W + r * RowBytes, x1 = two ? x0 + RowBytes : x0;
                        for (int p = g0; p < g1;)
                        {
                            int np = g1 - p;
                            if (!Whole)
                                np = np >= 8 ? 8 : np >= 4 ? 4 : np >= 2 ? 2 : 1;
                            byte* pp = P + p * PairStride;
                            float* sc = Scales + 2 * p;
                            switch (np)
                            {
                                case 8: PrefillTileKernels.Dot<TKernel, EightPairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 7: PrefillTileKernels.Dot<TKernel, SevenPairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 6: PrefillTileKernels.Dot<TKernel, SixPairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 5: PrefillTileKernels.Dot<TKernel, FivePairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 4: PrefillTileKernels.Dot<TKernel, FourPairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 3: PrefillTileKernels.Dot<TKernel, ThreePairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                case 2: PrefillTileKernels.Dot<TKernel, TwoPairs>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                                default: PrefillTileKernels.Dot<TKernel, OnePair>(x0, x1, pp, PairStride, sc, ScaleStride, Nb, scratch, out0, out1); break;
                            }
                            // the copy of an odd last token is not stored
                            int tokens = Math.Min(2 * np, N - 2 * p);
                            for (int k = 0; k < tokens; k++)
                                Y[(long)(2 * p + k) * Rows + r] = out0[k];
                            if (two)
                                for (int k = 0; k < tokens; k++)
                                    Y[(long)(2 * p + k) * Rows + r + 1] = out1[k];
                            p += np;
                        }
                    }
                }
                if (!Whole && (N & 1) != 0)
                    for (int r = r0; r < r1; r++)
                        Y[(long)(N - 1) * Rows + r] = TKernel.Dot(W + r * RowBytes, A + (N - 1) * ActRow, Cols, Width);
            }
        }
    }

    /// <summary>A per-thread native buffer for converted activations, grown on demand and freed with the thread.</summary>
    private sealed class ThreadScratch
    {
        [ThreadStatic] private static ThreadScratch? t_instance;
        private byte* _data;
        private long _size;

        public static byte* Get(long bytes)
        {
            var s = t_instance ??= new ThreadScratch();
            if (s._size < bytes)
            {
                NativeMemory.AlignedFree(s._data);
                s._data = null;
                s._size = 0;
                long size = Math.Max(bytes, 64 * 1024);
                s._data = (byte*)NativeMemory.AlignedAlloc((nuint)size, 64);
                s._size = size;
            }
            return s._data;
        }

        ~ThreadScratch() => NativeMemory.AlignedFree(_data);
    }
}
