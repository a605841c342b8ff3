using System.Text.RegularExpressions;

namespace SeekSharp.Tokenization;

/// <summary>
/// Splits raw text into words the way llama.cpp's BPE pre-tokenizer does for a given tokenizer.ggml.pre name: a list
/// of split steps, each refining the chunks the previous one produced (llama.cpp's unicode_regex_split). llama.cpp
/// runs two of its patterns (GPT-2's and Llama-3's) with hand-written splitters, the others with std::regex on
/// category-collapsed text or std::wregex on code points; each step here reproduces what llama.cpp runs.
/// </summary>
internal sealed partial class PreTokenizer
{
    private readonly SplitStep[] _steps;

    private PreTokenizer(string name, bool ignoreMerges, bool cleanSpaces, bool defaultAddBos, params SplitStep[] steps)
    {
        Name = name;
        IgnoreMerges = ignoreMerges;
        CleanSpaces = cleanSpaces;
        DefaultAddBos = defaultAddBos;
        _steps = steps;
    }

    /// <summary>The canonical name of the pre-tokenizer family.</summary>
    public string Name { get; }

    /// <summary>A word that is itself a token is taken as is, without running merges (llama.cpp's ignore_merges).</summary>
    public bool IgnoreMerges { get; }

    /// <summary>llama.cpp's clean_spaces (clean_up_tokenization_spaces) applied by detokenize.</summary>
    public bool CleanSpaces { get; }

    /// <summary>llama.cpp's add_bos default for this pre-tokenizer when tokenizer.ggml.add_bos_token is absent.</summary>
    public bool DefaultAddBos { get; }

    /// <summary>Splits <paramref name="text"/> into words; appends their lengths (in code points) to <paramref name="words"/>.</summary>
    public void Split(PreTokenizerText text, List<int> words, List<int> scratch)
    {
        words.Clear();
        if (text.Length == 0)
            return;
        words.Add(text.Length);
        foreach (var step in _steps)
        {
            scratch.Clear();
            step.Split(text, words, scratch);
            words.Clear();
            words.AddRange(scratch);
        }
    }

    /// <summary>The pre-tokenizer llama.cpp uses for this tokenizer.ggml.pre value (empty means "default").</summary>
    public static PreTokenizer ForName(string? name)
    {
        switch (name ?? "")
        {
            case "" or "default":
                return s_default.Value;
            case "llama3" or "llama-v3" or "llama-bpe" or "falcon3" or "falcon-h1" or "pixtral" or "midm-2.0" or "lfm2" or "jina-v5-nano":
                return s_llama3.Value;
            case "dbrx" or "smaug-bpe":
                return s_dbrx.Value;
            case "glm4" or "chatglm-bpe":
                return s_chatglm4.Value;
            case "deepseek-llm":
                return s_deepseekLlm.Value;
            case "deepseek-coder":
                return s_deepseekCoder.Value;
            case "deepseek-v3" or "hunyuan-dense" or "joyai-llm" or "hy_v4":
                return s_deepseekV3.Value;
            case "qwen2" or "deepseek-r1-qwen" or "kormo" or "f2llmv2" or "hunyuan" or "solar-open" or "megrez":
                return s_qwen2.Value;
            case "stablelm2":
                return s_stablelm2.Value;
            case "qwen35":
                return s_qwen35.Value;
            case "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v2-es" or "jina-v2-de" or "a.x-4.0" or "mellum"
                or "modern-bert" or "jina-v1-en" or "jina-v2-code" or "roberta-bpe" or "mpt" or "olmo" or "jais" or "exaone4":
                return s_gpt2.Value;
            case "trillion" or "granite-docling":
                return s_gpt2NoClean.Value;
            case "starcoder" or "refact" or "codeshell" or "exaone" or "minerva-7b" or "mellum2":
                return s_starcoder.Value;
            case "command-r" or "smollm":
                return s_starcoderNoClean.Value;
            case "falcon":
                return s_falcon.Value;
            default:
                throw new NotSupportedException($"unknown or unsupported pre-tokenizer type: '{name}'");
        }
    }

    // llama.cpp's pattern strings, kept verbatim (C escapes written the same way) so they can be checked against
    // llama-vocab.cpp. The generated .NET regexes below are CollapsedRegex.Translate of these (asserted by tests).
    internal const string LlamaDeepseekV3Main =
        "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+";
    internal const string LlamaQwen2 =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    internal const string LlamaQwen35 =
        "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    internal const string LlamaNumber1To3 = "\\p{N}{1,3}";
    internal const string LlamaNumber = "\\p{N}";
    internal const string LlamaNumbers = "\\p{N}+";
    internal const string LlamaSpaceLetters = "\\s?\\p{L}+";
    internal const string LlamaSpacePunctuation = "\\s?\\p{P}+";
    internal const string LlamaDefaultPunctuation = "[\\p{P}\\$\\+<=>\\^~\\|]+";
    internal const string LlamaFalconPunctuation = "[\\p{P}\\$\\+<=>\\^~\\|`]+";

    // Translations (see CollapsedRegex) of the patterns above, compiled at build time. The tokenizer runs hand-written
    // equivalents (PreTokenizer.Fast.cs); these are the reference the tests hold them to.
    internal const string DeepseekV3MainPattern = @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\u00D2A-Za-z\u00D3!-#%-*,-/:-;?-@\[-\]_\{\}\u00D5\$\+<->\^`\|]?[\u00D2A-Za-z\u00D4]+| ?[\u00D3!-#%-*,-/:-;?-@\[-\]_\{\}\u00D5\$\+<->\^`\|]+[\r\n]*|[\t-\r ]*[\r\n]+|[\t-\r ]+(?![^\t-\r ])|[\t-\r ]+";
    internal const string Qwen2Pattern = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\u00D2A-Za-z\u00D10-9]?[\u00D2A-Za-z]+|[\u00D10-9]| ?[^\t-\r \u00D2A-Za-z\u00D10-9]+[\r\n]*|[\t-\r ]*[\r\n]+|[\t-\r ]+(?![^\t-\r ])|[\t-\r ]+";
    internal const string Number1To3Pattern = @"[\u00D10-9]{1,3}";

    [GeneratedRegex(DeepseekV3MainPattern, RegexOptions.CultureInvariant)]
    internal static partial Regex DeepseekV3MainRegex();

    [GeneratedRegex(Qwen2Pattern, RegexOptions.CultureInvariant)]
    internal static partial Regex Qwen2Regex();

    [GeneratedRegex(Number1To3Pattern, RegexOptions.CultureInvariant)]
    internal static partial Regex Number1To3Regex();

    // deepseek-llm's letter class (cased letters, hand-listed in llama.cpp); its supplementary-plane ranges are
    // handled by PreTokenizerText.Wide, which maps them to 'µ'.
    internal const string DeepseekLlmLetters =
        @"[\t-\r ]?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A]+";
    internal const string DeepseekLlmPunctuation = @"[\t-\r ]?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+";

    private static readonly Lazy<PreTokenizer> s_llama3 = new(() => new("llama-bpe", ignoreMerges: true, cleanSpaces: true, defaultAddBos: true, new Llama3Split()));
    private static readonly Lazy<PreTokenizer> s_dbrx = new(() => new("dbrx", false, true, false, new Llama3Split()));
    private static readonly Lazy<PreTokenizer> s_chatglm4 = new(() => new("chatglm-bpe", false, true, false, new Llama3Split()));
    private static readonly Lazy<PreTokenizer> s_gpt2 = new(() => new("gpt-2", false, true, false, new Gpt2Split()));
    private static readonly Lazy<PreTokenizer> s_gpt2NoClean = new(() => new("trillion", false, false, false, new Gpt2Split()));
    private static readonly Lazy<PreTokenizer> s_qwen2 = new(() => new("qwen2", false, false, false, FastSplit.Qwen2));
    private static readonly Lazy<PreTokenizer> s_stablelm2 = new(() => new("stablelm2", false, true, false, FastSplit.Qwen2));
    private static readonly Lazy<PreTokenizer> s_qwen35 = new(() => new("qwen35", false, false, false, Collapsed(LlamaQwen35)));
    private static readonly Lazy<PreTokenizer> s_deepseekV3 = new(() => new("deepseek-v3", false, false, false,
        new NumberGroupsSplit(),
        new RunSplit(IsDeepseekV3Cjk),
        FastSplit.DeepseekV3));
    private static readonly Lazy<PreTokenizer> s_deepseekLlm = new(() => new("deepseek-llm", false, false, false,
        new NewlineSplit(),
        Wide(DeepseekLlmLetters),
        Wide(DeepseekLlmPunctuation),
        new TrailingWhitespaceSplit(),
        new RunSplit(IsDeepseekCjk),
        Collapsed(LlamaNumbers)));
    private static readonly Lazy<PreTokenizer> s_deepseekCoder = new(() => new("deepseek-coder", false, false, false,
        new NewlineSplit(),
        Collapsed(LlamaSpaceLetters),
        Collapsed(LlamaSpacePunctuation),
        new RunSplit(IsDeepseekCjk),
        Collapsed(LlamaNumber)));
    private static readonly Lazy<PreTokenizer> s_starcoder = new(() => new("starcoder", false, true, false, Collapsed(LlamaNumber), new Gpt2Split()));
    private static readonly Lazy<PreTokenizer> s_starcoderNoClean = new(() => new("smollm", false, false, false, Collapsed(LlamaNumber), new Gpt2Split()));
    private static readonly Lazy<PreTokenizer> s_falcon = new(() => new("falcon", false, true, false,
        Collapsed(LlamaFalconPunctuation), new Gpt2Split(), new AsciiDigitTriplesSplit()));
    private static readonly Lazy<PreTokenizer> s_default = new(() => new("default", false, true, false,
        Collapsed(LlamaDefaultPunctuation), new Gpt2Split(), Collapsed(LlamaNumbers), new AsciiDigitTriplesSplit()));

    // [一-龥぀-ゟ゠-ヿ] of deepseek-v3.
    internal static bool IsDeepseekV3Cjk(char c) => c is (>= '\u4E00' and <= '\u9FA5') or (>= '\u3040' and <= '\u309F') or (>= '\u30A0' and <= '\u30FF');

    // [一-龥ࠀ-一가-퟿] of deepseek-llm and deepseek-coder.
    private static bool IsDeepseekCjk(char c) => c is (>= '\u4E00' and <= '\u9FA5') or (>= '\u0800' and <= '\u4E00') or (>= '\uAC00' and <= '\uD7FF');

    private static RegexSplit Collapsed(string llamaPattern) =>
        new(new Regex(CollapsedRegex.Translate(llamaPattern), RegexOptions.CultureInvariant | RegexOptions.Compiled), collapsed: true);

    private static RegexSplit Wide(string dotnetPattern) =>
        new(new Regex(dotnetPattern, RegexOptions.CultureInvariant | RegexOptions.Compiled), collapsed: false);

    /// <summary>One split step: refines each incoming chunk into words.</summary>
    internal abstract class SplitStep
    {
        public void Split(PreTokenizerText text, List<int> chunks, List<int> output)
        {
            int start = 0;
            foreach (int length in chunks)
            {
                SplitChunk(text, start, start + length, output);
                start += length;
            }
        }

        /// <summary>Appends the lengths of the words of chunk [start, end) to <paramref name="output"/>; they must cover it.</summary>
        protected abstract void SplitChunk(PreTokenizerText text, int start, int end, List<int> output);
    }

    /// <summary>
    /// A regex run over the collapsed (or wide) text of each chunk, like std::regex_iterator over the chunk: every match
    /// is a word, and so is every gap between matches.
    /// </summary>
    internal sealed class RegexSplit(Regex regex, bool collapsed) : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<char> chunk = (collapsed ? text.Collapsed : text.Wide)[start..end];
            int previous = 0;
            foreach (ValueMatch m in regex.EnumerateMatches(chunk))
            {
                if (m.Length == 0)
                    continue;
                if (m.Index > previous)
                    output.Add(m.Index - previous);
                output.Add(m.Length);
                previous = m.Index + m.Length;
            }
            if (previous < chunk.Length)
                output.Add(chunk.Length - previous);
        }
    }

    /// <summary>
    /// A std::wregex pattern of the form [class]+ with a class of BMP code points: maximal runs of class members, and
    /// the gaps between. Runs on the wide view, where non-ASCII whitespace is '\v' as llama.cpp makes it (so e.g.
    /// U+2029 is not in deepseek-coder's range U+0800-U+4E00).
    /// </summary>
    internal sealed class RunSplit(Func<char, bool> inClass) : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<char> wide = text.Wide;
            int wordStart = start;
            int i = start;
            while (i < end)
            {
                if (!inClass(wide[i])) { i++; continue; }
                int runStart = i;
                while (i < end && inClass(wide[i]))
                    i++;
                if (runStart > wordStart)
                    output.Add(runStart - wordStart);
                output.Add(i - runStart);
                wordStart = i;
            }
            if (end > wordStart)
                output.Add(end - wordStart);
        }
    }

    /// <summary>[\r\n]: every CR and LF is a word of its own.</summary>
    internal sealed class NewlineSplit : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<int> cps = text.Codepoints;
            int wordStart = start;
            for (int i = start; i < end; i++)
            {
                if (cps[i] is '\r' or '\n')
                {
                    if (i > wordStart)
                        output.Add(i - wordStart);
                    output.Add(1);
                    wordStart = i + 1;
                }
            }
            if (end > wordStart)
                output.Add(end - wordStart);
        }
    }

    /// <summary>\s+$ (std::wregex, no multiline): the whitespace run that ends the chunk, if any.</summary>
    internal sealed class TrailingWhitespaceSplit : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<char> wide = text.Wide;
            int i = end;
            while (i > start && wide[i - 1] is (>= '\t' and <= '\r') or ' ')
                i--;
            if (i > start)
                output.Add(i - start);
            if (end > i)
                output.Add(end - i);
        }
    }

    /// <summary>[0-9][0-9][0-9] (std::wregex): non-overlapping ASCII digit triples, leftmost first.</summary>
    internal sealed class AsciiDigitTriplesSplit : SplitStep
    {
        protected override void SplitChunk(PreTokenizerText text, int start, int end, List<int> output)
        {
            ReadOnlySpan<int> cps = text.Codepoints;
            int wordStart = start;
            int i = start;
            while (i + 3 <= end)
            {
                if (IsDigit(cps[i]) && IsDigit(cps[i + 1]) && IsDigit(cps[i + 2]))
                {
                    if (i > wordStart)
                        output.Add(i - wordStart);
                    output.Add(3);
                    i += 3;
                    wordStart = i;
                }
                else
                {
                    i++;
                }
            }
            if (end > wordStart)
                output.Add(end - wordStart);

            static bool IsDigit(int c) => c is >= '0' and <= '9';
        }
    }
}
