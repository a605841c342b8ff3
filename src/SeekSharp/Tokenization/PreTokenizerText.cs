using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>
/// One raw-text fragment prepared for pre-tokenization: its code points, their llama.cpp flags, and (built on demand)
/// the two per-code-point char views llama.cpp's std::regex fallbacks run on. Instances are reused as scratch.
/// </summary>
internal sealed class PreTokenizerText
{
    private int[] _codepoints = new int[256];
    private int[] _charOffsets = new int[257];
    private byte[] _flags = new byte[256];
    private char[] _collapsed = new char[256];
    private char[] _wide = new char[256];
    private bool _collapsedValid, _wideValid;

    /// <summary>Number of code points.</summary>
    public int Length { get; private set; }

    public ReadOnlySpan<int> Codepoints => _codepoints.AsSpan(0, Length);

    public ReadOnlySpan<byte> Flags => _flags.AsSpan(0, Length);

    /// <summary>UTF-16 offset of code point i within the fragment (Length + 1 entries).</summary>
    public ReadOnlySpan<int> CharOffsets => _charOffsets.AsSpan(0, Length + 1);

    /// <summary>Loads a fragment of valid UTF-16 (no lone surrogates).</summary>
    public void Load(ReadOnlySpan<char> text)
    {
        if (_codepoints.Length < text.Length)
        {
            int size = Math.Max(text.Length, _codepoints.Length * 2);
            _codepoints = new int[size];
            _charOffsets = new int[size + 1];
            _flags = new byte[size];
            _collapsed = new char[size];
            _wide = new char[size];
        }

        ReadOnlySpan<byte> table = CodepointInfo.Table;
        int n = 0;
        for (int i = 0; i < text.Length; i++)
        {
            int cp = text[i];
            _charOffsets[n] = i;
            if (char.IsHighSurrogate((char)cp) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                cp = char.ConvertToUtf32((char)cp, text[i + 1]);
                i++;
            }
            _codepoints[n] = cp;
            _flags[n] = table[cp];
            n++;
        }
        _charOffsets[n] = text.Length;
        Length = n;
        _collapsedValid = _wideValid = false;
    }

    /// <summary>llama.cpp's collapsed text: ASCII as is, everything else one marker char per category.</summary>
    public ReadOnlySpan<char> Collapsed
    {
        get
        {
            if (!_collapsedValid)
            {
                for (int i = 0; i < Length; i++)
                {
                    int cp = _codepoints[i];
                    _collapsed[i] = cp < 128 ? (char)cp : CodepointInfo.Collapse(cp);
                }
                _collapsedValid = true;
            }
            return _collapsed.AsSpan(0, Length);
        }
    }

    /// <summary>
    /// The text as llama.cpp's std::wregex fallbacks see it (one wchar_t per code point, non-ASCII whitespace as
    /// '\v'), squeezed into one UTF-16 char per code point. Supplementary-plane code points cannot be one char, so
    /// each is replaced by a stand-in with the same membership in every class our wide patterns use:
    /// 'µ' for those in deepseek-llm's letter class, U+FFFF (in no class) for the rest.
    /// </summary>
    public ReadOnlySpan<char> Wide
    {
        get
        {
            if (!_wideValid)
            {
                for (int i = 0; i < Length; i++)
                {
                    int cp = _codepoints[i];
                    char c;
                    if (cp < 0x80)
                        c = (char)cp;
                    else if ((_flags[i] & CodepointInfo.WhitespaceBit) != 0)
                        c = '\v';
                    else if (cp < 0x10000)
                        c = (char)cp;
                    else
                        c = IsDeepseekLlmSupplementaryLetter(cp) ? 'µ' : '\uFFFF';
                    _wide[i] = c;
                }
                _wideValid = true;
            }
            return _wide.AsSpan(0, Length);
        }
    }

    /// <summary>The supplementary-plane ranges of deepseek-llm's hand-written letter class.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool IsDeepseekLlmSupplementaryLetter(int cp) =>
        cp is (>= 0x10400 and <= 0x1044F) or (>= 0x104B0 and <= 0x104D3) or (>= 0x104D8 and <= 0x104FB)
            or (>= 0x10C80 and <= 0x10CB2) or (>= 0x10CC0 and <= 0x10CF2) or (>= 0x118A0 and <= 0x118DF)
            or (>= 0x1E900 and <= 0x1E943);
}
