namespace SeekSharp.Conversion;

/// <summary>
/// OCP FP8 E4M3 ("e4m3fn", safetensors F8_E4M3): 1 sign, 4 exponent bits with bias 7, 3 mantissa bits. There are no
/// infinities; only S.1111.111 (0x7F, 0xFF) is NaN, so the largest finite value is 448. Exponent 0 holds subnormals
/// m/8 × 2^-6. Every one of the 256 codes is exactly representable in float, so a table decodes exactly.
/// </summary>
public static class Fp8E4M3
{
    private static readonly float[] Table = Build();

    private static float[] Build()
    {
        var t = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int sign = b >> 7, exp = (b >> 3) & 0xF, man = b & 7;
            float v;
            if (exp == 0xF && man == 7) v = float.NaN;
            else if (exp == 0) v = man / 8f * MathF.Pow(2, -6);
            else v = (1 + man / 8f) * MathF.Pow(2, exp - 7);
            t[b] = sign != 0 ? -v : v;
        }
        return t;
    }

    public static float ToSingle(byte code) => Table[code];

    public static void ToSingle(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length < src.Length) throw new ArgumentException("destination is too short", nameof(dst));
        for (int i = 0; i < src.Length; i++) dst[i] = Table[src[i]];
    }
}
