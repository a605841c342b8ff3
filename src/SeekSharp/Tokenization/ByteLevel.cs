namespace SeekSharp.Tokenization;

/// <summary>
/// GPT-2's reversible byte-to-character map: vocabularies of byte-level BPE store every token as a string of these
/// 256 characters (one per raw byte), so that e.g. the space byte 0x20 is written 'Ġ' (U+0120).
/// All 256 characters are in U+0021..U+0143, i.e. single UTF-16 code units.
/// </summary>
internal static class ByteLevel
{
    private static readonly char[] s_byteToChar = BuildByteToChar();
    private static readonly short[] s_charToByte = BuildCharToByte(s_byteToChar);

    /// <summary>The character byte <paramref name="b"/> is written as.</summary>
    public static char ByteToChar(byte b) => s_byteToChar[b];

    /// <summary>The byte character <paramref name="c"/> stands for, or -1 if it is not one of the 256 byte characters.</summary>
    public static int CharToByte(char c) => c < s_charToByte.Length ? s_charToByte[c] : -1;

    /// <summary>Maps raw bytes to their byte-level string (what vocabularies store).</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes, static (dst, src) =>
        {
            for (int i = 0; i < src.Length; i++)
                dst[i] = s_byteToChar[src[i]];
        });
    }

    /// <summary>Maps a byte-level string back to raw bytes; false if it holds a character outside the map.</summary>
    public static bool TryDecode(ReadOnlySpan<char> text, Span<byte> destination)
    {
        for (int i = 0; i < text.Length; i++)
        {
            int b = CharToByte(text[i]);
            if (b < 0)
                return false;
            destination[i] = (byte)b;
        }
        return true;
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var assigned = new bool[256];
        for (int b = 0x21; b <= 0x7E; b++) { map[b] = (char)b; assigned[b] = true; }
        for (int b = 0xA1; b <= 0xAC; b++) { map[b] = (char)b; assigned[b] = true; }
        for (int b = 0xAE; b <= 0xFF; b++) { map[b] = (char)b; assigned[b] = true; }
        int n = 0;
        for (int b = 0; b < 256; b++)
        {
            if (!assigned[b])
                map[b] = (char)(256 + n++);
        }
        return map;
    }

    private static short[] BuildCharToByte(char[] byteToChar)
    {
        var map = new short[0x144];
        map.AsSpan().Fill(-1);
        for (int b = 0; b < 256; b++)
            map[byteToChar[b]] = (short)b;
        return map;
    }
}
