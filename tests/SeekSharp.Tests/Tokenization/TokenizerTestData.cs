using System.IO.Compression;
using System.Text;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

internal static class TokenizerTestData
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "TestData", "tokenizers");

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Vocabulary>> s_vocabularies = new();
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<BpeTokenizer>> s_tokenizers = new();

    /// <summary>A vendored vocabulary ("deepseek-v3" or "qwen3"), loaded once per test run.</summary>
    public static Vocabulary Vocabulary(string name) => s_vocabularies.GetOrAdd(name, n => new Lazy<Vocabulary>(() => LoadVocabulary(n))).Value;

    /// <summary>Our tokenizer for a vendored vocabulary, built once per test run.</summary>
    public static BpeTokenizer Tokenizer(string name) => s_tokenizers.GetOrAdd(name, n => new Lazy<BpeTokenizer>(() => new BpeTokenizer(Vocabulary(n)))).Value;

    /// <summary>Loads a vendored vocabulary from its gzip-compressed tokenizer files.</summary>
    public static Vocabulary LoadVocabulary(string name)
    {
        using var json = new GZipStream(File.OpenRead(Path.Combine(Directory, name, "tokenizer.json.gz")), CompressionMode.Decompress);
        using var config = new GZipStream(File.OpenRead(Path.Combine(Directory, name, "tokenizer_config.json.gz")), CompressionMode.Decompress);
        return HuggingFaceTokenizerJson.Load(json, config);
    }

    /// <summary>The same vocabulary under another tokenizer.ggml.pre.</summary>
    public static Vocabulary WithPreTokenizer(Vocabulary v, string pre, bool? addBos = null) => new()
    {
        Tokens = v.Tokens,
        TokenTypes = v.TokenTypes,
        Merges = v.Merges,
        PreTokenizer = pre,
        BosId = v.BosId,
        EosId = v.EosId,
        EotId = v.EotId,
        PadId = v.PadId,
        UnknownId = v.UnknownId,
        AddBos = addBos ?? v.AddBos,
        AddEos = v.AddEos,
    };

    /// <summary>Hand-picked texts covering scripts, code, numbers, emoji, whitespace and special-token spellings.</summary>
    public static readonly string[] Texts =
    [
        "",
        " ",
        "  ",
        "\n",
        "Hello world",
        "Hello, world! How are you doing today?",
        " leading space",
        "   three leading spaces and trailing   ",
        "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX!",
        "It's they're we've I'm you'll he'd IT'S THEY'RE WE'VE I'M YOU'LL HE'D 's 't 're 'LL 'Ll",
        "don't can't won't shouldn't y'all o'clock rock'n'roll ''quoted'' 'single'",
        "Le café est très bon, n'est-ce pas ? « Oui » — répondit-elle. Œuvre, garçon, naïve, Noël.",
        "Ça va? L'été dernier, j'ai vu l'île d'Oléron.",
        "我爱北京天安门，天安门上太阳升。这是一个测试句子，包含标点符号！",
        "深度求索（DeepSeek）是一家中国人工智能公司。2025年1月发布了DeepSeek-R1。",
        "日本語のテキスト：ひらがな、カタカナ、漢字が混ざっています。ｶﾀｶﾅ（半角）もあります。",
        "한국어 텍스트입니다. 안녕하세요! 반갑습니다.",
        "العربية: مرحبا بالعالم! هذا نص تجريبي ١٢٣٤٥٦٧٨٩٠.",
        "Русский текст: Привет, мир! Ёжик в тумане.",
        "Ελληνικά: Γειά σου Κόσμε! \u1F7D \u1FB3 \u1FFC \u1FBE \u1FD3 \u1FDB \u2126 \u212A \u212B ὗ Ὗ",
        "עברית: שלום עולם",
        "हिन्दी: नमस्ते दुनिया। ग्राम",
        "ไทย: สวัสดีชาวโลก",
        "public static int Add(int a, int b) { return a + b; } // C#\n\tvar x = new List<string>();\n",
        "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\nprint([fib(i) for i in range(10)])\n",
        "const f = async (x) => { await fetch(`/api/${x}?q=1&r=2`); return x ?? null; };\n/* comment */ let y = a!==b && c>=d || e<=f;",
        "<div class=\"main\"><p>HTML &amp; entities &lt;tag&gt;</p></div>",
        "{\"json\": [1, 2.5, -3e10, true, null], \"nested\": {\"k\": \"v\"}}",
        "SELECT * FROM users WHERE id = 42 AND name LIKE '%smith%';",
        "1234567890 12345678901234567890 007 3.14159 2,147,483,647 1_000_000 1.000.000,50 €1,234.56 $99.99 -42 +7 1e-9 0xFF",
        "١٢٣ ۴۵۶ ०१२३ ௧௨௩ 一二三 ①②③ ⅠⅡⅢ ½ ¾ ² ³",
        "Emoji: 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵🇺🇸 ❤️ ✨ 🤖 #️⃣ 1️⃣",
        "e\u0301 a\u0300\u0301\u0302 n\u0303 Z\u0351\u0352\u0353a\u0354\u0355lgo\u0356 \u0915\u094d\u0937",
        "tabs\tand\t\ttabs\nnew\nlines\r\nwindows\r\n\r\nand\rcarriage\n\n\n  \n \t \r\n",
        "trailing newline\n",
        "   \t\t  \n\n  x  \n",
        "no-break\u00a0space, thin\u2009space, ideographic\u3000space, nel\u0085next, zw\u200bsp, bom\ufeffbom, line\u2028sep",
        "<｜begin▁of▁sentence｜>You are helpful.<｜User｜>Hi<｜Assistant｜><think>\nhmm\n</think>\nHello!<｜end▁of▁sentence｜>",
        "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
        "<tool_call>{\"name\": \"f\"}</tool_call><tool_response>ok</tool_response><|endoftext|>",
        "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{}\n```<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
        "<|fim_prefix|>def f():<|fim_suffix|>\n<|fim_middle|> <|fim_pad|><|repo_name|><|file_sep|>",
        "<｜fim▁begin｜>a<｜fim▁hole｜>b<｜fim▁end｜>",
        "<｜begin▁of▁sentence｜><｜begin▁of▁sentence｜> nested <think><think></think></think> <<|im_end|>> <|im_start|<|im_start|>",
        "<|im_start <｜begin▁of▁sentence <think",
        "~tilde~ ~~ a~b `backtick` ^caret^ |pipe| \\backslash\\ @at #hash $dollar %percent &amp *star",
        "!!!??? ... ,,, ;;; ::: --- ___ === +++ ((( ))) [[[ ]]] {{{ }}} \"\"\" ''' ``` ~~~",
        "a\u00a0b\u2000c\u3000d \u3000 \u3000\u3000x",
        " \u2029", "a \u2028b \u2029", "\n \u2029\u205F", "x \u3000", "\u2029\u2029 \u3000\u3000",
        "Mixed: abc123def 456ghi7 x1y2z3 ABC_def-GHI.jkl",
        "Unicode symbols: © ® ™ ° ± × ÷ → ← ↑ ↓ ∀ ∃ ∈ ∑ ∏ √ ∞ ≈ ≠ ≤ ≥ ♠ ♣ ♥ ♦ € £ ¥ ₹ ₿",
        "Supplementary letters: 𐐀𐐁𐑏 𞤀𞤁 𝐀𝐁𝐂 𝔸𝔹 𠀀𠀁 𪜀",
        "Private use \ue000\uf8ff and noncharacters \ufdd0\uffff and \U0010FFFD and unassigned \u0378\u0380",
        "Control chars: \u0001\u0002\u001f\u007f\u0080\u009f end",
        "Korean jamo 각, compatibility ㄱㅏ, halfwidth ﾡ",
        "Long word: Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious",
        new string('a', 300),
        new string(' ', 70) + "x" + new string('\n', 40),
        string.Concat(Enumerable.Repeat("ab ", 50)),
        "The year 2024 had 366 days; π≈3.14159265358979; 100% of 1/3 is 0.333...",
        "Ünïcödé ÑOÑO straße STRASSE ǅ ǈ ǋ ﬁ ﬂ",
        "  ' '  \"  \" ' s ' m ' re ' ve ' ll ' t ' d . , ! ? ",
        "he said \"hello\" . she replied , \"bye\" ! ok ? yes 's 're 've 'll",
    ];

    /// <summary>Random strings drawn from pools of code points that exercise every class boundary.</summary>
    public static IEnumerable<string> RandomTexts(int count, int seed, int maxLength = 48)
    {
        int[][] pools =
        [
            Range('a', 'z'), Range('A', 'Z'), Range('0', '9'),
            [' ', ' ', ' ', '\t', '\n', '\r', '\v', '\f'],
            [.. "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~".Select(c => (int)c)],
            [0x00A0, 0x0085, 0x1680, 0x2000, 0x2007, 0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0xFEFF],
            Range(0x4E00, 0x4E40), [0x9FA5, 0x9FA6, 0x9FFF, 0x3400, 0x0800, 0xAC00, 0xD7A3, 0xD7FF], Range(0x3040, 0x30FF),
            Range(0xAC00, 0xAC20), Range(0x0600, 0x0660), Range(0x0900, 0x0970), Range(0x0E00, 0x0E5F),
            Range(0x0300, 0x036F), [0x200D, 0xFE0F, 0xFE0E, 0x20E3],
            Range(0x0370, 0x03FF), Range(0x1F00, 0x1FFF), Range(0x0400, 0x04FF), Range(0x00C0, 0x00FF),
            Range(0x2100, 0x214F), Range(0x2160, 0x2188), Range(0x2460, 0x24FF),
            Range(0x1F600, 0x1F64F), Range(0x1F1E6, 0x1F1FF), Range(0x1F3FB, 0x1F3FF),
            Range(0x10400, 0x1044F), Range(0x1E900, 0x1E95F), Range(0x1D400, 0x1D4FF), Range(0x20000, 0x20010),
            Range(0xFF01, 0xFF65), Range(0x2010, 0x205E), Range(0x3000, 0x303F),
            [0x0378, 0x0379, 0xE000, 0xFFFD, 0xFFFF, 0x10FFFD, 0x0CF3, 0x2FFC, 0x31EF, 0x1123F, 0x11B00],
            [0x01, 0x1F, 0x7F, 0x80, 0x9F, 0xAD, 0x061C],
            Range(0x0660, 0x0669), Range(0x06F0, 0x06F9), Range(0x0966, 0x096F), Range(0xFF10, 0xFF19),
        ];
        var fragments = new[]
        {
            "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", " '", "''",
            "<|im_start|>", "<|im_end|>", "<think>", "</think>", "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>",
            "<|endoftext|>", "<tool_call>", "<｜User｜>", "<|fim_pad|>", "\r\n", " \n", "  ", "123456",
        };
        var rng = new Random(seed);
        var sb = new StringBuilder();
        for (int k = 0; k < count; k++)
        {
            sb.Clear();
            int length = rng.Next(1, maxLength + 1);
            int[] pool = pools[rng.Next(pools.Length)];
            for (int i = 0; i < length; i++)
            {
                double r = rng.NextDouble();
                if (r < 0.05)
                    sb.Append(fragments[rng.Next(fragments.Length)]);
                else
                {
                    if (r < 0.35)
                        pool = pools[rng.Next(pools.Length)];
                    sb.Append(char.ConvertFromUtf32(pool[rng.Next(pool.Length)]));
                }
            }
            yield return sb.ToString();
        }

        static int[] Range(int first, int last) => Enumerable.Range(first, last - first + 1).ToArray();
    }
}
