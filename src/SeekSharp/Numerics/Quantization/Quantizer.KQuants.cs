using System.Buffers.Binary;
using static SeekSharp.Numerics.Quantization.BlockLayout;
using static SeekSharp.Numerics.Quantization.QuantSearch;

namespace SeekSharp.Numerics.Quantization;

// K-quant reference quantizers (256-value super-blocks with packed sub-block scales).
public static partial class Quantizer
{
    private static void Q2_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        Span<byte> L = stackalloc byte[QK_K];
        Span<byte> laux = stackalloc byte[16];
        Span<float> weights = stackalloc float[16];
        Span<float> mins = stackalloc float[QK_K / 16];
        Span<float> scales = stackalloc float[QK_K / 16];
        const float q4scale = 15f;

        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q2_KSize, Q2_KSize);
            Span<byte> ysc = y.Slice(Q2_KScales, QK_K / 16);

            float maxScale = 0, maxMin = 0;
            for (int j = 0; j < QK_K / 16; j++)
            {
                ReadOnlySpan<float> xs = x.Slice(16 * j, 16);
                for (int l = 0; l < 16; l++)
                    weights[l] = MathF.Abs(xs[l]);
                scales[j] = MakeQkx2Quants(16, 3, xs, weights, L.Slice(16 * j, 16), out mins[j], laux, -0.5f, 0.1f, 15, true);
                if (scales[j] > maxScale) maxScale = scales[j];
                if (mins[j] > maxMin) maxMin = mins[j];
            }

            if (maxScale > 0)
            {
                float iscale = q4scale / maxScale;
                for (int j = 0; j < QK_K / 16; j++)
                    ysc[j] = (byte)NearestInt(iscale * scales[j]);
                WriteHalf(y, Q2_KD, maxScale / q4scale);
            }
            else
            {
                ysc.Clear();
                WriteHalf(y, Q2_KD, 0f);
            }
            if (maxMin > 0)
            {
                float iscale = q4scale / maxMin;
                for (int j = 0; j < QK_K / 16; j++)
                    ysc[j] |= (byte)(NearestInt(iscale * mins[j]) << 4);
                WriteHalf(y, Q2_KDmin, maxMin / q4scale);
            }
            else
            {
                WriteHalf(y, Q2_KDmin, 0f);
            }

            float dAll = ReadHalf(y, Q2_KD), mAll = ReadHalf(y, Q2_KDmin);
            for (int j = 0; j < QK_K / 16; j++)
            {
                float d = dAll * (ysc[j] & 0xF);
                if (d == 0)
                    continue;
                float dm = mAll * (ysc[j] >> 4);
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt((x[16 * j + ii] + dm) / d);
                    L[16 * j + ii] = (byte)Math.Max(0, Math.Min(3, l));
                }
            }

            PackTwoBit(L, y.Slice(Q2_KQs, QK_K / 4));
        }
    }

    /// <summary>Packs 256 two-bit values: byte l of each 32-byte run holds values l, l+32, l+64, l+96 of a 128 chunk.</summary>
    private static void PackTwoBit(ReadOnlySpan<byte> L, Span<byte> qs)
    {
        for (int j = 0; j < QK_K; j += 128)
        {
            for (int l = 0; l < 32; l++)
                qs[j / 4 + l] = (byte)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
        }
    }

    private static void Q3_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        Span<sbyte> L = stackalloc sbyte[QK_K];
        Span<float> scales = stackalloc float[QK_K / 16];

        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q3_KSize, Q3_KSize);
            Span<byte> ysc = y.Slice(Q3_KScales, 12);

            float maxScale = 0, amax = 0;
            for (int j = 0; j < QK_K / 16; j++)
            {
                scales[j] = MakeQ3Quants(16, 4, x.Slice(16 * j, 16), L.Slice(16 * j, 16), true);
                float scale = MathF.Abs(scales[j]);
                if (scale > amax)
                {
                    amax = scale;
                    maxScale = scales[j];
                }
            }

            ysc.Clear();
            if (maxScale != 0)
            {
                float iscale = -32f / maxScale;
                for (int j = 0; j < QK_K / 16; j++)
                {
                    int l = (sbyte)NearestInt(iscale * scales[j]);
                    l = Math.Max(-32, Math.Min(31, l)) + 32;
                    if (j < 8)
                        ysc[j] = (byte)(l & 0xF);
                    else
                        ysc[j - 8] |= (byte)((l & 0xF) << 4);
                    l >>= 4;
                    ysc[j % 4 + 8] |= (byte)(l << (2 * (j / 4)));
                }
                WriteHalf(y, Q3_KD, 1 / iscale);
            }
            else
            {
                WriteHalf(y, Q3_KD, 0f);
            }

            float dAll = ReadHalf(y, Q3_KD);
            for (int j = 0; j < QK_K / 16; j++)
            {
                int low = j < 8 ? ysc[j] & 0xF : ysc[j - 8] >> 4;
                int sc = (sbyte)((low | (((ysc[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
                float d = dAll * sc;
                if (d == 0)
                    continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    L[16 * j + ii] = (sbyte)(Math.Max(-4, Math.Min(3, l)) + 4);
                }
            }

            // The high (third) bit of value j goes to bit j/32 of hmask[j % 32].
            Span<byte> hmask = y.Slice(Q3_KHmask, QK_K / 8);
            hmask.Clear();
            int m = 0;
            byte hm = 1;
            for (int j = 0; j < QK_K; j++)
            {
                if (L[j] > 3)
                {
                    hmask[m] |= hm;
                    L[j] -= 4;
                }
                if (++m == QK_K / 8)
                {
                    m = 0;
                    hm <<= 1;
                }
            }
            Span<byte> qs = y.Slice(Q3_KQs, QK_K / 4);
            for (int j = 0; j < QK_K; j += 128)
            {
                for (int l = 0; l < 32; l++)
                    qs[j / 4 + l] = (byte)((byte)L[j + l] | ((byte)L[j + l + 32] << 2) | ((byte)L[j + l + 64] << 4) | ((byte)L[j + l + 96] << 6));
            }
        }
    }

    /// <summary>Stores 8 six-bit (scale, min) pairs in the 12-byte Q4_K/Q5_K layout.</summary>
    private static void PackScaleMinK4(ReadOnlySpan<float> scales, ReadOnlySpan<float> mins, float invScale, float invMin, Span<byte> ysc)
    {
        for (int j = 0; j < QK_K / 32; j++)
        {
            // ggml stores the rounded value in a uint8_t before clamping, so values ≥ 256 wrap first.
            byte ls = (byte)NearestInt(invScale * scales[j]);
            byte lm = (byte)NearestInt(invMin * mins[j]);
            ls = Math.Min((byte)63, ls);
            lm = Math.Min((byte)63, lm);
            if (j < 4)
            {
                ysc[j] = ls;
                ysc[j + 4] = lm;
            }
            else
            {
                ysc[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                ysc[j - 4] |= (byte)((ls >> 4) << 6);
                ysc[j] |= (byte)((lm >> 4) << 6);
            }
        }
    }

    /// <summary>Scale search shared by Q4_K and Q5_K: per 32-value sub-block weights av|x| + |x_i|, then 6-bit scales.</summary>
    private static void QuantizeScaleMinK(ReadOnlySpan<float> x, Span<byte> y, Span<byte> L, int nmax, float rmin, float rdelta, int nstep,
        int dOffset, int dminOffset, int scalesOffset)
    {
        Span<byte> laux = stackalloc byte[32];
        Span<float> weights = stackalloc float[32];
        Span<float> mins = stackalloc float[QK_K / 32];
        Span<float> scales = stackalloc float[QK_K / 32];

        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < QK_K / 32; j++)
        {
            ReadOnlySpan<float> xs = x.Slice(32 * j, 32);
            float sumX2 = 0;
            for (int l = 0; l < 32; l++)
                sumX2 += xs[l] * xs[l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++)
                weights[l] = avX + MathF.Abs(xs[l]);
            scales[j] = MakeQkx2Quants(32, nmax, xs, weights, L.Slice(32 * j, 32), out mins[j], laux, rmin, rdelta, nstep, false);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }

        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        Span<byte> ysc = y.Slice(scalesOffset, 12);
        PackScaleMinK4(scales, mins, invScale, invMin, ysc);
        WriteHalf(y, dOffset, maxScale / 63f);
        WriteHalf(y, dminOffset, maxMin / 63f);

        float dAll = ReadHalf(y, dOffset), mAll = ReadHalf(y, dminOffset);
        ref byte scRef = ref ysc[0];
        for (int j = 0; j < QK_K / 32; j++)
        {
            Dequantizer.ScaleMinK4(j, ref scRef, out int sc, out int m);
            float d = dAll * sc;
            if (d == 0)
                continue;
            float dm = mAll * m;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(nmax, l));
            }
        }
    }

    private static void Q4_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        Span<byte> L = stackalloc byte[QK_K];
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q4_KSize, Q4_KSize);
            QuantizeScaleMinK(x, y, L, 15, -1f, 0.1f, 20, Q4_KD, Q4_KDmin, Q4_KScales);
            Span<byte> q = y.Slice(Q4_KQs, QK_K / 2);
            for (int j = 0; j < QK_K; j += 64)
            {
                for (int l = 0; l < 32; l++)
                    q[j / 2 + l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
            }
        }
    }

    private static void Q5_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        Span<byte> L = stackalloc byte[QK_K];
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q5_KSize, Q5_KSize);
            QuantizeScaleMinK(x, y, L, 31, -0.5f, 0.1f, 15, Q5_KD, Q5_KDmin, Q5_KScales);

            Span<byte> qh = y.Slice(Q5_KQh, QK_K / 8);
            Span<byte> ql = y.Slice(Q5_KQs, QK_K / 2);
            qh.Clear();
            byte m1 = 1, m2 = 2;
            for (int n = 0; n < QK_K; n += 64)
            {
                for (int j = 0; j < 32; j++)
                {
                    int l1 = L[n + j];
                    if (l1 > 15)
                    {
                        l1 -= 16;
                        qh[j] |= m1;
                    }
                    int l2 = L[n + j + 32];
                    if (l2 > 15)
                    {
                        l2 -= 16;
                        qh[j] |= m2;
                    }
                    ql[n / 2 + j] = (byte)(l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
            }
        }
    }

    private static void Q6_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        Span<sbyte> L = stackalloc sbyte[QK_K];
        Span<float> scales = stackalloc float[QK_K / 16];

        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q6_KSize, Q6_KSize);

            float maxScale = 0, maxAbsScale = 0;
            for (int ib = 0; ib < QK_K / 16; ib++)
            {
                float scale = MakeQxQuants(16, 32, x.Slice(16 * ib, 16), L.Slice(16 * ib, 16), 1);
                scales[ib] = scale;
                float absScale = MathF.Abs(scale);
                if (absScale > maxAbsScale)
                {
                    maxAbsScale = absScale;
                    maxScale = scale;
                }
            }

            if (maxAbsScale < GroupMaxEps)
            {
                y.Clear();
                continue;
            }

            float iscale = -128f / maxScale;
            WriteHalf(y, Q6_KD, 1 / iscale);
            Span<byte> ysc = y.Slice(Q6_KScales, QK_K / 16);
            for (int ib = 0; ib < QK_K / 16; ib++)
                ysc[ib] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * scales[ib]));

            float dAll = ReadHalf(y, Q6_KD);
            for (int j = 0; j < QK_K / 16; j++)
            {
                float d = dAll * (sbyte)ysc[j];
                if (d == 0)
                    continue;
                for (int ii = 0; ii < 16; ii++)
                {
                    int l = NearestInt(x[16 * j + ii] / d);
                    L[16 * j + ii] = (sbyte)(Math.Max(-32, Math.Min(31, l)) + 32);
                }
            }

            Span<byte> ql = y.Slice(Q6_KQl, QK_K / 2);
            Span<byte> qh = y.Slice(Q6_KQh, QK_K / 4);
            for (int j = 0; j < QK_K; j += 128)
            {
                for (int l = 0; l < 32; l++)
                {
                    int q1 = L[j + l] & 0xF, q2 = L[j + l + 32] & 0xF, q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
                    ql[j / 2 + l] = (byte)(q1 | (q3 << 4));
                    ql[j / 2 + l + 32] = (byte)(q2 | (q4 << 4));
                    qh[j / 4 + l] = (byte)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) | ((L[j + l + 96] >> 4) << 6));
                }
            }
        }
    }

    private static void Q8_K(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK_K, QK_K);
            Span<byte> y = dst.Slice(i * Q8_KSize, Q8_KSize);

            float max = 0, amax = 0;
            for (int j = 0; j < QK_K; j++)
            {
                float ax = MathF.Abs(x[j]);
                if (ax > amax)
                {
                    amax = ax;
                    max = x[j];
                }
            }
            if (amax == 0)
            {
                // ggml leaves bsums untouched here; zero is what they would sum to.
                y.Clear();
                continue;
            }
            float iscale = -127f / max;
            Span<byte> qs = y.Slice(Q8_KQs, QK_K);
            for (int j = 0; j < QK_K; j++)
                qs[j] = (byte)(sbyte)Math.Min(127, NearestInt(iscale * x[j]));
            for (int j = 0; j < QK_K / 16; j++)
            {
                int sum = 0;
                for (int ii = 0; ii < 16; ii++)
                    sum += (sbyte)qs[j * 16 + ii];
                BinaryPrimitives.WriteInt16LittleEndian(y[(Q8_KBsums + 2 * j)..], (short)sum);
            }
            BinaryPrimitives.WriteSingleLittleEndian(y[Q8_KD..], 1 / iscale);
        }
    }
}
