namespace SeekSharp.Tokenization;

internal sealed partial class PreTokenizer
{
    // Hand-written equivalents of llama.cpp's std::regex splits for the patterns DeepSeek models use. They walk the
    // collapsed text (see CollapsedRegex) with the regex's exact leftmost-first semantics; tests check them against
    // the translated regexes (RegexSplit) on large random inputs.

    [Flags]
    private enum C : ushort
    {
        L = 1,        // \p{L} in collapsed text: the letter marker and A-Za-z
        N = 2,        // \p{N}: the number marker and 0-9
        P = 4,        // \p{P}: the punctuation marker and llama.cpp's ASCII punctuation
        S = 8,        // \p{S}: the symbol marker and $+<=>^`|
        M = 16,       // \p{M}: the mark marker
        Space = 32,   // \s: \t \n \v \f \r and ' '
        CrLf = 64,    // \r \n
        AsciiLetter = 128,
        AsciiPunct = 256,  // deepseek-v3's [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]
    }

    private static readonly C[] s_classes = BuildClasses();

    private static C[] BuildClasses()
    {
        var t = new C[256];
        for (int c = 'A'; c <= 'Z'; c++) t[c] |= C.L | C.AsciiLetter;
        for (int c = 'a'; c <= 'z'; c++) t[c] |= C.L | C.AsciiLetter;
        for (int c = '0'; c <= '9'; c++) t[c] |= C.N;
        foreach (char c in "!\"#%&'()*,-./:;?@[\\]_{}") t[c] |= C.P;
        foreach (char c in "$+<=>^`|") t[c] |= C.S;
        foreach (char c in "\t\n\v\f\r ") t[c] |= C.Space;
        t['\r'] |= C.CrLf;
        t['\n'] |= C.CrLf;
        foreach (char c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") t[c] |= C.AsciiPunct;
        t[CodepointInfo.CollapsedLetter] |= C.L;
        t[CodepointInfo.CollapsedNumber] |= C.N;
        t[CodepointInfo.CollapsedPunctuation] |= C.P;
        t[CodepointInfo.CollapsedSymbol] |= C.S;
        t[CodepointInfo.CollapsedMark] |= C.M;
        return t;
    }

    /// <summary>Runs a matcher over each chunk like std::regex_iterator: matches are words, and so are the gaps between them.</summary>
    internal sealed class FastSplit : SplitStep
    {
        private readonly bool _deepseekV3;

        private FastSplit(bool deepseekV3) => _deepseekV3 = deepseekV3;

        /// <summary>llama.cpp's Qwen2 pattern.</summary>
        public static FastSplit Qwen2 { get; } = new(deepseekV3: false);

        /// <summary>The third (main) pattern of llama.cpp's deepseek-v3 pre-tokenizer.</summary>
        public static FastSplit DeepseekV3 { get; } = new(deepseekV3: true);

        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<char> collapsed = text.Collapsed;
            int gapStart = start;
            int p = start;
            while (p < end)
            {
                int length = _deepseekV3 ? MatchDeepseekV3(collapsed, p, end) : MatchQwen2(collapsed, p, end);
                if (length == 0)
                {
                    p++;
                    continue;
                }
                if (p > gapStart)
                    output.Add(p - gapStart);
                output.Add(length);
                p += length;
                gapStart = p;
            }
            if (end > gapStart)
                output.Add(end - gapStart);
        }
    }

    private static C Class(ReadOnlySpan<char> text, int i) => s_classes[(byte)text[i]];

    // (?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    private static int MatchQwen2(ReadOnlySpan<char> t, int p, int end)
    {
        int contraction = Contraction(t, p, end);
        if (contraction > 0)
            return contraction;

        C c = Class(t, p);
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if ((c & (C.CrLf | C.L | C.N)) == 0 && p + 1 < end && (Class(t, p + 1) & C.L) != 0)
            return 1 + Run(t, p + 1, end, C.L);
        if ((c & C.L) != 0)
            return Run(t, p, end, C.L);
        // \p{N}
        if ((c & C.N) != 0)
            return 1;
        //  ?[^\s\p{L}\p{N}]+[\r\n]*
        int q = p;
        if (t[p] == ' ' && p + 1 < end && (Class(t, p + 1) & (C.Space | C.L | C.N)) == 0)
            q = p + 1;
        if ((Class(t, q) & (C.Space | C.L | C.N)) == 0)
        {
            q += RunNot(t, q, end, C.Space | C.L | C.N);
            q += Run(t, q, end, C.CrLf);
            return q - p;
        }
        return Whitespace(t, p, end);
    }

    // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
    private static int MatchDeepseekV3(ReadOnlySpan<char> t, int p, int end)
    {
        C c = Class(t, p);
        if ((c & C.AsciiPunct) != 0 && p + 1 < end && (Class(t, p + 1) & C.AsciiLetter) != 0)
            return 1 + Run(t, p + 1, end, C.AsciiLetter);
        // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+
        if ((c & (C.CrLf | C.L | C.P | C.S)) == 0 && p + 1 < end && (Class(t, p + 1) & (C.L | C.M)) != 0)
            return 1 + Run(t, p + 1, end, C.L | C.M);
        if ((c & (C.L | C.M)) != 0)
            return Run(t, p, end, C.L | C.M);
        //  ?[\p{P}\p{S}]+[\r\n]*
        int q = p;
        if (t[p] == ' ' && p + 1 < end && (Class(t, p + 1) & (C.P | C.S)) != 0)
            q = p + 1;
        if ((Class(t, q) & (C.P | C.S)) != 0)
        {
            q += Run(t, q, end, C.P | C.S);
            q += Run(t, q, end, C.CrLf);
            return q - p;
        }
        return Whitespace(t, p, end);
    }

    private static int Contraction(ReadOnlySpan<char> t, int p, int end)
    {
        if (t[p] != '\'' || p + 1 >= end)
            return 0;
        char x = (char)(t[p + 1] | 0x20); // ASCII lower case; non-ASCII markers cannot become a letter this way
        if (t[p + 1] is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z'))
        {
            if (x is 's' or 't' or 'm' or 'd')
                return 2;
            if (p + 2 < end && t[p + 2] is (>= 'A' and <= 'Z') or (>= 'a' and <= 'z'))
            {
                char y = (char)(t[p + 2] | 0x20);
                if ((x == 'r' && y == 'e') || (x == 'v' && y == 'e') || (x == 'l' && y == 'l'))
                    return 3;
            }
        }
        return 0;
    }

    // \s*[\r\n]+ | \s+(?!\S) | \s+   at p; 0 if p is not whitespace
    private static int Whitespace(ReadOnlySpan<char> t, int p, int end)
    {
        int q = p;
        int afterNewline = -1;
        while (q < end && (Class(t, q) & C.Space) != 0)
        {
            if ((Class(t, q) & C.CrLf) != 0)
                afterNewline = q + 1;
            q++;
        }
        if (q == p)
            return 0;
        if (afterNewline > 0)
            return afterNewline - p;          // \s*[\r\n]+ ends after the run's last CR/LF
        if (q < end && q - p > 1)
            return q - p - 1;                  // \s+(?!\S) leaves one space before the next word
        return q - p;
    }

    private static int Run(ReadOnlySpan<char> t, int p, int end, C mask)
    {
        int q = p;
        while (q < end && (Class(t, q) & mask) != 0)
            q++;
        return q - p;
    }

    private static int RunNot(ReadOnlySpan<char> t, int p, int end, C mask)
    {
        int q = p;
        while (q < end && (Class(t, q) & mask) == 0)
            q++;
        return q - p;
    }

    /// <summary>\p{N}{1,3} on collapsed text: runs of numbers cut into groups of three, from the left.</summary>
    internal sealed class NumberGroupsSplit : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<char> t = text.Collapsed;
            int gapStart = start;
            int p = start;
            while (p < end)
            {
                if ((Class(t, p) & C.N) == 0)
                {
                    p++;
                    continue;
                }
                if (p > gapStart)
                    output.Add(p - gapStart);
                int run = Run(t, p, end, C.N);
                for (; run > 3; run -= 3, p += 3)
                    output.Add(3);
                output.Add(run);
                p += run;
                gapStart = p;
            }
            if (end > gapStart)
                output.Add(end - gapStart);
        }
    }
}
