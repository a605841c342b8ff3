using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

internal sealed partial class PreTokenizer
{
    private const byte Letter = (byte)CodepointCategory.Letter;
    private const byte Number = (byte)CodepointCategory.Number;
    private const byte WhitespaceBit = CodepointInfo.WhitespaceBit;
    private const byte CategoryMask = CodepointInfo.CategoryMask;

    /// <summary>
    /// llama.cpp's hand-written splitter for GPT-2's pattern
    /// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ (its exact behaviour, not the regex's:
    /// the two differ in corner cases, and llama.cpp is the reference).
    /// </summary>
    internal sealed class Gpt2Split : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<int> cps = text.Codepoints[..end];
            ReadOnlySpan<byte> flags = text.Flags[..end];
            int pos = start;
            int previousEnd = start;
            while (pos < end)
            {
                int cpt = cps[pos];
                byte f = flags[pos];

                if (cpt == '\'' && pos + 1 < end)
                {
                    int next = cps[pos + 1];
                    if (next is 's' or 't' or 'm' or 'd')
                    {
                        pos += 2;
                        Emit(output, ref previousEnd, pos);
                        continue;
                    }
                    if (pos + 2 < end)
                    {
                        int next2 = cps[pos + 2];
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l'))
                        {
                            pos += 3;
                            Emit(output, ref previousEnd, pos);
                            continue;
                        }
                    }
                }

                byte f2 = cpt == ' ' ? At(flags, pos + 1) : f;
                if (IsLetter(f2) || IsNumber(f2))
                {
                    bool letter = IsLetter(f2);
                    pos += cpt == ' ' ? 1 : 0;
                    while (letter ? IsLetter(f2) : IsNumber(f2))
                        f2 = At(flags, ++pos);
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                if (IsOther(f2))
                {
                    pos += cpt == ' ' ? 1 : 0;
                    while (IsOther(f2))
                        f2 = At(flags, ++pos);
                    Emit(output, ref previousEnd, pos);
                    continue;
                }

                int whitespace = 0;
                while (IsWhitespace(At(flags, pos + whitespace)))
                    whitespace++;
                if (whitespace > 1 && pos + whitespace < end)
                {
                    // \s+(?!\S): leave the last whitespace character to prefix the next word
                    pos += whitespace - 1;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                if (whitespace > 0)
                {
                    pos += whitespace;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                Emit(output, ref previousEnd, ++pos);
            }
        }
    }

    /// <summary>
    /// llama.cpp's hand-written splitter for Llama-3's pattern
    /// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    /// </summary>
    internal sealed class Llama3Split : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<int> cps = text.Codepoints[..end];
            ReadOnlySpan<byte> flags = text.Flags[..end];
            int pos = start;
            int previousEnd = start;
            while (pos < end)
            {
                int cpt = cps[pos];
                byte f = flags[pos];

                if (cpt == '\'' && pos + 1 < end)
                {
                    // (?i:...) — only ASCII letters lower-case to s/t/m/d/r/e/v/l in llama.cpp's case table
                    int next = AsciiLower(cps[pos + 1]);
                    if (next is 's' or 't' or 'm' or 'd')
                    {
                        pos += 2;
                        Emit(output, ref previousEnd, pos);
                        continue;
                    }
                    if (pos + 2 < end)
                    {
                        int next2 = AsciiLower(cps[pos + 2]);
                        if ((next == 'r' && next2 == 'e') || (next == 'v' && next2 == 'e') || (next == 'l' && next2 == 'l'))
                        {
                            pos += 3;
                            Emit(output, ref previousEnd, pos);
                            continue;
                        }
                    }
                }

                // [^\r\n\p{L}\p{N}]?\p{L}+
                if (!(cpt == '\r' || cpt == '\n' || IsNumber(f)))
                {
                    if (IsLetter(f) || IsLetter(At(flags, pos + 1)))
                    {
                        pos++;
                        while (IsLetter(At(flags, pos)))
                            pos++;
                        Emit(output, ref previousEnd, pos);
                        continue;
                    }
                }

                // \p{N}{1,3}
                if (IsNumber(f))
                {
                    int groupStart = pos;
                    while (IsNumber(At(flags, pos)))
                    {
                        if (++pos - groupStart >= 3)
                        {
                            Emit(output, ref previousEnd, pos);
                            groupStart = pos;
                        }
                    }
                    Emit(output, ref previousEnd, pos);
                    continue;
                }

                //  ?[^\s\p{L}\p{N}]+[\r\n]*  (llama.cpp tests the current character's flags for "in range" here)
                byte f2 = cpt == ' ' ? At(flags, pos + 1) : f;
                if (!IsWordOrSpace(f2) && f != 0)
                {
                    pos += cpt == ' ' ? 1 : 0;
                    while (IsOther(f2))
                        f2 = At(flags, ++pos);
                    while (pos < end && cps[pos] is '\r' or '\n')
                        pos++;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }

                int whitespace = 0;
                int afterLastNewline = 0;
                while (IsWhitespace(At(flags, pos + whitespace)))
                {
                    if (cps[pos + whitespace] is '\r' or '\n')
                        afterLastNewline = pos + whitespace + 1;
                    whitespace++;
                }
                if (afterLastNewline > 0)
                {
                    // \s*[\r\n]+
                    pos = afterLastNewline;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                if (whitespace > 1 && pos + whitespace < end)
                {
                    pos += whitespace - 1;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                if (whitespace > 0)
                {
                    pos += whitespace;
                    Emit(output, ref previousEnd, pos);
                    continue;
                }
                Emit(output, ref previousEnd, ++pos);
            }
        }

        private static int AsciiLower(int c) => c is >= 'A' and <= 'Z' ? c + 32 : c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte At(ReadOnlySpan<byte> flags, int pos) => (uint)pos < (uint)flags.Length ? flags[pos] : (byte)0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsLetter(byte f) => (f & CategoryMask) == Letter;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsNumber(byte f) => (f & CategoryMask) == Number;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsWhitespace(byte f) => (f & WhitespaceBit) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsWordOrSpace(byte f) => IsWhitespace(f) || IsLetter(f) || IsNumber(f);

    /// <summary>[^\s\p{L}\p{N}] and inside the chunk (llama.cpp's "flags.as_uint() != 0").</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool IsOther(byte f) => f != 0 && !IsWordOrSpace(f);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Emit(List<int> output, ref int previousEnd, int end)
    {
        if (end > previousEnd)
            output.Add(end - previousEnd);
        previousEnd = end;
    }
}
