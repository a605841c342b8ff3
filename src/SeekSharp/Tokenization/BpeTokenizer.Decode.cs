using System.Text;

namespace SeekSharp.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>
    /// The raw bytes token <paramref name="id"/> stands for (llama_token_to_piece with special = true): the decoded
    /// bytes of a normal token, the UTF-8 text of control, user-defined and unknown tokens, nothing for unused ones.
    /// A token may hold part of a UTF-8 character.
    /// </summary>
    public ReadOnlySpan<byte> TokenBytes(int id)
    {
        if (!IsValid(id))
            throw new ArgumentOutOfRangeException(nameof(id), id, $"not a token id (vocabulary has {VocabSize} tokens)");
        return _pieces[id] ??= BuildPiece(id);
    }

    /// <summary>Like <see cref="TokenBytes"/>, but control and unknown tokens give nothing unless <paramref name="renderSpecial"/>.</summary>
    internal ReadOnlySpan<byte> TokenBytes(int id, bool renderSpecial)
    {
        ReadOnlySpan<byte> piece = TokenBytes(id);
        if (_hf is not null)
            return !renderSpecial && _hf.Special[id] ? default : piece;
        return !renderSpecial && (_attributes[id] & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0 ? default : piece;
    }

    /// <summary>Detokenizes like llama_detokenize(remove_special: false, unparse_special: <paramref name="renderSpecial"/>),
    /// including its clean-up of spaces for pre-tokenizers that ask for it; invalid UTF-8 becomes U+FFFD.
    /// In Hugging Face mode: the library's decode(ids, skip_special_tokens: !<paramref name="renderSpecial"/>) with its
    /// ByteLevel decoder (ids it does not have are dropped, no space clean-up).</summary>
    public string Decode(ReadOnlySpan<int> ids, bool renderSpecial = true) => Encoding.UTF8.GetString(DecodeToBytes(ids, renderSpecial));

    /// <summary>The bytes <see cref="Decode"/> decodes (exactly what llama_detokenize writes).</summary>
    public byte[] DecodeToBytes(ReadOnlySpan<int> ids, bool renderSpecial = true)
    {
        if (_hf is not null)
            return DecodeToBytesHf(ids, skipSpecial: !renderSpecial);
        int total = 0;
        foreach (int id in ids)
            total += TokenBytes(id, renderSpecial).Length;
        var text = new byte[total];
        int at = 0;
        foreach (int id in ids)
        {
            ReadOnlySpan<byte> piece = TokenBytes(id, renderSpecial);
            piece.CopyTo(text.AsSpan(at));
            at += piece.Length;
        }
        if (!_pre.CleanSpaces)
            return text;
        int length = CleanUpSpaces(text);
        return length == text.Length ? text : text.AsSpan(0, length).ToArray();
    }

    // llama_detokenize's clean_spaces passes, done in place exactly as there (the second pass writes ahead of itself,
    // which the next step then sees).
    private static int CleanUpSpaces(byte[] text)
    {
        // first pass: " ?", " !", " .", " ," lose the space
        int total1 = text.Length;
        int total = total1 > 0 ? 1 : 0;
        for (int i = 1; i < total1; i++)
        {
            byte x = text[i];
            if (text[i - 1] == ' ' && x is (byte)'?' or (byte)'!' or (byte)'.' or (byte)',')
                total--;
            text[total++] = x;
        }

        // second pass: a single apostrophe between spaces loses both spaces
        int total2 = total;
        total = total2 > 0 ? 1 : 0;
        for (int i = 1; i < total2; i++)
        {
            byte x = text[i];
            if (x == '\'' && i + 1 < total2 && text[i - 1] == ' ' && text[i + 1] == ' ')
            {
                total--;
                text[++i] = 0;
            }
            text[total++] = x;
        }

        // third pass: " 's", " 'm", " 're", " 've" lose the space
        int total3 = total;
        total = total3 > 0 ? 1 : 0;
        for (int i = 1; i < total3; i++)
        {
            byte x = text[i];
            if (text[i - 1] == ' ' && x == '\'' && i + 1 < total3)
            {
                byte x1 = text[i + 1];
                if (x1 is (byte)'s' or (byte)'m')
                    total--;
                else if (i + 2 < total3)
                {
                    byte x2 = text[i + 2];
                    if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e'))
                        total--;
                }
            }
            text[total++] = x;
        }
        return total;
    }

    private byte[] BuildPiece(int id)
    {
        if (_hf is not null)
            return BuildPieceHf(id);
        TokenAttributes attr = _attributes[id];
        string text = _texts[id];
        if ((attr & (TokenAttributes.Unknown | TokenAttributes.Control | TokenAttributes.UserDefined)) != 0)
            return Encoding.UTF8.GetBytes(text);
        if ((attr & TokenAttributes.Normal) != 0)
            return DecodeByteLevel(text);
        if ((attr & TokenAttributes.Byte) != 0)
            return [ParseByteToken(text)];
        return [];
    }

    // llama_decode_text: each character of a normal token maps back to one byte; a character outside the byte map is
    // written as "[UNK_BYTE_0x<its UTF-8 in hex><the whole token text>]".
    private static byte[] DecodeByteLevel(string text)
    {
        var bytes = new List<byte>(text.Length);
        Span<byte> utf8 = stackalloc byte[4];
        foreach (Rune rune in text.EnumerateRunes())
        {
            int b = rune.IsBmp ? ByteLevel.CharToByte((char)rune.Value) : -1;
            if (b >= 0)
            {
                bytes.Add((byte)b);
                continue;
            }
            var sb = new StringBuilder("[UNK_BYTE_0x");
            int n = rune.EncodeToUtf8(utf8);
            foreach (byte u in utf8[..n])
                sb.Append(u.ToString("x2"));
            sb.Append(text).Append(']');
            bytes.AddRange(Encoding.UTF8.GetBytes(sb.ToString()));
        }
        return bytes.ToArray();
    }

    // token_to_byte: strtol(text.substr(3, 2), 16) of "<0xXX>"
    private static byte ParseByteToken(string text)
    {
        int value = 0;
        for (int i = 3; i < Math.Min(5, text.Length); i++)
        {
            int digit = HexDigit(text[i]);
            if (digit < 0)
                break;
            value = value * 16 + digit;
        }
        return (byte)value;

        static int HexDigit(char c) => c switch
        {
            >= '0' and <= '9' => c - '0',
            >= 'a' and <= 'f' => c - 'a' + 10,
            >= 'A' and <= 'F' => c - 'A' + 10,
            _ => -1,
        };
    }
}
