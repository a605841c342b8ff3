using System.IO.Compression;
using System.Text;

namespace SeekSharp.Tests.Tokenization;

/// <summary>The text set of the Hugging Face conformance tests: the vendored Brown corpus sample (1.5 MB) cut into
/// documents of a few KB, plus hand-written and seeded multilingual, code, number, emoji, combining-mark,
/// whitespace and special-token texts.</summary>
internal static class HuggingFaceTestTexts
{
    public static string BrownPath => Path.Combine(AppContext.BaseDirectory, "TestData", "corpus", "brown", "brown-sample.txt.gz");

    public static string Brown()
    {
        using var gz = new GZipStream(File.OpenRead(BrownPath), CompressionMode.Decompress);
        using var reader = new StreamReader(gz, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>The Brown sample in pieces of about <paramref name="size"/> chars, cut after a line break.</summary>
    public static IEnumerable<string> BrownChunks(int size = 4096)
    {
        string all = Brown();
        int start = 0;
        while (start < all.Length)
        {
            int end = Math.Min(all.Length, start + size);
            int nl = end < all.Length ? all.IndexOf('\n', end) : -1;
            end = nl < 0 ? all.Length : nl + 1;
            yield return all[start..end];
            start = end;
        }
    }

    public static readonly string[] Samples =
    [
        "Le gouvernement a annoncé mercredi une série de mesures destinées à soutenir l'économie. « C'est un effort sans précédent », a déclaré la ministre. Les syndicats, eux, restent sceptiques : ils réclament des garanties sur l'emploi et les salaires.",
        "L'été où j'ai appris à nager, nous habitions près d'un lac. Chaque matin, à l'aube, mon père m'emmenait au ponton ; l'eau était froide, mais je n'osais pas me plaindre.",
        "人工智能技术的快速发展正在深刻改变各行各业。专家指出，未来十年内，自动化将取代大量重复性工作，同时也会创造新的就业机会。政府需要制定相应的政策，以应对这一挑战。",
        "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。床前明月光，疑是地上霜。举头望明月，低头思故乡。",
        "東京は日本の首都であり、世界で最も人口の多い都市圏の一つです。江戸時代には「江戸」と呼ばれていました。現在、東京には多くの観光名所があります。例えば、浅草寺やスカイツリーなどです。",
        "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所でニャーニャー泣いていた事だけは記憶している。",
        "اللغة العربية هي إحدى أكثر اللغات انتشاراً في العالم، ويتحدث بها أكثر من ٤٠٠ مليون نسمة. وهي لغة رسمية في ٢٢ دولة، كما أنها إحدى اللغات الرسمية الست في الأمم المتحدة.",
        "بِسْمِ اللَّهِ الرَّحْمَٰنِ الرَّحِيمِ ﴿١﴾ الْحَمْدُ لِلَّهِ رَبِّ الْعَالَمِينَ",
        "#include <stdio.h>\n\nint main(int argc, char **argv) {\n    for (int i = 0; i < argc; ++i)\n        printf(\"%d: %s\\n\", i, argv[i]);\n    return 0;\n}\n",
        "fn main() {\n    let v: Vec<u32> = (0..10).map(|x| x * x).collect();\n    println!(\"{:?}\", v);\n    if let Some(&m) = v.iter().max() { eprintln!(\"max={m}\"); }\n}\n",
        "package main\n\nimport \"fmt\"\n\nfunc main() {\n\tch := make(chan int, 3)\n\tgo func() { ch <- 42 }()\n\tfmt.Println(<-ch)\n}\n",
        "module Main where\n\nmain :: IO ()\nmain = mapM_ print [x | x <- [1..100], x `mod` 7 == 0]\n",
        "class Node:\n    def __init__(self, val, nxt=None):\n        self.val, self.nxt = val, nxt\n\n    def __repr__(self):\n        return f\"Node({self.val!r})\"\n",
        "SELECT u.id, COUNT(o.id) AS n\r\nFROM users u\r\nLEFT JOIN orders o ON o.user_id = u.id\r\nWHERE u.created_at >= '2024-01-01'\r\nGROUP BY u.id\r\nHAVING n > 3;\r\n",
        "<?php echo htmlspecialchars($_GET['q'] ?? '', ENT_QUOTES); ?>\n<script>document.querySelectorAll('a[href^=\"http\"]').forEach(a => a.target = '_blank');</script>",
        "\t\t\tindented with tabs\n\t\t\t\t\tdeeper\n\t \t \t mixed\r\n\r\n\r\n\t\r\n    \r\n",
        "3141592653589793238462643383279502884197169399375105820974944592307816406286208998628034825342117067982148086513282306647",
        "0000000000000000000000000000001 123,456,789.0123 ٠١٢٣٤٥٦٧٨٩٠١٢٣ ０１２３４５６７８９ 𝟎𝟏𝟐𝟑𝟒𝟓 ⁰¹²³⁴⁵ ₀₁₂₃",
        "👩‍💻👨‍👩‍👧‍👦🧑🏿‍🤝‍🧑🏻🏴󠁧󠁢󠁳󠁣󠁴󠁿 👁️‍🗨️ 🏳️‍⚧️ ❤️‍🔥 🫱🏼‍🫲🏾 🇪🇺🇺🇳 🔟 *️⃣ ☺︎ ☺️",
        "Ångström Å Å Å; café café; ﬀ ﬃ ＡＢＣ ｶﾞ ｶ\uFF9E ㌀ ℌ ℍ ① ⑴ ⒈ Ⅳ ⅳ ½ ̈ a\u0308 ä \u1E9B\u0323 \u0958 \u0915\u093C \u2126 \u212B \u00C5",
        "\uAC00\u11A8 \u1100\u1161\u11A8 \u1100\u1161 \u1112\u1161\u11AB\u1100\u1173\u11AF 한글 \u3131\u314F",
        "か\u3099 は\u309A カ\u3099 ヽ\u3099 \u304C \u3071 \u30AC",
        "q\u0307\u0323 q\u0323\u0307 \u1E0B\u0323 \u1E0D\u0307 a\u0301\u0316\u0300 e\u0328\u0301 \u05D1\u05BC\u05B0 \u0BCA \u0B92\u0BD7",
        "<｜begin▁of▁sentence｜><｜begin▁of▁sentence｜>x<｜end▁of▁sentence｜> <|endoftext|><|im_start|>user\n<|im_end|> <think>a</think> <tool_call> <｜User｜><｜Assistant｜>",
        "< ｜begin▁of▁sentence｜> <｜begin of sentence｜> <|im_start |> <|im_start|><|im_start|>> <<think>> </think</think>>",
    ];

    /// <summary>Seeded mixes: words from several scripts, code-like runs, digits, emoji with ZWJ, combining marks.</summary>
    public static IEnumerable<string> Generated(int count, int seed)
    {
        var rng = new Random(seed);
        string[][] alphabets =
        [
            [.. "abcdefghijklmnopqrstuvwxyzàâçéèêëîïôûùüÿœæ".Select(c => c.ToString())],
            [.. "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长".Select(c => c.ToString())],
            [.. "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをんがぎぐげござじずぜぞアイウエオカキクケコサシスセソタチツテトーッャュョ漢字語日本".Select(c => c.ToString())],
            [.. "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأؤإئةى".Select(c => c.ToString())],
            [.. "абвгдеёжзийклмнопрстуфхцчшщъыьэюя".Select(c => c.ToString())],
            [.. "αβγδεζηθικλμνξοπρστυφχψω".Select(c => c.ToString())],
            ["😀", "👍🏽", "👨‍👩‍👧", "🏳️‍🌈", "❤️", "🇫🇷", "✨", "🤖", "1️⃣", "🧑🏾‍🚀", "\u200D", "\uFE0F"],
            ["e\u0301", "a\u0300\u0323", "o\u0308\u0304", "\u0301", "\u0323\u0302", "n\u0303", "\u1100\u1161\u11A8", "\u1100\u1161", "\u11A8",
             "\u0915\u093C", "\u0928\u093C", "\u05D0\u05B7", "\u0627\u0653", "\u0B47\u0B3E", "\u0CC6\u0CD5", "\u3099", "\u304B\u3099", "\u0345\u0301"],
            [.. "0123456789".Select(c => c.ToString()), "١٢٣", "۴۵۶", "१२३", "１２３", "½", "²", "Ⅻ", "𝟗"],
            ["if", "else", "return", "=>", "::", "->", "{", "}", "(", ")", ";", "//", "/*", "*/", "&&", "||", "!=", "==", "+=", "<<", ">>", "#[", "]", "@", "$x", "`"],
            [" ", " ", "  ", "\t", "\n", "\r\n", "\n\n", " \n", "\t\t", "\u00A0", "\u3000", "\u2028", "\r"],
            ["<｜begin▁of▁sentence｜>", "<|im_end|>", "<think>", "</think>", "<|endoftext|>", "<｜User｜>", "<tool_call>", "<|fim_pad|>", "<|im_start|>"],
            ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'ſ", "'K"],
        ];
        var sb = new StringBuilder();
        for (int k = 0; k < count; k++)
        {
            sb.Clear();
            int words = rng.Next(1, 60);
            string[] alphabet = alphabets[rng.Next(alphabets.Length)];
            for (int w = 0; w < words; w++)
            {
                if (rng.NextDouble() < 0.3)
                    alphabet = alphabets[rng.Next(alphabets.Length)];
                int length = rng.Next(1, 9);
                for (int i = 0; i < length; i++)
                    sb.Append(alphabet[rng.Next(alphabet.Length)]);
                if (rng.NextDouble() < 0.7)
                    sb.Append(rng.NextDouble() < 0.8 ? " " : rng.NextDouble() < 0.5 ? ", " : ".\n");
            }
            yield return sb.ToString();
        }
    }

    /// <summary>Texts with unpaired surrogates (which the reference refuses; we read each as U+FFFD).</summary>
    public static readonly string[] LoneSurrogates =
    [
        "a\uD800b", "\uDC00x", "x\uD83D", "\uDE00\uD83D", "ok \uD83D\uDE00 \uD83D end", "\uD800\uD800\uDC00", "<think>\uDFFF</think>",
    ];
}
