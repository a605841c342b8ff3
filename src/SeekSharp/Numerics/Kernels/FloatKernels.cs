using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

// F32 / F16 / BF16 weights against activations of the same type.
//
// The summation order copies llama.cpp's AVX-512 build of ggml_vec_dot_f32/_f16/_bf16: 64 float lanes (four 16-wide
// accumulators) updated with fma over each 64-value step, folded as (s0+s2)+(s1+s3) and then 16 -> 8 -> 4 -> 2 -> 1 the way
// _mm512_reduce_add_ps does; BF16 uses two 16-wide accumulators over 32-value steps. Leftover values are added as ggml
// does (fused into the float sum for F32, in double for F16/BF16).

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

    /// <summary>F32 and F16: 64-lane fma accumulation over 64-value steps.</summary>
    public static float Dot64<T>(void* x, void* y, int n, int width) where T : unmanaged
    {
        int size = sizeof(T) == 4 ? 4 : 2;
        byte* px = (byte*)x, py = (byte*)y;
        int np = n & ~63;
        float sumf;
        if (width >= 512)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (int i = 0; i < np; i += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + i * size), LoadF32x16<T>(py + i * size), s0);
                s1 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 16) * size), LoadF32x16<T>(py + (i + 16) * size), s1);
                s2 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 32) * size), LoadF32x16<T>(py + (i + 32) * size), s2);
                s3 = Vector512.FusedMultiplyAdd(LoadF32x16<T>(px + (i + 48) * size), LoadF32x16<T>(py + (i + 48) * size), s3);
            }
            sumf = Reduce16((s0 + s2) + (s1 + s3));
        }
        else if (width >= 256)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
            for (int i = 0; i < np; i += 64)
            {
                a0 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + i * size), LoadF32x8<T>(py + i * size), a0);
                a1 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 8) * size), LoadF32x8<T>(py + (i + 8) * size), a1);
                a2 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 16) * size), LoadF32x8<T>(py + (i + 16) * size), a2);
                a3 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 24) * size), LoadF32x8<T>(py + (i + 24) * size), a3);
                a4 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 32) * size), LoadF32x8<T>(py + (i + 32) * size), a4);
                a5 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 40) * size), LoadF32x8<T>(py + (i + 40) * size), a5);
                a6 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 48) * size), LoadF32x8<T>(py + (i + 48) * size), a6);
                a7 = Vector256.FusedMultiplyAdd(LoadF32x8<T>(px + (i + 56) * size), LoadF32x8<T>(py + (i + 56) * size), a7);
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
                        Vector128.FusedMultiplyAdd(LoadF32x4<T>(px + (i + k) * size), LoadF32x4<T>(py + (i + k) * size), Vector128.Load(s + k)).Store(s + k);
            }
            else
            {
                for (int i = 0; i < np; i += 64)
                    for (int k = 0; k < 64; k++)
                        s[k] = MathF.FusedMultiplyAdd(Scalar<T>(x, i + k), Scalar<T>(y, i + k), s[k]);
            }
            sumf = Reduce64(s);
        }

        if (typeof(T) == typeof(float))
        {
            for (int i = np; i < n; i++)
                sumf += ((float*)x)[i] * ((float*)y)[i];
            return sumf;
        }
        double sum = sumf;
        for (int i = np; i < n; i++)
            sum += Scalar<T>(x, i) * Scalar<T>(y, i);
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

internal unsafe struct F32Kernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.F32;
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.Dot64<float>(w, a, cols, width);
}

internal unsafe struct F16Kernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.F16;
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.Dot64<Half>(w, a, cols, width);
}

internal unsafe struct BF16Kernel : IDotKernel
{
    public static GgmlType DotType => GgmlType.BF16;
    public static float Dot(byte* w, byte* a, int cols, int width) => FloatDot.DotBf16((ushort*)w, (ushort*)a, cols, width);
}
