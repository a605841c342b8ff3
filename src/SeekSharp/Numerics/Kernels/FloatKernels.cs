using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

// F32 / F16 / BF16 weights against activations of the same type.
//
// The summation order copies llama.cpp's AVX-512 build of ggml_vec_dot_f32/_f16/_bf16: 64 float lanes (four 16-wide
// accumulators) updated with fma over each 64-value step, folded as (s0+s2)+(s1+s3) and then 16 -> 8 -> 4 -> 2 -> 1 the way
// _mm512_reduce_add_ps does; BF16 uses two 16-wide accumulators over 32-value steps. Leftover values are added as ggml
// does (fused into the float sum for F32, in double for F16/BF16).
//
// F16 weights are converted in software (no F16C in .NET), which bounds decode speed. The dot loops check each 64-weight
// block for Inf/NaN once and, for the (normal) blocks without any, use the conversion without its Inf/NaN fix-up; the
// values, and so every product and sum, are the same either way.

internal static unsafe class FloatDot
{
    /// <summary>_mm512_reduce_add_ps order on 16 values.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce16(float* v)
    {
        float* t = stackalloc float[8];
        for (int k = 0; k < 8; k++) t[k] = v[k + 8] + v[k];
        float t0 = t[4] + t[0], t1 = t[5] + t[1], t2 = t[6] + t[2], t3 = t[7] + t[3];
        return (t0 + t2) + (t1 + t3);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce16(Vector512<float> v)
    {
        Vector256<float> t = v.GetUpper() + v.GetLower();
        Vector128<float> u = t.GetUpper() + t.GetLower();
        return (u.GetElement(0) + u.GetElement(2)) + (u.GetElement(1) + u.GetElement(3));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce16(Vector256<float> lo, Vector256<float> hi)
    {
        Vector256<float> t = hi + lo;
        Vector128<float> u = t.GetUpper() + t.GetLower();
        return (u.GetElement(0) + u.GetElement(2)) + (u.GetElement(1) + u.GetElement(3));
    }

    /// <summary>Folds 64 accumulator lanes (four groups of 16) into one float.</summary>
    public static float Reduce64(float* s)
    {
        float* x = stackalloc float[16];
        for (int k = 0; k < 16; k++)
            x[k] = (s[k] + s[32 + k]) + (s[16 + k] + s[48 + k]);
        return Reduce16(x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> LoadF32x16<T>(void* p) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector512.Load((float*)p)
        : typeof(T) == typeof(Half) ? Fp16.ToFloat(Vector256.Load((ushort*)p))
        : (Vector512.WidenLower(Vector256.Load((ushort*)p).ToVector512Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> LoadF32x8<T>(void* p) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Load((float*)p)
        : typeof(T) == typeof(Half) ? Fp16.ToFloat(Vector128.Load((ushort*)p))
        : (Vector256.WidenLower(Vector128.Load((ushort*)p).ToVector256Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector128<float> LoadF32x4<T>(void* p) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector128.Load((float*)p)
        : typeof(T) == typeof(Half) ? Fp16.ToFloat(Vector64.Load((ushort*)p))
        : (Vector128.WidenLower(Vector64.Load((ushort*)p).ToVector128Unsafe()) << 16).AsSingle();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Scalar<T>(void* p, int i) where T : unmanaged =>
        typeof(T) == typeof(float) ? ((float*)p)[i]
        : typeof(T) == typeof(Half) ? Fp16.ToFloat(((ushort*)p)[i])
        : Fp16.Bf16ToFloat(((ushort*)p)[i]);

    /// <summary>
    /// F32 and F16 weights: 64-lane fma accumulation over 64-value steps. The activations are f32 in both cases; for
    /// F16 weights they hold the f16-rounded values (exactly representable), so each step converts only the weights.
    /// </summary>
    public static float Dot64<T>(void* x, float* y, int n, int width) where T : unmanaged
    {
        int size = sizeof(T) == 4 ? 4 : 2;
        byte* px = (byte*)x;
        int np = n & ~63;
        float sumf;
        if (width >= 512)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int i = 0; i < np; i += 64)
            {
                if (typeof(T) == typeof(Half) && !Fp16.AnyInfOrNaN((ushort*)x + i))
                {
                    // No Inf/NaN among these 64 weights (the normal case): the cheaper conversion is exact, same values.
                    ushort* h = (ushort*)x + i;
                    s0 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h)), Vector512.Load(y + i), s0);
                    s1 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h + 16)), Vector512.Load(y + (i + 16)), s1);
                    s2 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h + 32)), Vector512.Load(y + (i + 32)), s2);
                    s3 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h + 48)), Vector512.Load(y + (i + 48)), s3);
                    continue;
                }
                s0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + i * size), Vector512.Load(y + i), s0);
                s1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 16) * size), Vector512.Load(y + (i + 16)), s1);
                s2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 32) * size), Vector512.Load(y + (i + 32)), s2);
                s3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 48) * size), Vector512.Load(y + (i + 48)), s3);
            }
            sumf = Reduce16((s0 + s2) + (s1 + s3));
        }
        else if (width >= 256)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int i = 0; i < np; i += 64)
            {
                if (typeof(T) == typeof(Half) && !Fp16.AnyInfOrNaN256((ushort*)x + i))
                {
                    ushort* h = (ushort*)x + i;
                    a0 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h)), Vector256.Load(y + i), a0);
                    a1 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 8)), Vector256.Load(y + (i + 8)), a1);
                    a2 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 16)), Vector256.Load(y + (i + 16)), a2);
                    a3 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 24)), Vector256.Load(y + (i + 24)), a3);
                    a4 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 32)), Vector256.Load(y + (i + 32)), a4);
                    a5 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 40)), Vector256.Load(y + (i + 40)), a5);
                    a6 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 48)), Vector256.Load(y + (i + 48)), a6);
                    a7 = Vector256.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector128.Load(h + 56)), Vector256.Load(y + (i + 56)), a7);
                    continue;
                }
                a0 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + i * size), Vector256.Load(y + i), a0);
                a1 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 8) * size), Vector256.Load(y + (i + 8)), a1);
                a2 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 16) * size), Vector256.Load(y + (i + 16)), a2);
                a3 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 24) * size), Vector256.Load(y + (i + 24)), a3);
                a4 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 32) * size), Vector256.Load(y + (i + 32)), a4);
                a5 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 40) * size), Vector256.Load(y + (i + 40)), a5);
                a6 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 48) * size), Vector256.Load(y + (i + 48)), a6);
                a7 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 56) * size), Vector256.Load(y + (i + 56)), a7);
            }
            sumf = Reduce16((a0 + a4) + (a2 + a6), (a1 + a5) + (a3 + a7));
        }
        else
        {
            float* s = stackalloc float[64];
            for (int k = 0; k < 64; k++) s[k] = 0;
            if (width >= 128)
            {
                for (int i = 0; i < np; i += 64)
                    for (int k = 0; k < 64; k += 4)
                        Vector128.FusedMultiplyAdd(LoadF32x4<T>(px + (i + k) * size), Vector128.Load(y + i + k), Vector128.Load(s + k)).Store(s + k);
            }
            else
            {
                for (int i = 0; i < np; i += 64)
                    for (int k = 0; k < 64; k++)
                        s[k] = MathF.FusedMultiplyAdd(Scalar<T>(x, i + k), y[i + k], s[k]);
            }
            sumf = Reduce64(s);
        }
        return Tail<T>((byte*)x, y, np, n, sumf);
    }

    /// <summary>
    /// F16 weights against four f32 activation rows: each 16-value weight vector is converted once and used by the four
    /// tokens, each with its own four accumulators, in the same order as <see cref="Dot64{T}"/>.
    /// </summary>
    public static void Dot64x4(Half* x, float* y, long stride, int n, int width, float* result)
    {
        if (width < 512)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Dot64<Half>(x, (float*)((byte*)y + t * stride), n, width);
            return;
        }
        float* y0 = y, y1 = (float*)((byte*)y + stride), y2 = (float*)((byte*)y + 2 * stride), y3 = (float*)((byte*)y + 3 * stride);
        int np = n & ~63;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int i = 0; i < np; i += 64)
        {
            Vector512<float> w0, w1, w2, w3;
            ushort* h = (ushort*)x + i;
            if (!Fp16.AnyInfOrNaN(h))
            {
                // As in Dot64: no Inf/NaN in these 64 weights, so the cheaper conversion is exact.
                w0 = Fp16.ToFloatFinite(Vector256.Load(h));
                w1 = Fp16.ToFloatFinite(Vector256.Load(h + 16));
                w2 = Fp16.ToFloatFinite(Vector256.Load(h + 32));
                w3 = Fp16.ToFloatFinite(Vector256.Load(h + 48));
            }
            else
            {
                w0 = LoadF32x16<Half>(x + i);
                w1 = LoadF32x16<Half>(x + i + 16);
                w2 = LoadF32x16<Half>(x + i + 32);
                w3 = LoadF32x16<Half>(x + i + 48);
            }
            a0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(y0 + i), a0);
            a1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(y0 + i + 16), a1);
            a2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(y0 + i + 32), a2);
            a3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(y0 + i + 48), a3);
            b0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(y1 + i), b0);
            b1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(y1 + i + 16), b1);
            b2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(y1 + i + 32), b2);
            b3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(y1 + i + 48), b3);
            c0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(y2 + i), c0);
            c1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(y2 + i + 16), c1);
            c2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(y2 + i + 32), c2);
            c3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(y2 + i + 48), c3);
            d0 = Vector512.FusedMultiplyAdd(w0, Vector512.Load(y3 + i), d0);
            d1 = Vector512.FusedMultiplyAdd(w1, Vector512.Load(y3 + i + 16), d1);
            d2 = Vector512.FusedMultiplyAdd(w2, Vector512.Load(y3 + i + 32), d2);
            d3 = Vector512.FusedMultiplyAdd(w3, Vector512.Load(y3 + i + 48), d3);
        }
        // All four reductions before the first call, as in Dot64Rows4: accumulators live across a call get spilled.
        float r0 = Reduce16((a0 + a2) + (a1 + a3)), r1 = Reduce16((b0 + b2) + (b1 + b3));
        float r2 = Reduce16((c0 + c2) + (c1 + c3)), r3 = Reduce16((d0 + d2) + (d1 + d3));
        result[0] = Tail<Half>((byte*)x, y0, np, n, r0);
        result[1] = Tail<Half>((byte*)x, y1, np, n, r1);
        result[2] = Tail<Half>((byte*)x, y2, np, n, r2);
        result[3] = Tail<Half>((byte*)x, y3, np, n, r3);
    }

    // Groups of four rows up to this many bytes are prefetched as one sequential sweep while the previous group runs;
    // larger ones per row, one group ahead, into L2 (as in LegacyDecode: 896 x 4864 F16 from DRAM on one thread went
    // from 15.5-16 GB/s with prefetcht0 to 22-24 GB/s with prefetcht1, `SeekSharp.Bench.Kernels stream --type f16`).
    // Single-thread A/B, 4864 x 896 F16 from DRAM: per-row prefetch 0.5x, no prefetch 0.35x, sweep 0.95-1.03x of the
    // one-row kernel; two groups ahead was no better.
    private const long FloatLinearPrefetchBytes = 16 * 1024;

    /// <summary>
    /// Decode: four weight rows (<paramref name="rowBytes"/> apart from <paramref name="x"/>) against one activation row;
    /// result[r] = <see cref="Dot64{T}"/>(row r, y) bit for bit (F32 or F16 weights). Each row keeps its own four 16-lane
    /// accumulators, fma sequence, reduction and leftover handling; what changes is that each 16-value activation vector
    /// is loaded once for the four rows (one-row decode loads two activation bytes per F16 weight byte), the four rows'
    /// independent chains overlap, and the next group of four rows is prefetched one group ahead (four short streams
    /// restarting every group are followed poorly by the hardware prefetcher). Below 512 bits it runs Dot64 per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot64Rows4<T>(byte* x, long rowBytes, float* y, int n, int width, float* result, bool prefetch) where T : unmanaged
    {
        if (width < 512)
        {
            for (int r = 0; r < 4; r++)
                result[r] = Dot64<T>(x + r * rowBytes, y, n, width);
            return;
        }
        int size = sizeof(T) == 4 ? 4 : 2;
        byte* x0 = x, x1 = x + rowBytes, x2 = x + 2 * rowBytes, x3 = x + 3 * rowBytes;
        long group = 4 * rowBytes;
        bool linear = group <= FloatLinearPrefetchBytes;
        byte* next = x + group;
        int np = n & ~63;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        for (int i = 0; i < np; i += 64)
        {
            long o = (long)i * size;
            if (prefetch && Sse.IsSupported)
            {
                if (linear)
                {
                    // The next group (four rows of n values) swept front to back over the n / 64 steps: 512 (F16) or
                    // 1024 (F32) bytes per step.
                    for (int k = 0; k < 256 * size; k += 64)
                        Sse.Prefetch0(next + k);
                    next += 256 * size;
                }
                else
                {
                    // The same 64 values of the next group's rows: 128 (F16) or 256 (F32) bytes per row.
                    for (int k = 0; k < 64 * size; k += 64)
                    {
                        Sse.Prefetch1(x0 + group + o + k);
                        Sse.Prefetch1(x1 + group + o + k);
                        Sse.Prefetch1(x2 + group + o + k);
                        Sse.Prefetch1(x3 + group + o + k);
                    }
                }
            }
            Vector512<float> v0 = Vector512.Load(y + i), v1 = Vector512.Load(y + (i + 16));
            Vector512<float> v2 = Vector512.Load(y + (i + 32)), v3 = Vector512.Load(y + (i + 48));
            if (typeof(T) == typeof(Half) && !AnyInfOrNaN4((ushort*)(x0 + o), (ushort*)(x1 + o), (ushort*)(x2 + o), (ushort*)(x3 + o)))
            {
                // No Inf/NaN in any of the four rows' 64 weights (the normal case): the cheaper conversion is exact.
                // Where a block has some, every row takes LoadF32x16 below, which gives the same values for finite
                // weights, so each row's products are Dot64's whichever path its block took.
                ushort* h0 = (ushort*)(x0 + o), h1 = (ushort*)(x1 + o), h2 = (ushort*)(x2 + o), h3 = (ushort*)(x3 + o);
                a0 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h0)), v0, a0);
                a1 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h0 + 16)), v1, a1);
                a2 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h0 + 32)), v2, a2);
                a3 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h0 + 48)), v3, a3);
                b0 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h1)), v0, b0);
                b1 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h1 + 16)), v1, b1);
                b2 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h1 + 32)), v2, b2);
                b3 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h1 + 48)), v3, b3);
                c0 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h2)), v0, c0);
                c1 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h2 + 16)), v1, c1);
                c2 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h2 + 32)), v2, c2);
                c3 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h2 + 48)), v3, c3);
                d0 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h3)), v0, d0);
                d1 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h3 + 16)), v1, d1);
                d2 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h3 + 32)), v2, d2);
                d3 = Vector512.FusedMultiplyAdd(Fp16.ToFloatFinite(Vector256.Load(h3 + 48)), v3, d3);
                continue;
            }
            a0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x0 + o), v0, a0);
            a1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x0 + o + 16 * size), v1, a1);
            a2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x0 + o + 32 * size), v2, a2);
            a3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x0 + o + 48 * size), v3, a3);
            b0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x1 + o), v0, b0);
            b1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x1 + o + 16 * size), v1, b1);
            b2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x1 + o + 32 * size), v2, b2);
            b3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x1 + o + 48 * size), v3, b3);
            c0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x2 + o), v0, c0);
            c1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x2 + o + 16 * size), v1, c1);
            c2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x2 + o + 32 * size), v2, c2);
            c3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x2 + o + 48 * size), v3, c3);
            d0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x3 + o), v0, d0);
            d1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x3 + o + 16 * size), v1, d1);
            d2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x3 + o + 32 * size), v2, d2);
            d3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(x3 + o + 48 * size), v3, d3);
        }
        // All four reductions before the first call: vector registers do not survive calls (SysV), and accumulators
        // live across Tail made the JIT (without PGO data) spill twelve of them inside the loop: 0.45x from DRAM.
        float r0 = Reduce16((a0 + a2) + (a1 + a3)), r1 = Reduce16((b0 + b2) + (b1 + b3));
        float r2 = Reduce16((c0 + c2) + (c1 + c3)), r3 = Reduce16((d0 + d2) + (d1 + d3));
        result[0] = Tail<T>(x0, y, np, n, r0);
        result[1] = Tail<T>(x1, y, np, n, r1);
        result[2] = Tail<T>(x2, y, np, n, r2);
        result[3] = Tail<T>(x3, y, np, n, r3);
    }

    /// <summary>True when any of the 64 halves at each of the four pointers is Inf or NaN (one check for four rows).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool AnyInfOrNaN4(ushort* p0, ushort* p1, ushort* p2, ushort* p3)
    {
        // Same test as HalfPrecision.AnyInfOrNaN: a lane is Inf/NaN exactly when OR-ing its non-exponent bits gives 0xFFFF.
        Vector512<ushort> rest = Vector512.Create((ushort)0x83FF);
        Vector512<ushort> m0 = Vector512.Max(Vector512.Load(p0) | rest, Vector512.Load(p0 + 32) | rest);
        Vector512<ushort> m1 = Vector512.Max(Vector512.Load(p1) | rest, Vector512.Load(p1 + 32) | rest);
        Vector512<ushort> m2 = Vector512.Max(Vector512.Load(p2) | rest, Vector512.Load(p2 + 32) | rest);
        Vector512<ushort> m3 = Vector512.Max(Vector512.Load(p3) | rest, Vector512.Load(p3 + 32) | rest);
        return Vector512.EqualsAny(Vector512.Max(Vector512.Max(m0, m1), Vector512.Max(m2, m3)), Vector512<ushort>.AllBitsSet);
    }

    /// <summary>The leftover handling of every Dot64 form: values past the last 64-value step added to the lane sum
    /// (accumulated in float for F32 and in double for F16, as ggml does).</summary>
    private static float Tail<T>(byte* x, float* y, int np, int n, float sumf) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            for (int i = np; i < n; i++)
                sumf += ((float*)x)[i] * y[i];
            return sumf;
        }
        double sum = sumf;
        for (int i = np; i < n; i++)
            sum += Scalar<T>(x, i) * y[i];
        return (float)sum;
    }

    /// <summary>BF16: two 16-lane fma accumulators over 32-value steps, reduced separately into a double.</summary>
    public static float DotBf16(ushort* x, ushort* y, int n, int width)
    {
        int np = n & ~31;
        float r1, r2;
        if (width >= 512)
        {
            Vector512<float> c1 = default, c2 = default;
            for (int i = 0; i < np; i += 32)
            {
                c1 = Vector512.FusedMultiplyAdd(LoadF32x16<ushort>(x + i), LoadF32x16<ushort>(y + i), c1);
                c2 = Vector512.FusedMultiplyAdd(LoadF32x16<ushort>(x + i + 16), LoadF32x16<ushort>(y + i + 16), c2);
            }
            r1 = Reduce16(c1);
            r2 = Reduce16(c2);
        }
        else if (width >= 256)
        {
            Vector256<float> a = default, b = default, c = default, d = default;
            for (int i = 0; i < np; i += 32)
            {
                a = Vector256.FusedMultiplyAdd(LoadF32x8<ushort>(x + i), LoadF32x8<ushort>(y + i), a);
                b = Vector256.FusedMultiplyAdd(LoadF32x8<ushort>(x + i + 8), LoadF32x8<ushort>(y + i + 8), b);
                c = Vector256.FusedMultiplyAdd(LoadF32x8<ushort>(x + i + 16), LoadF32x8<ushort>(y + i + 16), c);
                d = Vector256.FusedMultiplyAdd(LoadF32x8<ushort>(x + i + 24), LoadF32x8<ushort>(y + i + 24), d);
            }
            r1 = Reduce16(a, b);
            r2 = Reduce16(c, d);
        }
        else
        {
            float* s = stackalloc float[32];
            for (int k = 0; k < 32; k++) s[k] = 0;
            for (int i = 0; i < np; i += 32)
            {
                if (width >= 128)
                {
                    for (int k = 0; k < 32; k += 4)
                        Vector128.FusedMultiplyAdd(LoadF32x4<ushort>(x + i + k), LoadF32x4<ushort>(y + i + k), Vector128.Load(s + k)).Store(s + k);
                }
                else
                {
                    for (int k = 0; k < 32; k++)
                        s[k] = MathF.FusedMultiplyAdd(Fp16.Bf16ToFloat(x[i + k]), Fp16.Bf16ToFloat(y[i + k]), s[k]);
                }
            }
            r1 = Reduce16(s);
            r2 = Reduce16(s + 16);
        }
        double sum = 0;
        sum += r1;
        sum += r2;
        for (int i = np; i < n; i++)
            sum += Fp16.Bf16ToFloat(x[i]) * Fp16.Bf16ToFloat(y[i]);
        return (float)sum;
    }
}

/// <summary>
/// The order llama.cpp's llamafile sgemm (tinyBLAS, AVX-512 build) uses for F32/F16/BF16 weights when a product has at
/// least two tokens, a row length divisible by 16 and a row count divisible by 4: one 16-lane fma accumulator over
/// 16-value steps, then _mm512_reduce_add_ps.
/// </summary>
internal static unsafe class SgemmDot
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void* At<T>(void* p, int i) where T : unmanaged => (byte*)p + (long)i * sizeof(T);

    /// <summary>True when ggml would route an n-token product of this shape through tinyBLAS.</summary>
    public static bool Applies(int n, int rows, int cols) => n >= 2 && cols % 16 == 0 && rows % 4 == 0;

    public static float Dot<TW, TA>(void* x, void* y, int n, int width) where TW : unmanaged where TA : unmanaged
    {
        if (width >= 512)
        {
            Vector512<float> acc = default;
            for (int l = 0; l < n; l += 16)
                acc = Vector512.FusedMultiplyAdd(FloatDot.LoadF32x16<TW>(At<TW>(x, l)), FloatDot.LoadF32x16<TA>(At<TA>(y, l)), acc);
            return FloatDot.Reduce16(acc);
        }
        if (width >= 256)
        {
            Vector256<float> lo = default, hi = default;
            for (int l = 0; l < n; l += 16)
            {
                lo = Vector256.FusedMultiplyAdd(FloatDot.LoadF32x8<TW>(At<TW>(x, l)), FloatDot.LoadF32x8<TA>(At<TA>(y, l)), lo);
                hi = Vector256.FusedMultiplyAdd(FloatDot.LoadF32x8<TW>(At<TW>(x, l + 8)), FloatDot.LoadF32x8<TA>(At<TA>(y, l + 8)), hi);
            }
            return FloatDot.Reduce16(lo, hi);
        }
        float* s = stackalloc float[16];
        for (int k = 0; k < 16; k++) s[k] = 0;
        for (int l = 0; l < n; l += 16)
        {
            if (width >= 128)
            {
                for (int k = 0; k < 16; k += 4)
                    Vector128.FusedMultiplyAdd(FloatDot.LoadF32x4<TW>(At<TW>(x, l + k)), FloatDot.LoadF32x4<TA>(At<TA>(y, l + k)), Vector128.Load(s + k)).Store(s + k);
            }
            else
            {
                for (int k = 0; k < 16; k++)
                    s[k] = MathF.FusedMultiplyAdd(FloatDot.Scalar<TW>(x, l + k), FloatDot.Scalar<TA>(y, l + k), s[k]);
            }
        }
        return FloatDot.Reduce16(s);
    }

    /// <summary>
    /// Four rows (<paramref name="xStride"/> elements apart) against one vector: result[r] = <see cref="Dot{TW, TA}"/>(row r, y)
    /// bit for bit, with four independent FMA chains and one load of each y chunk (attention's K·q and Vᵀ·p).
    /// </summary>
    public static void Dot4Rows<TW, TA>(void* x, long xStride, void* y, int n, int width, float* result) where TW : unmanaged where TA : unmanaged
    {
        if (width < 512)
        {
            for (int r = 0; r < 4; r++)
                result[r] = Dot<TW, TA>((byte*)x + r * xStride * sizeof(TW), y, n, width);
            return;
        }
        byte* x0 = (byte*)x, x1 = x0 + xStride * sizeof(TW), x2 = x1 + xStride * sizeof(TW), x3 = x2 + xStride * sizeof(TW);
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int l = 0; l < n; l += 16)
        {
            Vector512<float> v = FloatDot.LoadF32x16<TA>(At<TA>(y, l));
            a0 = Vector512.FusedMultiplyAdd(FloatDot.LoadF32x16<TW>(At<TW>(x0, l)), v, a0);
            a1 = Vector512.FusedMultiplyAdd(FloatDot.LoadF32x16<TW>(At<TW>(x1, l)), v, a1);
            a2 = Vector512.FusedMultiplyAdd(FloatDot.LoadF32x16<TW>(At<TW>(x2, l)), v, a2);
            a3 = Vector512.FusedMultiplyAdd(FloatDot.LoadF32x16<TW>(At<TW>(x3, l)), v, a3);
        }
        result[0] = FloatDot.Reduce16(a0);
        result[1] = FloatDot.Reduce16(a1);
        result[2] = FloatDot.Reduce16(a2);
        result[3] = FloatDot.Reduce16(a3);
    }

    /// <summary>
    /// Eight tokens at once: each 16-value weight vector is converted once for eight tokens, and eight independent FMA
    /// chains hide the FMA latency that bounds <see cref="Dot4{TW, TA}"/>. Each token's chain is the same as in
    /// <see cref="Dot{TW, TA}"/>, so results are bit-identical. Below 512 bits it runs <see cref="Dot4{TW, TA}"/> twice.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot8<TW, TA>(void* x, void* y, long stride, int n, int width, float* result) where TW : unmanaged where TA : unmanaged
    {
        if (width < 512)
        {
            Dot4<TW, TA>(x, y, stride, n, width, result);
            Dot4<TW, TA>(x, (byte*)y + 4 * stride, stride, n, width, result + 4);
            return;
        }
        byte* y0 = (byte*)y, y1 = y0 + stride, y2 = y0 + 2 * stride, y3 = y0 + 3 * stride;
        byte* y4 = y0 + 4 * stride, y5 = y0 + 5 * stride, y6 = y0 + 6 * stride, y7 = y0 + 7 * stride;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (int l = 0; l < n; l += 16)
        {
            Vector512<float> w = FloatDot.LoadF32x16<TW>(At<TW>(x, l));
            a0 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y0, l)), a0);
            a1 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y1, l)), a1);
            a2 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y2, l)), a2);
            a3 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y3, l)), a3);
            a4 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y4, l)), a4);
            a5 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y5, l)), a5);
            a6 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y6, l)), a6);
            a7 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y7, l)), a7);
        }
        result[0] = FloatDot.Reduce16(a0);
        result[1] = FloatDot.Reduce16(a1);
        result[2] = FloatDot.Reduce16(a2);
        result[3] = FloatDot.Reduce16(a3);
        result[4] = FloatDot.Reduce16(a4);
        result[5] = FloatDot.Reduce16(a5);
        result[6] = FloatDot.Reduce16(a6);
        result[7] = FloatDot.Reduce16(a7);
    }

    /// <summary>Four tokens at once: each 16-value weight vector is loaded (and converted) once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Dot4<TW, TA>(void* x, void* y, long stride, int n, int width, float* result) where TW : unmanaged where TA : unmanaged
    {
        if (width < 512)
        {
            for (int t = 0; t < 4; t++)
                result[t] = Dot<TW, TA>(x, (byte*)y + t * stride, n, width);
            return;
        }
        byte* y0 = (byte*)y, y1 = y0 + stride, y2 = y0 + 2 * stride, y3 = y0 + 3 * stride;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        for (int l = 0; l < n; l += 16)
        {
            Vector512<float> w = FloatDot.LoadF32x16<TW>(At<TW>(x, l));
            a0 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y0, l)), a0);
            a1 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y1, l)), a1);
            a2 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y2, l)), a2);
            a3 = Vector512.FusedMultiplyAdd(w, FloatDot.LoadF32x16<TA>(At<TA>(y3, l)), a3);
        }
        result[0] = FloatDot.Reduce16(a0);
        result[1] = FloatDot.Reduce16(a1);
        result[2] = FloatDot.Reduce16(a2);
        result[3] = FloatDot.Reduce16(a3);
    }
}

internal unsafe struct F32SgemmKernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.F32;
    public static float Dot(byte* w, byte* a, int cols, int width) => SgemmDot.Dot<float, float>(w, a, cols, width);
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        SgemmDot.Dot4<float, float>(w, a, stride, cols, width, result);
}

internal unsafe struct F16SgemmKernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.F16;
    public static float Dot(byte* w, byte* a, int cols, int width) => SgemmDot.Dot<Half, float>(w, a, cols, width);
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        SgemmDot.Dot4<Half, float>(w, a, stride, cols, width, result);
}

internal unsafe struct BF16SgemmKernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.BF16;
    public static float Dot(byte* w, byte* a, int cols, int width) => SgemmDot.Dot<ushort, ushort>(w, a, cols, width);
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        SgemmDot.Dot4<ushort, ushort>(w, a, stride, cols, width, result);
}

internal unsafe struct F32Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        MultiDot.Each<F32Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.F32;
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.Dot64<float>(w, (float*)a, cols, width);
}

internal unsafe struct F16Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        FloatDot.Dot64x4((Half*)w, (float*)a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.F16;
    // Activations arrive as f32 holding f16-rounded values (see ActivationQuantizer.QuantizeForKernel).
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.Dot64<Half>(w, (float*)a, cols, width);
}

internal unsafe struct BF16Kernel : IDotKernel
{
    public static void Dot4(byte* w, byte* a, long stride, int cols, int width, float* result) =>
        MultiDot.Each<BF16Kernel>(w, a, stride, cols, width, result);

    public static GgmlType DotType => GgmlType.BF16;
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.DotBf16((ushort*)w, (ushort*)a, cols, width);
}
