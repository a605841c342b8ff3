namespace SeekSharp.Numerics.Quantization;

/// <summary>
/// Byte offsets of the fields inside one ggml block (little-endian, packed exactly like ggml's C structs).
/// </summary>
internal static class BlockLayout
{
    public const int QK = 32;   // values per legacy block
    public const int QK_K = 256; // values per K-quant super-block

    // block_q4_0: half d; u8 qs[16]
    public const int Q4_0Size = 18, Q4_0Qs = 2;
    // block_q4_1: half d; half m; u8 qs[16]
    public const int Q4_1Size = 20, Q4_1M = 2, Q4_1Qs = 4;
    // block_q5_0: half d; u8 qh[4]; u8 qs[16]
    public const int Q5_0Size = 22, Q5_0Qh = 2, Q5_0Qs = 6;
    // block_q5_1: half d; half m; u8 qh[4]; u8 qs[16]
    public const int Q5_1Size = 24, Q5_1M = 2, Q5_1Qh = 4, Q5_1Qs = 8;
    // block_q8_0: half d; i8 qs[32]
    public const int Q8_0Size = 34, Q8_0Qs = 2;
    // block_q8_1: half d; half s (= d * sum(qs)); i8 qs[32]
    public const int Q8_1Size = 36, Q8_1S = 2, Q8_1Qs = 4;

    // block_q2_K: u8 scales[16] (low nibble scale, high nibble min); u8 qs[64]; half d; half dmin
    public const int Q2_KSize = 84, Q2_KScales = 0, Q2_KQs = 16, Q2_KD = 80, Q2_KDmin = 82;
    // block_q3_K: u8 hmask[32]; u8 qs[64]; u8 scales[12] (16 packed 6-bit scales); half d
    public const int Q3_KSize = 110, Q3_KHmask = 0, Q3_KQs = 32, Q3_KScales = 96, Q3_KD = 108;
    // block_q4_K: half d; half dmin; u8 scales[12] (8 packed 6-bit scale/min pairs); u8 qs[128]
    public const int Q4_KSize = 144, Q4_KD = 0, Q4_KDmin = 2, Q4_KScales = 4, Q4_KQs = 16;
    // block_q5_K: half d; half dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]
    public const int Q5_KSize = 176, Q5_KD = 0, Q5_KDmin = 2, Q5_KScales = 4, Q5_KQh = 16, Q5_KQs = 48;
    // block_q6_K: u8 ql[128]; u8 qh[64]; i8 scales[16]; half d
    public const int Q6_KSize = 210, Q6_KQl = 0, Q6_KQh = 128, Q6_KScales = 192, Q6_KD = 208;
    // block_q8_K: float d; i8 qs[256]; i16 bsums[16]
    public const int Q8_KSize = 292, Q8_KD = 0, Q8_KQs = 4, Q8_KBsums = 260;
}
