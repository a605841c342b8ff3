namespace SeekSharp.Gguf;

/// <summary>
/// Tensor element types, numbered exactly as ggml numbers them in GGUF files.
/// Values that ggml has retired (4, 5, 31-33) are deliberately absent.
/// </summary>
public enum GgmlType : uint
{
    F32 = 0,
    F16 = 1,
    Q4_0 = 2,
    Q4_1 = 3,
    Q5_0 = 6,
    Q5_1 = 7,
    Q8_0 = 8,
    Q8_1 = 9,
    Q2_K = 10,
    Q3_K = 11,
    Q4_K = 12,
    Q5_K = 13,
    Q6_K = 14,
    Q8_K = 15,
    IQ2_XXS = 16,
    IQ2_XS = 17,
    IQ3_XXS = 18,
    IQ1_S = 19,
    IQ4_NL = 20,
    IQ3_S = 21,
    IQ2_S = 22,
    IQ4_XS = 23,
    I8 = 24,
    I16 = 25,
    I32 = 26,
    I64 = 27,
    F64 = 28,
    IQ1_M = 29,
    BF16 = 30,
    TQ1_0 = 34,
    TQ2_0 = 35,
}

/// <summary>Block geometry of each <see cref="GgmlType"/>: how many values a block holds and how many bytes it takes.</summary>
public static class GgmlTypeInfo
{
    /// <summary>Number of values per K-quant super-block.</summary>
    public const int QK_K = 256;

    /// <summary>True when the type is known to this build (its size is defined).</summary>
    public static bool IsKnown(GgmlType type) => TryGetLayout(type, out _, out _);

    /// <summary>True when SeekSharp can compute with (dequantize) this type.</summary>
    public static bool IsSupported(GgmlType type) => type switch
    {
        GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 or
        GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1 or GgmlType.Q8_0 or
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K => true,
        _ => false,
    };

    public static bool TryGetLayout(GgmlType type, out int blockSize, out int typeSize)
    {
        (blockSize, typeSize) = type switch
        {
            GgmlType.F32 => (1, 4),
            GgmlType.F16 => (1, 2),
            GgmlType.BF16 => (1, 2),
            GgmlType.F64 => (1, 8),
            GgmlType.I8 => (1, 1),
            GgmlType.I16 => (1, 2),
            GgmlType.I32 => (1, 4),
            GgmlType.I64 => (1, 8),
            GgmlType.Q4_0 => (32, 2 + 16),
            GgmlType.Q4_1 => (32, 2 + 2 + 16),
            GgmlType.Q5_0 => (32, 2 + 4 + 16),
            GgmlType.Q5_1 => (32, 2 + 2 + 4 + 16),
            GgmlType.Q8_0 => (32, 2 + 32),
            GgmlType.Q8_1 => (32, 2 + 2 + 32),
            GgmlType.Q2_K => (QK_K, QK_K / 16 + QK_K / 4 + 2 + 2),
            GgmlType.Q3_K => (QK_K, QK_K / 8 + QK_K / 4 + 12 + 2),
            GgmlType.Q4_K => (QK_K, 2 + 2 + 12 + QK_K / 2),
            GgmlType.Q5_K => (QK_K, 2 + 2 + 12 + QK_K / 8 + QK_K / 2),
            GgmlType.Q6_K => (QK_K, QK_K / 2 + QK_K / 4 + QK_K / 16 + 2),
            GgmlType.Q8_K => (QK_K, 4 + QK_K + QK_K / 16 * 2),
            GgmlType.IQ2_XXS => (QK_K, 2 + QK_K / 8 * 2),
            GgmlType.IQ2_XS => (QK_K, 2 + QK_K / 8 * 2 + QK_K / 32),
            GgmlType.IQ3_XXS => (QK_K, 2 + QK_K / 4 + QK_K / 8),
            GgmlType.IQ1_S => (QK_K, 2 + QK_K / 8 + QK_K / 16),
            GgmlType.IQ4_NL => (32, 2 + 16),
            GgmlType.IQ3_S => (QK_K, 2 + QK_K / 4 + QK_K / 32 + QK_K / 8 + QK_K / 64),
            GgmlType.IQ2_S => (QK_K, 2 + QK_K / 4 + QK_K / 16),
            GgmlType.IQ4_XS => (QK_K, 2 + 2 + QK_K / 64 + QK_K / 2),
            GgmlType.IQ1_M => (QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32),
            GgmlType.TQ1_0 => (QK_K, (QK_K - 4 * QK_K / 64) / 5 + QK_K / 64 + 2),
            GgmlType.TQ2_0 => (QK_K, QK_K / 4 + 2),
            _ => (0, 0),
        };
        return blockSize != 0;
    }

    public static int BlockSize(GgmlType type) =>
        TryGetLayout(type, out int b, out _) ? b : throw new NotSupportedException($"unknown ggml type {(uint)type}");

    public static int TypeSize(GgmlType type) =>
        TryGetLayout(type, out _, out int s) ? s : throw new NotSupportedException($"unknown ggml type {(uint)type}");

    /// <summary>Bytes taken by a row of <paramref name="count"/> values; the count must be a whole number of blocks.</summary>
    public static long RowSize(GgmlType type, long count)
    {
        int block = BlockSize(type);
        if (count % block != 0)
            throw new ArgumentException($"{count} values is not a whole number of {type} blocks of {block}");
        return count / block * TypeSize(type);
    }

    /// <summary>The lower-case name ggml prints for the type (e.g. "q4_K").</summary>
    public static string Name(GgmlType type) => type switch
    {
        GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K or GgmlType.Q8_K =>
            type.ToString()[..3].ToLowerInvariant() + "K",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>Parses a type name case-insensitively ("q4_k", "Q8_0", "f16").</summary>
    public static bool TryParse(string name, out GgmlType type)
    {
        foreach (GgmlType t in Enum.GetValues<GgmlType>())
        {
            if (string.Equals(t.ToString(), name, StringComparison.OrdinalIgnoreCase))
            {
                type = t;
                return true;
            }
        }
        type = default;
        return false;
    }
}
