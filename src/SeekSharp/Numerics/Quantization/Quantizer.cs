using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SeekSharp.Gguf;
using static SeekSharp.Numerics.Quantization.BlockLayout;
using static SeekSharp.Numerics.Quantization.QuantSearch;

namespace SeekSharp.Numerics.Quantization;

/// <summary>
/// Encodes float rows into ggml block formats, bit-for-bit like ggml's reference quantizers
/// (quantize_row_*_ref, i.e. ggml_quantize_chunk without an importance matrix).
/// </summary>
/// <remarks>
/// The reference quantizers are deliberately scalar: they run once per model conversion, and exactness (including
/// the float→int8 wrap-around that x86 C code exhibits on degenerate blocks) matters more than speed.
/// </remarks>
public static partial class Quantizer
{
    /// <summary>True for the types <see cref="QuantizeRow"/> encodes.</summary>
    public static bool CanQuantize(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or GgmlType.Q8_1 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => true,
        _ => false,
    };

    /// <summary>
    /// Encodes <paramref name="src"/> (a whole number of blocks) into <paramref name="dst"/>, which must hold at least
    /// <c>GgmlTypeInfo.RowSize(type, src.Length)</c> bytes; only that many bytes are written.
    /// </summary>
    public static void QuantizeRow(GgmlType type, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (!CanQuantize(type))
            throw new NotSupportedException($"cannot quantize to ggml type {type}");
        int blockSize = GgmlTypeInfo.BlockSize(type);
        if (src.Length % blockSize != 0)
            throw new ArgumentException($"{src.Length} values is not a whole number of {type} blocks of {blockSize}", nameof(src));
        int nb = src.Length / blockSize;
        long need = (long)nb * GgmlTypeInfo.TypeSize(type);
        if (dst.Length < need)
            throw new ArgumentException($"{type} row of {src.Length} values needs {need} bytes, got {dst.Length}", nameof(dst));
        dst = dst[..(int)need];

        switch (type)
        {
            case GgmlType.F32: MemoryMarshal.AsBytes(src).CopyTo(dst); break;
            case GgmlType.F16: HalfPrecision.SingleToHalf(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case GgmlType.BF16: HalfPrecision.SingleToBFloat16(src, MemoryMarshal.Cast<byte, ushort>(dst)); break;
            case GgmlType.Q4_0: Q4_0(src, dst, nb); break;
            case GgmlType.Q4_1: Q4_1(src, dst, nb); break;
            case GgmlType.Q5_0: Q5_0(src, dst, nb); break;
            case GgmlType.Q5_1: Q5_1(src, dst, nb); break;
            case GgmlType.Q8_0: Q8_0(src, dst, nb); break;
            case GgmlType.Q8_1: Q8_1(src, dst, nb); break;
            case GgmlType.Q2_K: Q2_K(src, dst, nb); break;
            case GgmlType.Q3_K: Q3_K(src, dst, nb); break;
            case GgmlType.Q4_K: Q4_K(src, dst, nb); break;
            case GgmlType.Q5_K: Q5_K(src, dst, nb); break;
            case GgmlType.Q6_K: Q6_K(src, dst, nb); break;
            case GgmlType.Q8_K: Q8_K(src, dst, nb); break;
        }
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Helpers

    private static void WriteHalf(Span<byte> y, int offset, float v) =>
        BinaryPrimitives.WriteUInt16LittleEndian(y[offset..], HalfPrecision.SingleToHalf(v));

    private static float ReadHalf(ReadOnlySpan<byte> y, int offset) =>
        HalfPrecision.HalfToSingle(BinaryPrimitives.ReadUInt16LittleEndian(y[offset..]));

    /// <summary>C's <c>(int8_t)f</c> for a float f, as compiled for x86 (truncate to int32, keep the low byte).</summary>
    private static int ToInt8(float f) => (sbyte)TruncateToInt32(f);

    /// <summary>The element whose magnitude is largest (first one on ties), as the symmetric quantizers pick it.</summary>
    private static float SignedAbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0, max = 0;
        foreach (float v in x)
        {
            if (amax < MathF.Abs(v))
            {
                amax = MathF.Abs(v);
                max = v;
            }
        }
        return max;
    }

    private static (float Min, float Max) MinMax(ReadOnlySpan<float> x)
    {
        float min = float.MaxValue, max = -float.MaxValue;
        foreach (float v in x)
        {
            if (v < min) min = v;
            if (v > max) max = v;
        }
        return (min, max);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // Legacy 32-value blocks

    private static void Q4_0(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q4_0Size, Q4_0Size);
            float d = SignedAbsMax(x) / -8;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            for (int j = 0; j < QK / 2; j++)
            {
                byte xi0 = (byte)Math.Min(15, ToInt8(x[j] * id + 8.5f));
                byte xi1 = (byte)Math.Min(15, ToInt8(x[j + QK / 2] * id + 8.5f));
                y[Q4_0Qs + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    private static void Q4_1(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q4_1Size, Q4_1Size);
            (float min, float max) = MinMax(x);
            float d = (max - min) / 15;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            WriteHalf(y, Q4_1M, min);
            for (int j = 0; j < QK / 2; j++)
            {
                byte xi0 = (byte)Math.Min(15, ToInt8((x[j] - min) * id + 0.5f));
                byte xi1 = (byte)Math.Min(15, ToInt8((x[j + QK / 2] - min) * id + 0.5f));
                y[Q4_1Qs + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    private static void Q5_0(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q5_0Size, Q5_0Size);
            float d = SignedAbsMax(x) / -16;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            uint qh = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                byte xi0 = (byte)Math.Min(31, ToInt8(x[j] * id + 16.5f));
                byte xi1 = (byte)Math.Min(31, ToInt8(x[j + QK / 2] * id + 16.5f));
                y[Q5_0Qs + j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(y[Q5_0Qh..], qh);
        }
    }

    private static void Q5_1(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q5_1Size, Q5_1Size);
            (float min, float max) = MinMax(x);
            float d = (max - min) / 31;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            WriteHalf(y, Q5_1M, min);
            uint qh = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                // No clamp here in ggml: the (uint8_t) conversion keeps the low byte.
                byte xi0 = (byte)TruncateToInt32((x[j] - min) * id + 0.5f);
                byte xi1 = (byte)TruncateToInt32((x[j + QK / 2] - min) * id + 0.5f);
                y[Q5_1Qs + j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                qh |= ((xi0 & 0x10u) >> 4) << j;
                qh |= ((xi1 & 0x10u) >> 4) << (j + QK / 2);
            }
            BinaryPrimitives.WriteUInt32LittleEndian(y[Q5_1Qh..], qh);
        }
    }

    private static float AbsMax(ReadOnlySpan<float> x)
    {
        float amax = 0;
        foreach (float v in x)
        {
            float a = MathF.Abs(v);
            amax = amax > a ? amax : a;
        }
        return amax;
    }

    private static void Q8_0(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q8_0Size, Q8_0Size);
            float d = AbsMax(x) / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            for (int j = 0; j < QK; j++)
                y[Q8_0Qs + j] = (byte)ToInt8(RoundHalfAway(x[j] * id));
        }
    }

    private static void Q8_1(ReadOnlySpan<float> src, Span<byte> dst, int nb)
    {
        for (int i = 0; i < nb; i++)
        {
            ReadOnlySpan<float> x = src.Slice(i * QK, QK);
            Span<byte> y = dst.Slice(i * Q8_1Size, Q8_1Size);
            float d = AbsMax(x) / 127;
            float id = d != 0 ? 1.0f / d : 0.0f;
            WriteHalf(y, 0, d);
            int sum = 0;
            for (int j = 0; j < QK / 2; j++)
            {
                sbyte q0 = (sbyte)ToInt8(RoundHalfAway(x[j] * id));
                sbyte q1 = (sbyte)ToInt8(RoundHalfAway(x[j + QK / 2] * id));
                y[Q8_1Qs + j] = (byte)q0;
                y[Q8_1Qs + j + QK / 2] = (byte)q1;
                sum += q0 + q1;
            }
            WriteHalf(y, Q8_1S, sum * d);
        }
    }
}
