using System.Buffers.Binary;
using SeekSharp.Gguf;

namespace SeekSharp.Tests.Kernels;

/// <summary>
/// Test-side, deliberately plain decoders of ggml's block layouts and random-but-valid weight generators. Written
/// straight from the format descriptions, independent of the library's kernels.
/// </summary>
internal static class ReferenceQuant
{
    public static readonly GgmlType[] WeightTypes =
    [
        GgmlType.F32, GgmlType.F16, GgmlType.BF16,
        GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q8_0,
        GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    ];

    private static float H(byte[] b, int o) => (float)BinaryPrimitives.ReadHalfLittleEndian(b.AsSpan(o));

    private static void PutHalf(byte[] b, int o, float v) => BinaryPrimitives.WriteHalfLittleEndian(b.AsSpan(o), (Half)v);

    /// <summary>Offsets of the f16 scale fields inside one block, which must hold finite values.</summary>
    private static int[] HalfFields(GgmlType t) => t switch
    {
        GgmlType.Q4_0 or GgmlType.Q5_0 or GgmlType.Q8_0 => [0],
        GgmlType.Q4_1 or GgmlType.Q5_1 => [0, 2],
        GgmlType.Q2_K => [80, 82],
        GgmlType.Q3_K => [108],
        GgmlType.Q4_K or GgmlType.Q5_K => [0, 2],
        GgmlType.Q6_K => [208],
        _ => [],
    };

    /// <summary>Random rows of a weight type: random bytes with small finite scales (and finite float values).</summary>
    public static byte[] RandomWeights(GgmlType t, int rows, int cols, Random rng)
    {
        long rowBytes = GgmlTypeInfo.RowSize(t, cols);
        var data = new byte[rowBytes * rows];
        rng.NextBytes(data);
        switch (t)
        {
            case GgmlType.F32:
                for (int i = 0; i < data.Length / 4; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), (float)(rng.NextDouble() * 2 - 1));
                return data;
            case GgmlType.F16:
                for (int i = 0; i < data.Length / 2; i++)
                    PutHalf(data, 2 * i, (float)(rng.NextDouble() * 2 - 1));
                return data;
            case GgmlType.BF16:
                for (int i = 0; i < data.Length / 2; i++)
                {
                    uint bits = BitConverter.SingleToUInt32Bits((float)(rng.NextDouble() * 2 - 1));
                    BinaryPrimitives.WriteUInt16LittleEndian(data.AsSpan(2 * i), (ushort)(bits >> 16));
                }
                return data;
        }
        int blockBytes = GgmlTypeInfo.TypeSize(t);
        for (int b = 0; b < data.Length / blockBytes; b++)
            foreach (int f in HalfFields(t))
                PutHalf(data, b * blockBytes + f, (float)((rng.NextDouble() * 2 - 1) * 0.05));
        return data;
    }

    /// <summary>Random activations: mostly in [-1, 1], a few larger outliers, some exact zeros.</summary>
    public static float[] RandomActivations(int count, Random rng)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++)
        {
            double r = rng.NextDouble();
            x[i] = r < 0.02 ? 0f : r < 0.05 ? (float)((rng.NextDouble() * 2 - 1) * 20) : (float)(rng.NextDouble() * 2 - 1);
        }
        return x;
    }

    /// <summary>Dequantizes one row (f64 values) from the block layout.</summary>
    public static double[] Dequantize(GgmlType t, byte[] d, int o, int cols)
    {
        var y = new double[cols];
        switch (t)
        {
            case GgmlType.F32:
                for (int i = 0; i < cols; i++) y[i] = BinaryPrimitives.ReadSingleLittleEndian(d.AsSpan(o + 4 * i));
                return y;
            case GgmlType.F16:
                for (int i = 0; i < cols; i++) y[i] = H(d, o + 2 * i);
                return y;
            case GgmlType.BF16:
                for (int i = 0; i < cols; i++) y[i] = BitConverter.UInt32BitsToSingle((uint)BinaryPrimitives.ReadUInt16LittleEndian(d.AsSpan(o + 2 * i)) << 16);
                return y;
        }
        int bb = GgmlTypeInfo.TypeSize(t), bs = GgmlTypeInfo.BlockSize(t);
        for (int b = 0; b < cols / bs; b++)
        {
            int p = o + b * bb;
            Span<double> v = y.AsSpan(b * bs, bs);
            switch (t)
            {
                case GgmlType.Q4_0:
                case GgmlType.Q4_1:
                case GgmlType.Q5_0:
                case GgmlType.Q5_1:
                {
                    bool one = t is GgmlType.Q4_1 or GgmlType.Q5_1, five = t is GgmlType.Q5_0 or GgmlType.Q5_1;
                    double dd = H(d, p), m = one ? H(d, p + 2) : 0;
                    int qhOff = p + (one ? 4 : 2);
                    uint qh = five ? BinaryPrimitives.ReadUInt32LittleEndian(d.AsSpan(qhOff)) : 0;
                    int qs = qhOff + (five ? 4 : 0);
                    for (int j = 0; j < 32; j++)
                    {
                        int q = j < 16 ? d[qs + j] & 15 : d[qs + j - 16] >> 4;
                        if (five) q |= (int)((qh >> j) & 1) << 4;
                        v[j] = one ? dd * q + m : dd * (q - (five ? 16 : 8));
                    }
                    break;
                }
                case GgmlType.Q8_0:
                    for (int j = 0; j < 32; j++) v[j] = (double)H(d, p) * (sbyte)d[p + 2 + j];
                    break;
                case GgmlType.Q2_K:
                {
                    double dd = H(d, p + 80), dmin = H(d, p + 82);
                    for (int j = 0; j < 256; j++)
                    {
                        int sc = d[p + j / 16];
                        int q = (d[p + 16 + 32 * (j / 128) + j % 32] >> (2 * (j % 128 / 32))) & 3;
                        v[j] = dd * (sc & 15) * q - dmin * (sc >> 4);
                    }
                    break;
                }
                case GgmlType.Q3_K:
                {
                    double dd = H(d, p + 108);
                    for (int j = 0; j < 256; j++)
                    {
                        int g = j / 16;
                        int low = g < 8 ? d[p + 96 + g] & 15 : d[p + 96 + g - 8] >> 4;
                        int high = (d[p + 96 + 8 + g % 4] >> (2 * (g / 4))) & 3;
                        int sc = (low | high << 4) - 32;
                        int shift = 2 * (j % 128 / 32);
                        int q = (d[p + 32 + 32 * (j / 128) + j % 32] >> shift) & 3;
                        bool hbit = ((d[p + j % 32] >> (j / 32)) & 1) != 0;
                        v[j] = dd * sc * (q - (hbit ? 0 : 4));
                    }
                    break;
                }
                case GgmlType.Q4_K:
                case GgmlType.Q5_K:
                {
                    bool five = t == GgmlType.Q5_K;
                    double dd = H(d, p), dmin = H(d, p + 2);
                    int qs = p + (five ? 48 : 16);
                    for (int j = 0; j < 256; j++)
                    {
                        int sb = j / 32;
                        (int sc, int m) = ScaleMinK4(d, p + 4, sb);
                        int q = (d[qs + 32 * (j / 64) + j % 32] >> (4 * (sb % 2))) & 15;
                        if (five) q += ((d[p + 16 + j % 32] >> sb) & 1) * 16;
                        v[j] = dd * sc * q - dmin * m;
                    }
                    break;
                }
                case GgmlType.Q6_K:
                {
                    double dd = H(d, p + 208);
                    for (int j = 0; j < 256; j++)
                    {
                        int half = j / 128, l = j % 32, k = j % 128 / 32;
                        int ql = d[p + 64 * half + l + (k % 2 == 1 ? 32 : 0)];
                        int low = k < 2 ? ql & 15 : ql >> 4;
                        int high = (d[p + 128 + 32 * half + l] >> (2 * k)) & 3;
                        v[j] = dd * (sbyte)d[p + 192 + j / 16] * ((low | high << 4) - 32);
                    }
                    break;
                }
                default:
                    throw new NotSupportedException(t.ToString());
            }
        }
        return y;
    }

    private static (int, int) ScaleMinK4(byte[] d, int s, int j) => j < 4
        ? (d[s + j] & 63, d[s + j + 4] & 63)
        : ((d[s + j + 4] & 0xF) | ((d[s + j - 4] >> 6) << 4), (d[s + j + 4] >> 4) | ((d[s + j] >> 6) << 4));

    /// <summary>Dequantizes an activation row in its vec_dot format.</summary>
    public static double[] DequantizeActivations(GgmlType t, byte[] a, int cols)
    {
        var y = new double[cols];
        switch (t)
        {
            case GgmlType.F32: case GgmlType.F16: case GgmlType.BF16:
                return Dequantize(t, a, 0, cols);
            case GgmlType.Q8_0:
            case GgmlType.Q8_1:
            {
                int bb = t == GgmlType.Q8_0 ? 34 : 36, qs = t == GgmlType.Q8_0 ? 2 : 4;
                for (int j = 0; j < cols; j++)
                    y[j] = (double)H(a, j / 32 * bb) * (sbyte)a[j / 32 * bb + qs + j % 32];
                return y;
            }
            case GgmlType.Q8_K:
                for (int j = 0; j < cols; j++)
                    y[j] = (double)BinaryPrimitives.ReadSingleLittleEndian(a.AsSpan(j / 256 * 292)) * (sbyte)a[j / 256 * 292 + 4 + j % 256];
                return y;
        }
        throw new NotSupportedException(t.ToString());
    }

    /// <summary>
    /// The exact value the kernels approximate, and the sum of absolute terms (the scale for tolerances). For Q4_1/Q5_1
    /// the min term uses the activation block's stored f16 sum s (what ggml multiplies), not the exact sum.
    /// </summary>
    public static (double Value, double Magnitude) Dot(GgmlType wt, byte[] w, int wOff, GgmlType at, byte[] a, int cols)
    {
        double[] wv = Dequantize(wt, w, wOff, cols);
        double[] av = DequantizeActivations(at, a, cols);
        double sum = 0, mag = 0;
        if (wt is GgmlType.Q4_1 or GgmlType.Q5_1)
        {
            int bb = GgmlTypeInfo.TypeSize(wt);
            for (int b = 0; b < cols / 32; b++)
            {
                double m = H(w, wOff + b * bb + 2), s = H(a, b * 36 + 2);
                for (int j = 32 * b; j < 32 * b + 32; j++)
                {
                    double t = (wv[j] - m) * av[j];
                    sum += t;
                    mag += Math.Abs(t);
                }
                sum += m * s;
                mag += Math.Abs(m * s);
            }
            return (sum, mag);
        }
        for (int j = 0; j < cols; j++)
        {
            sum += wv[j] * av[j];
            mag += Math.Abs(wv[j] * av[j]);
        }
        return (sum, mag);
    }
}
