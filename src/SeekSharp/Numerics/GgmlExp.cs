using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SeekSharp.Numerics;

/// <summary>
/// The exponential-based row operations of llama.cpp's AVX-512 CPU build, value for value. ggml evaluates full
/// 16-value chunks of a row with its own vector exp (an ARM-derived polynomial, within ~1.5 ulp of expf but not equal
/// to it) and only the leftover values with the C library's expf; softmax sums each chunk in float (reduce-add order)
/// into a double. Reproducing that, rather than calling expf everywhere, keeps softmax probabilities and SwiGLU
/// outputs bit-identical, which matters once they are re-quantized (f16 probabilities, 8-bit activation blocks) and a
/// 1-ulp difference can move a value across a rounding boundary.
/// </summary>
public static class GgmlExp
{
    private const int Chunk = 16;

    private static readonly float R = BitConverter.Int32BitsToSingle(0x4b400000);    // 0x1.8p23
    private static readonly float InvLn2 = BitConverter.Int32BitsToSingle(0x3fb8aa3b);
    private static readonly float Ln2Lo = BitConverter.Int32BitsToSingle(0x35bfbe8e);
    private static readonly float Ln2Hi = BitConverter.Int32BitsToSingle(0x3f317200);
    private static readonly float C5 = BitConverter.Int32BitsToSingle(0x3c072010);
    private static readonly float C4 = BitConverter.Int32BitsToSingle(0x3d2b9f17);
    private static readonly float C3 = BitConverter.Int32BitsToSingle(0x3e2aaf33);
    private static readonly float C2 = BitConverter.Int32BitsToSingle(0x3efffedb);
    private static readonly float C1 = BitConverter.Int32BitsToSingle(0x3f7ffff6);

    /// <summary>One lane of ggml's AVX-512 vector exp: round x/ln2 to n, reduce, degree-5 polynomial, scale by 2^n;
    /// |n| &gt; 192 flushes to 0 or +inf.</summary>
    public static float VectorExp(float x)
    {
        float z = MathF.FusedMultiplyAdd(x, InvLn2, R);
        float n = z - R;
        if (MathF.Abs(n) > 192f) return n <= 0 ? 0f : float.PositiveInfinity;
        float b = MathF.FusedMultiplyAdd(-n, Ln2Lo, MathF.FusedMultiplyAdd(-n, Ln2Hi, x));
        float u = b * b;
        float j = MathF.FusedMultiplyAdd(
            MathF.FusedMultiplyAdd(MathF.FusedMultiplyAdd(C5, b, C4), u, MathF.FusedMultiplyAdd(C3, b, C2)),
            u,
            MathF.FusedMultiplyAdd(C1, b, 1.0f));
        // scalef: j·2^n with a single rounding (exact in double, then one rounding to float)
        return (float)((double)j * Math.ScaleB(1.0, (int)n));
    }

    /// <summary>
    /// Sixteen lanes of ggml's AVX-512 vector exp at once (vscalefps is the single-rounding j·2^n the scalar form
    /// computes in double); lane for lane identical to <see cref="VectorExp(float)"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> VectorExp(Vector512<float> x)
    {
        Vector512<float> r = Vector512.Create(R);
        Vector512<float> z = Avx512F.FusedMultiplyAdd(x, Vector512.Create(InvLn2), r);
        Vector512<float> n = z - r;
        Vector512<float> b = Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2Lo), Avx512F.FusedMultiplyAddNegated(n, Vector512.Create(Ln2Hi), x));
        Vector512<float> u = b * b;
        Vector512<float> j = Avx512F.FusedMultiplyAdd(
            Avx512F.FusedMultiplyAdd(Avx512F.FusedMultiplyAdd(Vector512.Create(C5), b, Vector512.Create(C4)), u,
                Avx512F.FusedMultiplyAdd(Vector512.Create(C3), b, Vector512.Create(C2))),
            u,
            Avx512F.FusedMultiplyAdd(Vector512.Create(C1), b, Vector512<float>.One));
        Vector512<float> res = Avx512F.Scale(j, n);
        Vector512<float> big = Vector512.GreaterThan(Vector512.Abs(n), Vector512.Create(192f));
        if (big == Vector512<float>.Zero)
            return res;
        Vector512<float> alt = Vector512.ConditionalSelect(Vector512.LessThanOrEqual(n, Vector512<float>.Zero), Vector512<float>.Zero,
            Vector512.Create(float.PositiveInfinity));
        return Vector512.ConditionalSelect(big, alt, res);
    }

    /// <summary>True when the 512-bit forms run (the AVX-512 build's own instructions, so they are the reference).</summary>
    private static bool Wide => KernelSettings.Width >= 512;

    /// <summary>SwiGLU over rows of <paramref name="rowLength"/>: gate ← silu(gate)·up, ggml's order and exp.</summary>
    public static void SwiGluRows(Span<float> gate, ReadOnlySpan<float> up, int rowLength)
    {
        bool wide = Wide;
        for (int r = 0; r + rowLength <= gate.Length; r += rowLength)
        {
            var g = gate.Slice(r, rowLength);
            var u = up.Slice(r, rowLength);
            int full = rowLength / Chunk * Chunk, i = 0;
            if (wide)
            {
                ref float gr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(g);
                ref float ur = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(u);
                for (; i < full; i += Chunk)
                {
                    Vector512<float> x = Vector512.LoadUnsafe(ref gr, (nuint)i);
                    Vector512<float> silu = x / (Vector512<float>.One + VectorExp(Vector512<float>.Zero - x));
                    (silu * Vector512.LoadUnsafe(ref ur, (nuint)i)).StoreUnsafe(ref gr, (nuint)i);
                }
            }
            for (; i < full; i++)
            {
                // lanes of full chunks: x / (1 + vexp(0 - x)) · up
                float x = g[i];
                g[i] = x / (1f + VectorExp(0f - x)) * u[i];
            }
            for (; i < rowLength; i++)
            {
                float x = g[i];
                g[i] = x / (1.0f + MathF.Exp(-x)) * u[i];
            }
        }
    }

    /// <summary>
    /// ggml_soft_max over one row already scaled and masked (masked = -inf): max, exp chunk by chunk (vector exp,
    /// float reduce-add per chunk into a double sum; leftovers with expf), then multiply by (float)(1/sum).
    /// </summary>
    public static void SoftmaxInPlace(Span<float> x)
    {
        float max = float.NegativeInfinity;
        foreach (float v in x) max = MathF.Max(max, v);
        double sum = 0;
        int n = x.Length, i = 0;
        Span<float> lanes = stackalloc float[Chunk];
        if (Wide)
        {
            ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            Vector512<float> vmax = Vector512.Create(max);
            for (; i + Chunk - 1 < n; i += Chunk)
            {
                Vector512<float> e = VectorExp(Vector512.LoadUnsafe(ref xr, (nuint)i) - vmax);
                e.StoreUnsafe(ref xr, (nuint)i);
                // _mm512_reduce_add_ps: halves, then quarters, then (0+2)+(1+3)
                Vector256<float> t8 = e.GetLower() + e.GetUpper();
                Vector128<float> t4 = t8.GetLower() + t8.GetUpper();
                sum += (t4[0] + t4[2]) + (t4[1] + t4[3]);
            }
        }
        for (; i + Chunk - 1 < n; i += Chunk)
        {
            for (int k = 0; k < Chunk; k++)
            {
                float e = VectorExp(x[i + k] - max);
                x[i + k] = e;
                lanes[k] = e;
            }
            sum += ReduceAdd16(lanes);
        }
        for (; i < n; i++)
        {
            float e = MathF.Exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int k = 0; k < n; k++) x[k] *= inv;
    }

    /// <summary>_mm512_reduce_add_ps order.</summary>
    private static float ReduceAdd16(ReadOnlySpan<float> v)
    {
        Span<float> t = stackalloc float[8];
        for (int k = 0; k < 8; k++) t[k] = v[k + 8] + v[k];
        float t0 = t[4] + t[0], t1 = t[5] + t[1], t2 = t[6] + t[2], t3 = t[7] + t[3];
        return (t0 + t2) + (t1 + t3);
    }
}
