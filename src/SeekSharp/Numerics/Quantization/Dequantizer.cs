using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using static SeekSharp.Numerics.Quantization.BlockLayout;

namespace SeekSharp.Numerics.Quantization;

/// <summary>
/// Decodes rows of ggml tensor data to floats, bit-for-bit like ggml's dequantize_row_* functions.
/// </summary>
/// <remarks>
/// Every value is produced by the same float operations, in the same order, as ggml's portable C code (which is
/// compiled without FMA contraction), e.g. Q4_K forms d·scale and dmin·min as floats first and then computes
/// (d·scale)·q − dmin·min. The vector paths reorganise only integer unpacking, never the float arithmetic, so every
/// path gives identical bits, NaN payloads included.
/// </remarks>
public static partial class Dequantizer
{
    /// <summary>True for the types <see cref="DequantizeRow(GgmlType, ReadOnlySpan{byte}, Span{float})"/> decodes.</summary>
    public static bool CanDequantize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => true,
        _ => false,
    };

    /// <summary>
    /// Decodes <c>dst.Length</c> values (a whole number of blocks) from <paramref name="src"/>, which must hold at
    /// least <c>GgmlTypeInfo.RowSize(type, dst.Length)</c> bytes.
    /// </summary>
    public static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst) =>
        DequantizeRow(type, src, dst, QuantSimd.Current);

    internal static void DequantizeRow(GgmlType type, ReadOnlySpan<byte> src, Span<float> dst, QuantSimdLevel level)
    {
        if (!CanDequantize(type))
            throw new NotSupportedException($"cannot dequantize ggml type {type}");
        int blockSize = GgmlTypeInfo.BlockSize(type);
        if (dst.Length % blockSize != 0)
            throw new ArgumentException($"{dst.Length} values is not a whole number of {type} blocks of {blockSize}", nameof(dst));
        int nb = dst.Length / blockSize;
        long need = (long)nb * GgmlTypeInfo.TypeSize(type);
        if (src.Length < need)
            throw new ArgumentException($"{type} row of {dst.Length} values needs {need} bytes, got {src.Length}", nameof(src));
        src = src[..(int)need];
        level = QuantSimd.Clamp(level);

        switch (type)
        {
            case GgmlType.F32:
                MemoryMarshal.Cast<byte, float>(src).CopyTo(dst);
                return;
            case GgmlType.F16:
                HalfPrecision.HalfToSingle(MemoryMarshal.Cast<byte, ushort>(src), dst, level);
                return;
            case GgmlType.BF16:
                HalfPrecision.BFloat16ToSingle(MemoryMarshal.Cast<byte, ushort>(src), dst, level);
                return;
        }

        ref byte s = ref MemoryMarshal.GetReference(src);
        ref float y = ref MemoryMarshal.GetReference(dst);
        switch (level)
        {
            case QuantSimdLevel.Vector512: DequantizeVector<W512>(type, ref s, ref y, nb); break;
            case QuantSimdLevel.Vector256: DequantizeVector<W256>(type, ref s, ref y, nb); break;
            case QuantSimdLevel.Vector128: DequantizeVector<W128>(type, ref s, ref y, nb); break;
            default: DequantizeScalar(type, ref s, ref y, nb); break;
        }
    }

    private static void DequantizeScalar(GgmlType type, ref byte s, ref float y, int nb)
    {
        switch (type)
        {
            case GgmlType.Q4_0: Q4_0(ref s, ref y, nb); break;
            case GgmlType.Q4_1: Q4_1(ref s, ref y, nb); break;
            case GgmlType.Q5_0: Q5_0(ref s, ref y, nb); break;
            case GgmlType.Q5_1: Q5_1(ref s, ref y, nb); break;
            case GgmlType.Q8_0: Q8_0(ref s, ref y, nb); break;
            case GgmlType.Q8_1: Q8_1(ref s, ref y, nb); break;
            case GgmlType.Q2_K: Q2_K(ref s, ref y, nb); break;
            case GgmlType.Q3_K: Q3_K(ref s, ref y, nb); break;
            case GgmlType.Q4_K: Q4_K(ref s, ref y, nb); break;
            case GgmlType.Q5_K: Q5_K(ref s, ref y, nb); break;
            case GgmlType.Q6_K: Q6_K(ref s, ref y, nb); break;
            case GgmlType.Q8_K: Q8_K(ref s, ref y, nb); break;
            default: throw new NotSupportedException(type.ToString());
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Shared helpers

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Half(ref byte p, int offset) =>
        HalfPrecision.HalfToSingle(Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref p, offset)));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte U8(ref byte p, int offset) => Unsafe.Add(ref p, offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static sbyte I8(ref byte p, int offset) => (sbyte)Unsafe.Add(ref p, offset);

    /// <summary>Unpacks the j-th 6-bit (scale, min) pair of a Q4_K/Q5_K scales array.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ScaleMinK4(int j, ref byte q, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = Unsafe.Add(ref q, j) & 63;
            min = Unsafe.Add(ref q, j + 4) & 63;
        }
        else
        {
            scale = (Unsafe.Add(ref q, j + 4) & 0xF) | ((Unsafe.Add(ref q, j - 4) >> 6) << 4);
            min = (Unsafe.Add(ref q, j + 4) >> 4) | ((Unsafe.Add(ref q, j) >> 6) << 4);
        }
    }

    /// <summary>Unpacks the 16 signed 6-bit scales of a Q3_K block (already offset by −32).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int ScaleQ3K(ref byte scales, int j)
    {
        int low = j < 8 ? Unsafe.Add(ref scales, j) & 0xF : Unsafe.Add(ref scales, j - 8) >> 4;
        int high = (Unsafe.Add(ref scales, 8 + (j & 3)) >> (2 * (j >> 2))) & 3;
        return (low | (high << 4)) - 32;
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Scalar reference paths (one line of arithmetic per value, mirroring ggml exactly).

    private static void Q4_0(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_0Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            for (int j = 0; j < QK / 2; j++)
            {
                byte q = U8(ref s, Q4_0Qs + j);
                Unsafe.Add(ref y, j) = ((q & 0x0F) - 8) * d;
                Unsafe.Add(ref y, j + QK / 2) = ((q >> 4) - 8) * d;
            }
        }
    }

    private static void Q4_1(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_1Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            float m = Half(ref s, Q4_1M);
            for (int j = 0; j < QK / 2; j++)
            {
                byte q = U8(ref s, Q4_1Qs + j);
                Unsafe.Add(ref y, j) = (q & 0x0F) * d + m;
                Unsafe.Add(ref y, j + QK / 2) = (q >> 4) * d + m;
            }
        }
    }

    private static void Q5_0(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_0Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            uint qh = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, Q5_0Qh));
            for (int j = 0; j < QK / 2; j++)
            {
                byte q = U8(ref s, Q5_0Qs + j);
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                Unsafe.Add(ref y, j) = (((q & 0x0F) | h0) - 16) * d;
                Unsafe.Add(ref y, j + QK / 2) = (((q >> 4) | h1) - 16) * d;
            }
        }
    }

    private static void Q5_1(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_1Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            float m = Half(ref s, Q5_1M);
            uint qh = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref s, Q5_1Qh));
            for (int j = 0; j < QK / 2; j++)
            {
                byte q = U8(ref s, Q5_1Qs + j);
                int h0 = (int)((qh >> j) << 4) & 0x10;
                int h1 = (int)(qh >> (j + 12)) & 0x10;
                Unsafe.Add(ref y, j) = ((q & 0x0F) | h0) * d + m;
                Unsafe.Add(ref y, j + QK / 2) = ((q >> 4) | h1) * d + m;
            }
        }
    }

    private static void Q8_0(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q8_0Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            for (int j = 0; j < QK; j++)
                Unsafe.Add(ref y, j) = I8(ref s, Q8_0Qs + j) * d;
        }
    }

    // ggml has no Q8_1 dequantizer (the type only feeds dot products); the natural decoding is qs·d, the stored sum
    // being redundant.
    private static void Q8_1(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q8_1Size), y = ref Unsafe.Add(ref y, QK))
        {
            float d = Half(ref s, 0);
            for (int j = 0; j < QK; j++)
                Unsafe.Add(ref y, j) = I8(ref s, Q8_1Qs + j) * d;
        }
    }

    private static void Q2_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q2_KSize))
        {
            float d = Half(ref s, Q2_KD);
            float min = Half(ref s, Q2_KDmin);
            int isc = 0;
            for (int n = 0; n < QK_K; n += 128)
            {
                ref byte q = ref Unsafe.Add(ref s, Q2_KQs + n / 4);
                for (int shift = 0; shift < 8; shift += 2)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        byte sc = U8(ref s, Q2_KScales + isc++);
                        float dl = d * (sc & 0xF);
                        float ml = min * (sc >> 4);
                        for (int l = 0; l < 16; l++)
                            Unsafe.Add(ref y, l) = dl * ((U8(ref q, l + 16 * half) >> shift) & 3) - ml;
                        y = ref Unsafe.Add(ref y, 16);
                    }
                }
            }
        }
    }

    private static void Q3_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q3_KSize))
        {
            float dAll = Half(ref s, Q3_KD);
            ref byte scales = ref Unsafe.Add(ref s, Q3_KScales);
            ref byte hm = ref Unsafe.Add(ref s, Q3_KHmask);
            int isc = 0;
            int m = 1;
            for (int n = 0; n < QK_K; n += 128)
            {
                ref byte q = ref Unsafe.Add(ref s, Q3_KQs + n / 4);
                for (int shift = 0; shift < 8; shift += 2, m <<= 1)
                {
                    for (int half = 0; half < 2; half++)
                    {
                        float dl = dAll * ScaleQ3K(ref scales, isc++);
                        for (int l = 0; l < 16; l++)
                        {
                            int k = l + 16 * half;
                            int v = ((U8(ref q, k) >> shift) & 3) - ((U8(ref hm, k) & m) != 0 ? 0 : 4);
                            Unsafe.Add(ref y, l) = dl * v;
                        }
                        y = ref Unsafe.Add(ref y, 16);
                    }
                }
            }
        }
    }

    private static void Q4_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q4_KSize))
        {
            float d = Half(ref s, Q4_KD);
            float min = Half(ref s, Q4_KDmin);
            ref byte scales = ref Unsafe.Add(ref s, Q4_KScales);
            for (int j = 0, isc = 0; j < QK_K; j += 64, isc += 2)
            {
                ref byte q = ref Unsafe.Add(ref s, Q4_KQs + j / 2);
                ScaleMinK4(isc, ref scales, out int sc, out int mn);
                float d1 = d * sc, m1 = min * mn;
                ScaleMinK4(isc + 1, ref scales, out sc, out mn);
                float d2 = d * sc, m2 = min * mn;
                for (int l = 0; l < 32; l++)
                    Unsafe.Add(ref y, l) = d1 * (U8(ref q, l) & 0xF) - m1;
                for (int l = 0; l < 32; l++)
                    Unsafe.Add(ref y, 32 + l) = d2 * (U8(ref q, l) >> 4) - m2;
                y = ref Unsafe.Add(ref y, 64);
            }
        }
    }

    private static void Q5_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q5_KSize))
        {
            float d = Half(ref s, Q5_KD);
            float min = Half(ref s, Q5_KDmin);
            ref byte scales = ref Unsafe.Add(ref s, Q5_KScales);
            ref byte qh = ref Unsafe.Add(ref s, Q5_KQh);
            int u1 = 1, u2 = 2;
            for (int j = 0, isc = 0; j < QK_K; j += 64, isc += 2, u1 <<= 2, u2 <<= 2)
            {
                ref byte ql = ref Unsafe.Add(ref s, Q5_KQs + j / 2);
                ScaleMinK4(isc, ref scales, out int sc, out int mn);
                float d1 = d * sc, m1 = min * mn;
                ScaleMinK4(isc + 1, ref scales, out sc, out mn);
                float d2 = d * sc, m2 = min * mn;
                for (int l = 0; l < 32; l++)
                    Unsafe.Add(ref y, l) = d1 * ((U8(ref ql, l) & 0xF) + ((U8(ref qh, l) & u1) != 0 ? 16 : 0)) - m1;
                for (int l = 0; l < 32; l++)
                    Unsafe.Add(ref y, 32 + l) = d2 * ((U8(ref ql, l) >> 4) + ((U8(ref qh, l) & u2) != 0 ? 16 : 0)) - m2;
                y = ref Unsafe.Add(ref y, 64);
            }
        }
    }

    private static void Q6_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q6_KSize))
        {
            float d = Half(ref s, Q6_KD);
            for (int n = 0; n < QK_K; n += 128)
            {
                ref byte ql = ref Unsafe.Add(ref s, Q6_KQl + n / 2);
                ref byte qh = ref Unsafe.Add(ref s, Q6_KQh + n / 4);
                ref byte sc = ref Unsafe.Add(ref s, Q6_KScales + n / 16);
                for (int l = 0; l < 32; l++)
                {
                    int isc = l / 16;
                    int h = U8(ref qh, l);
                    int q1 = ((U8(ref ql, l) & 0xF) | (((h >> 0) & 3) << 4)) - 32;
                    int q2 = ((U8(ref ql, l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = ((U8(ref ql, l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = ((U8(ref ql, l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    Unsafe.Add(ref y, l) = d * I8(ref sc, isc) * q1;
                    Unsafe.Add(ref y, l + 32) = d * I8(ref sc, isc + 2) * q2;
                    Unsafe.Add(ref y, l + 64) = d * I8(ref sc, isc + 4) * q3;
                    Unsafe.Add(ref y, l + 96) = d * I8(ref sc, isc + 6) * q4;
                }
                y = ref Unsafe.Add(ref y, 128);
            }
        }
    }

    private static void Q8_K(ref byte s, ref float y, int nb)
    {
        for (int i = 0; i < nb; i++, s = ref Unsafe.Add(ref s, Q8_KSize), y = ref Unsafe.Add(ref y, QK_K))
        {
            float d = Unsafe.ReadUnaligned<float>(ref Unsafe.Add(ref s, Q8_KD));
            for (int j = 0; j < QK_K; j++)
                Unsafe.Add(ref y, j) = d * I8(ref s, Q8_KQs + j);
        }
    }
}
