using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using SeekSharp.Gguf;

namespace SeekSharp.Numerics;

/// <summary>
/// Converts f32 activations into the "vec_dot type" a weight type is multiplied with, byte-for-byte as llama.cpp's
/// x86 CPU backend does (quantize_row_q8_0 / q8_1 with AVX, quantize_row_q8_K, fp32 -> fp16 / bf16).
/// </summary>
/// <remarks>
/// Q8_0 and Q8_1 follow ggml's AVX code rather than its scalar reference: the inverse scale is 127/amax (not 1/d) and
/// values round half to even. Q8_K follows quantize_row_q8_K_ref: scale -127/max where max is the first element of
/// largest magnitude (so its sign matters), round half to even, clamp at 127, per-16 sums in bsums. The vector and scalar
/// paths below produce identical bytes.
/// </remarks>
internal static unsafe class ActivationQuantizer
{
    public const int Q8_0Bytes = 34, Q8_1Bytes = 36, Q8_KBytes = 292;

    /// <summary>Bytes one activation row of <paramref name="cols"/> values takes in <paramref name="dotType"/>.</summary>
    public static long RowBytes(GgmlType dotType, int cols) => GgmlTypeInfo.RowSize(dotType, cols);

    /// <summary>
    /// Bytes one activation row takes in the layout the kernels read: the ggml format, except that F16 activations are
    /// kept as f32 values rounded to f16 (exact), so the F16 kernel converts only its weights.
    /// </summary>
    public static long KernelRowBytes(GgmlType dotType, int cols) =>
        dotType == GgmlType.F16 ? (long)cols * sizeof(float) : GgmlTypeInfo.RowSize(dotType, cols);

    /// <summary>Converts one activation row into the layout the kernels read (see <see cref="KernelRowBytes"/>).</summary>
    public static void QuantizeForKernel(GgmlType dotType, float* x, byte* dst, int cols, int width)
    {
        if (dotType != GgmlType.F16)
        {
            Quantize(dotType, x, dst, cols, width);
            return;
        }
        float* o = (float*)dst;
        for (int i = 0; i < cols; i++)
            o[i] = (float)(Half)x[i]; // round to nearest even, like F16C, then back exactly
    }

    /// <summary>Converts one activation row into ggml's format for <paramref name="dotType"/>.</summary>
    public static void Quantize(GgmlType dotType, float* x, byte* dst, int cols, int width)
    {
        switch (dotType)
        {
            case GgmlType.Q8_0: QuantizeQ8_0(x, dst, cols, width); break;
            case GgmlType.Q8_1: QuantizeQ8_1(x, dst, cols, width); break;
            case GgmlType.Q8_K: QuantizeQ8_K(x, dst, cols, width); break;
            case GgmlType.F16:
                TensorPrimitives.ConvertToHalf(new ReadOnlySpan<float>(x, cols), new Span<Half>(dst, cols));
                break;
            case GgmlType.BF16:
            {
                ushort* o = (ushort*)dst;
                for (int i = 0; i < cols; i++)
                    o[i] = Fp16.ToBf16(x[i]);
                break;
            }
            case GgmlType.F32:
                Buffer.MemoryCopy(x, dst, (long)cols * 4, (long)cols * 4);
                break;
            default:
                throw new NotSupportedException($"no activation format {dotType}");
        }
    }

    public static void QuantizeQ8_0(float* x, byte* y, int cols, int width)
    {
        for (int i = 0; i < cols / 32; i++, x += 32, y += Q8_0Bytes)
            QuantizeBlock32(x, y + 2, out float d, out _, width, needSum: false);
    }

    public static void QuantizeQ8_1(float* x, byte* y, int cols, int width)
    {
        for (int i = 0; i < cols / 32; i++, x += 32, y += Q8_1Bytes)
        {
            QuantizeBlock32(x, y + 4, out float d, out int sum, width, needSum: true);
            Unsafe.WriteUnaligned(y, Fp16.FromFloat(d));
            Unsafe.WriteUnaligned(y + 2, Fp16.FromFloat(d * sum));
        }
    }

    /// <summary>One 32-value block: writes 32 int8 at <paramref name="qs"/> and the f16 scale just before it (Q8_0 layout).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void QuantizeBlock32(float* x, byte* qs, out float d, out int sum, int width, bool needSum)
    {
        float amax;
        if (width >= 256)
        {
            Vector256<float> m = Vector256.Max(Vector256.Max(Vector256.Abs(Vector256.Load(x)), Vector256.Abs(Vector256.Load(x + 8))),
                                               Vector256.Max(Vector256.Abs(Vector256.Load(x + 16)), Vector256.Abs(Vector256.Load(x + 24))));
            Vector128<float> h = Vector128.Max(m.GetLower(), m.GetUpper());
            amax = MathF.Max(MathF.Max(h[0], h[1]), MathF.Max(h[2], h[3]));
        }
        else if (width >= 128)
        {
            Vector128<float> m = Vector128.Abs(Vector128.Load(x));
            for (int j = 4; j < 32; j += 4)
                m = Vector128.Max(m, Vector128.Abs(Vector128.Load(x + j)));
            amax = MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
        }
        else
        {
            amax = 0;
            for (int j = 0; j < 32; j++)
                amax = MathF.Max(amax, MathF.Abs(x[j]));
        }

        d = amax / 127f;
        // The f16 scale sits right before the quants in both Q8_0 and Q8_1 (for Q8_1 the caller overwrites it).
        Unsafe.WriteUnaligned(qs - (needSum ? 4 : 2), Fp16.FromFloat(d));
        float id = amax != 0f ? 127f / amax : 0f;

        if (width >= 256)
        {
            Vector256<float> vid = Vector256.Create(id);
            Vector256<int> i0 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x) * vid));
            Vector256<int> i1 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 8) * vid));
            Vector256<int> i2 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 16) * vid));
            Vector256<int> i3 = Vector256.ConvertToInt32(Vector256.Round(Vector256.Load(x + 24) * vid));
            sum = needSum ? Vector256.Sum((i0 + i1) + (i2 + i3)) : 0;
            Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store((sbyte*)qs);
        }
        else if (width >= 128)
        {
            Vector128<float> vid = Vector128.Create(id);
            Vector128<int> s = Vector128<int>.Zero;
            for (int j = 0; j < 32; j += 16)
            {
                Vector128<int> i0 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j) * vid));
                Vector128<int> i1 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 4) * vid));
                Vector128<int> i2 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 8) * vid));
                Vector128<int> i3 = Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 12) * vid));
                s += (i0 + i1) + (i2 + i3);
                Vector128.Narrow(Vector128.Narrow(i0, i1), Vector128.Narrow(i2, i3)).Store((sbyte*)qs + j);
            }
            sum = needSum ? Vector128.Sum(s) : 0;
        }
        else
        {
            int s = 0;
            for (int j = 0; j < 32; j++)
            {
                int q = (int)MathF.Round(x[j] * id); // MathF.Round rounds half to even, like _mm256_round_ps
                qs[j] = (byte)(sbyte)q;
                s += q;
            }
            sum = s;
        }
    }

    public static void QuantizeQ8_K(float* x, byte* y, int cols, int width)
    {
        for (int i = 0; i < cols / 256; i++, x += 256, y += Q8_KBytes)
            QuantizeQ8_KBlock(x, y, width);
    }

    private static void QuantizeQ8_KBlock(float* x, byte* y, int width)
    {
        sbyte* qs = (sbyte*)(y + 4);
        short* bsums = (short*)(y + 260);

        float amax = 0;
        if (width >= 128)
        {
            Vector128<float> m = Vector128<float>.Zero;
            for (int j = 0; j < 256; j += 4)
                m = Vector128.Max(m, Vector128.Abs(Vector128.Load(x + j)));
            amax = MathF.Max(MathF.Max(m[0], m[1]), MathF.Max(m[2], m[3]));
        }
        else
        {
            for (int j = 0; j < 256; j++)
                amax = MathF.Max(amax, MathF.Abs(x[j]));
        }
        if (amax == 0f)
        {
            new Span<byte>(y, Q8_KBytes).Clear();
            return;
        }
        // The first element of largest magnitude fixes the sign of the scale (ggml keeps the first on ties).
        float max = 0;
        for (int j = 0; j < 256; j++)
        {
            if (MathF.Abs(x[j]) == amax)
            {
                max = x[j];
                break;
            }
        }
        float iscale = -127f / max;

        if (width >= 128)
        {
            Vector128<float> vs = Vector128.Create(iscale);
            Vector128<int> cap = Vector128.Create(127);
            for (int j = 0; j < 256; j += 16)
            {
                Vector128<int> i0 = Vector128.Min(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j) * vs)), cap);
                Vector128<int> i1 = Vector128.Min(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 4) * vs)), cap);
                Vector128<int> i2 = Vector128.Min(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 8) * vs)), cap);
                Vector128<int> i3 = Vector128.Min(Vector128.ConvertToInt32(Vector128.Round(Vector128.Load(x + j + 12) * vs)), cap);
                bsums[j / 16] = (short)Vector128.Sum((i0 + i1) + (i2 + i3));
                Vector128.Narrow(Vector128.Narrow(i0, i1), Vector128.Narrow(i2, i3)).Store(qs + j);
            }
        }
        else
        {
            for (int j = 0; j < 256; j += 16)
            {
                int s = 0;
                for (int k = j; k < j + 16; k++)
                {
                    int v = Math.Min(127, (int)MathF.Round(iscale * x[k]));
                    qs[k] = (sbyte)v;
                    s += v;
                }
                bsums[j / 16] = (short)s;
            }
        }
        Unsafe.WriteUnaligned(y, 1f / iscale);
    }
}
