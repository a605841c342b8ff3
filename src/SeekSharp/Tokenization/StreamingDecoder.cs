using System.Text;

namespace SeekSharp.Tokenization;

/// <summary>
/// Turns a stream of generated token ids into text as it comes, never splitting a UTF-8 character across outputs:
/// bytes of a character that is still incomplete are held back until the token that completes it arrives.
/// Token pieces are concatenated as llama_token_to_piece gives them (no space clean-up, as in llama.cpp's streaming).
/// Not thread-safe.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly BpeTokenizer _tokenizer;
    private readonly bool _renderSpecial;
    private readonly Decoder _decoder = Encoding.UTF8.GetDecoder(); // keeps an incomplete sequence between calls
    private char[] _chars = new char[64];

    public StreamingDecoder(BpeTokenizer tokenizer, bool renderSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _renderSpecial = renderSpecial;
    }

    /// <summary>Adds a token; returns the text it completes (may be empty).</summary>
    public string Push(int tokenId)
    {
        ReadOnlySpan<byte> bytes = _tokenizer.TokenBytes(tokenId, _renderSpecial);
        return Convert(bytes, flush: false);
    }

    /// <summary>Returns whatever is still pending (an incomplete character becomes U+FFFD) and resets.</summary>
    public string Flush() => Convert([], flush: true);

    private string Convert(ReadOnlySpan<byte> bytes, bool flush)
    {
        // room for these bytes plus up to three held back from earlier calls
        int max = Encoding.UTF8.GetMaxCharCount(bytes.Length + 3);
        if (_chars.Length < max)
            _chars = new char[Math.Max(max, _chars.Length * 2)];
        int n = _decoder.GetChars(bytes, _chars, flush);
        return n == 0 ? "" : new string(_chars, 0, n);
    }
}
