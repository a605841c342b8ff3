using System.Buffers.Binary;
using System.Text;
using SeekSharp.Gguf;
using SeekSharp.Tokenization;

namespace SeekSharp.Tests.Tokenization;

public sealed class BpeTokenizerTests
{
    private static BpeTokenizer DeepSeek => TokenizerTestData.Tokenizer("deepseek-v3");
    private static BpeTokenizer Qwen => TokenizerTestData.Tokenizer("qwen3");

    [Fact]
    public void HuggingFaceJsonIsConvertedLikeConvertHfToGguf()
    {
        Vocabulary ds = TokenizerTestData.Vocabulary("deepseek-v3");
        Assert.Equal("deepseek-v3", ds.PreTokenizer);
        Assert.Equal(128815, ds.Tokens.Length);
        Assert.Equal(TokenType.Control, ds.TokenTypes[0]);
        Assert.Equal("<｜begin▁of▁sentence｜>", ds.Tokens[0]);
        Assert.Equal(TokenType.Control, ds.TokenTypes[128803]); // <｜User｜>: not "special" in the json, but looks special
        Assert.Equal(TokenType.Normal, ds.TokenTypes[1000]);
        Assert.Equal(127741, ds.Merges.Length);
        Assert.Equal((0, 1, true, false), (ds.BosId, ds.EosId, ds.AddBos, ds.AddEos));

        Vocabulary qwen = TokenizerTestData.Vocabulary("qwen3");
        Assert.Equal("qwen2", qwen.PreTokenizer);
        Assert.Equal(151669, qwen.Tokens.Length);
        Assert.Equal("Ġ Ġ", qwen.Merges[0]); // merges given as pairs are joined with a space
        Assert.Equal((-1, 151645, 151643, false), (qwen.BosId, qwen.EosId, qwen.PadId, qwen.AddBos));
    }

    [Fact]
    public void EncodesKnownSequences()
    {
        // ids as llama.cpp gives them (checked by the conformance tests); pins behaviour without loading llama.cpp
        Assert.Equal([0, 19923, 2058], DeepSeek.Encode("Hello world"));
        Assert.Equal([19923, 2058], DeepSeek.Encode("Hello world", addSpecial: false));
        int user = DeepSeek.TokenId("<｜User｜>");
        Assert.Equal(128803, user);
        Assert.Contains(user, DeepSeek.Encode("<｜User｜>Hi", addSpecial: false, parseSpecial: true));
        Assert.DoesNotContain(user, DeepSeek.Encode("<｜User｜>Hi", addSpecial: false, parseSpecial: false));
        // user-defined tokens are split out even without parse_special
        int think = Qwen.TokenId("<think>");
        Assert.Equal([think], Qwen.Encode("<think>", addSpecial: false, parseSpecial: false));
        Assert.Equal("<think>", Qwen.Decode([think], renderSpecial: false));
    }

    [Fact]
    public void HeapAndSmallMergePathsAgree()
    {
        var rng = new Random(5);
        var small = new List<int>();
        var heap = new List<int>();
        foreach (BpeTokenizer tok in (BpeTokenizer[])[DeepSeek, Qwen])
        {
            foreach (string text in TokenizerTestData.Texts.Concat(TokenizerTestData.RandomTexts(300, 11)))
            {
                // whole texts as single "words" give long, varied byte sequences
                for (int start = 0; start < text.Length; start += 1 + rng.Next(40))
                {
                    int length = Math.Min(text.Length - start, 1 + rng.Next(BpeTokenizer.SmallWordLimit));
                    if (char.IsLowSurrogate(text[start]) || (length < text.Length - start && char.IsHighSurrogate(text[start + length - 1])))
                        continue;
                    ReadOnlySpan<char> word = text.AsSpan(start, length);
                    small.Clear();
                    heap.Clear();
                    tok.EncodeWord(word, small);
                    tok.EncodeWord(word, heap, forceHeap: true);
                    Assert.Equal(small, heap);
                }
            }
        }
    }

    [Fact]
    public void CachedAndParallelEncodingGiveTheSameIds()
    {
        var tok = new BpeTokenizer(TokenizerTestData.Vocabulary("qwen3"));
        string[] texts = [.. TokenizerTestData.Texts, .. TokenizerTestData.RandomTexts(200, 21)];
        int[][] first = texts.Select(t => tok.Encode(t)).ToArray();
        int[][] again = new int[texts.Length][];
        Parallel.For(0, texts.Length, i => again[i] = tok.Encode(texts[i]));
        for (int i = 0; i < texts.Length; i++)
            Assert.Equal(first[i], again[i]);
    }

    [Fact]
    public void LoneSurrogatesEncodeAsReplacementCharacter()
    {
        Assert.Equal(DeepSeek.Encode("a\uFFFDb\uFFFD"), DeepSeek.Encode("a\uD800b\uDC00"));
        Assert.Equal(DeepSeek.Encode("x\uFFFD"), DeepSeek.Encode("x\uD83D"));
    }

    [Fact]
    public void DecodeRoundTripsText()
    {
        foreach (string text in TokenizerTestData.Texts.Where(t => !t.Contains('\uFFFF')))
        {
            Assert.Equal(text, DeepSeek.Decode(DeepSeek.Encode(text, addSpecial: false, parseSpecial: false)));
            Assert.Equal(text, Qwen.Decode(Qwen.Encode(text, addSpecial: false, parseSpecial: true)));
        }
        Assert.Equal("Hi", DeepSeek.Decode(DeepSeek.Encode("Hi"), renderSpecial: false));
        Assert.Equal("<｜begin▁of▁sentence｜>Hi", DeepSeek.Decode(DeepSeek.Encode("Hi"), renderSpecial: true));
    }

    [Fact]
    public void EndOfGenerationTokens()
    {
        Assert.True(DeepSeek.IsEndOfGeneration(1));
        Assert.False(DeepSeek.IsEndOfGeneration(0));
        Assert.False(DeepSeek.IsEndOfGeneration(-1));
        Assert.False(DeepSeek.IsEndOfGeneration(DeepSeek.VocabSize));
        foreach (string t in (string[])["<|im_end|>", "<|endoftext|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"])
            Assert.True(Qwen.IsEndOfGeneration(Qwen.TokenId(t)), t);
        Assert.False(Qwen.IsEndOfGeneration(Qwen.TokenId("<|im_start|>")));
        Assert.False(Qwen.IsEndOfGeneration(Qwen.TokenId("</think>")));
    }

    [Fact]
    public void StreamingDecoderNeverSplitsACharacter()
    {
        foreach (BpeTokenizer tok in (BpeTokenizer[])[DeepSeek, Qwen])
        {
            foreach (string text in (string[])["😀", "👨‍👩‍👧‍👦 family", "🇫🇷🇯🇵", "a😀b🤖c", "中文测试", "𠀀𪜀", "é\u0301", .. TokenizerTestData.Texts])
            {
                int[] ids = tok.Encode(text, addSpecial: false, parseSpecial: true);
                foreach (bool render in (ReadOnlySpan<bool>)[true, false])
                {
                    var decoder = new StreamingDecoder(tok, render);
                    var sb = new StringBuilder();
                    foreach (int id in ids)
                    {
                        string piece = decoder.Push(id);
                        Assert.False(piece.Length > 0 && char.IsHighSurrogate(piece[^1]), "a surrogate pair was split");
                        if (!text.Contains('\uFFFD'))
                            Assert.False(piece.Contains('\uFFFD'), $"U+FFFD in piece of {Conformance.Escape(text)} render={render} ids=[{string.Join(' ', ids)}] at {id}");
                        sb.Append(piece);
                    }
                    sb.Append(decoder.Flush());
                    // no clean-up of spaces in streaming; these pre-tokenizers do none anyway
                    Assert.Equal(tok.Decode(ids, render), sb.ToString());
                }
            }
        }

        // an emoji is several byte tokens: nothing comes out until its last byte
        int[] emoji = DeepSeek.Encode("😀", addSpecial: false);
        Assert.True(emoji.Length > 1, "expected the emoji to take several tokens");
        var d = new StreamingDecoder(DeepSeek);
        for (int i = 0; i < emoji.Length - 1; i++)
            Assert.Equal("", d.Push(emoji[i]));
        Assert.Equal("😀", d.Push(emoji[^1]));
        // an unfinished character is flushed as U+FFFD
        d.Push(emoji[0]);
        Assert.Equal("\uFFFD", d.Flush());
        Assert.Equal("", d.Flush());
    }

    [Fact]
    public void TokenBytesOfByteTokensAndControlTokens()
    {
        int space = DeepSeek.TokenId("Ġ");
        Assert.Equal(" "u8.ToArray(), DeepSeek.TokenBytes(space).ToArray());
        Assert.Equal(Encoding.UTF8.GetBytes("<｜end▁of▁sentence｜>"), DeepSeek.TokenBytes(1).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => DeepSeek.TokenBytes(DeepSeek.VocabSize).Length);
    }

    [Fact]
    public void GgufRoundTrip()
    {
        Vocabulary v = TokenizerTestData.Vocabulary("qwen3");
        var writer = new GgufWriter();
        writer.Set("general.architecture", "llama");
        GgufVocabulary.Write(writer, TokenizerTestData.WithPreTokenizer(v, "deepseek-r1-qwen"));
        var stream = new MemoryStream();
        writer.WriteTo(stream);
        using GgufFile file = GgufFile.FromMemory(stream.ToArray());
        Vocabulary read = GgufVocabulary.Read(file);
        Assert.Equal(v.Tokens, read.Tokens);
        Assert.Equal(v.TokenTypes, read.TokenTypes);
        Assert.Equal(v.Merges, read.Merges);
        Assert.Equal("deepseek-r1-qwen", read.PreTokenizer);
        Assert.Equal(v.EosId, read.EosId);
        Assert.Equal(v.PadId, read.PadId);
        Assert.Equal(11, read.BosId); // absent: llama.cpp's default for gpt2 vocabularies
        Assert.Equal(v.AddBos, read.AddBos);
        var tok = new BpeTokenizer(read);
        foreach (string text in TokenizerTestData.Texts)
            Assert.Equal(Qwen.Encode(text), tok.Encode(text));
    }

    [Fact]
    public void GgufDefaultsFollowLlamaCpp()
    {
        var writer = new GgufWriter();
        writer.Set(GgufVocabulary.ModelKey, "gpt2");
        writer.Set(GgufVocabulary.PreKey, "llama-bpe");
        writer.Set(GgufVocabulary.TokensKey, Enumerable.Range(0, 20).Select(i => ByteLevel.ByteToChar((byte)('A' + i)).ToString()).ToArray());
        writer.Set(GgufVocabulary.MergesKey, Array.Empty<string>());
        writer.Set(GgufVocabulary.EosKey, 99u); // out of range: ignored
        var stream = new MemoryStream();
        writer.WriteTo(stream);
        using GgufFile file = GgufFile.FromMemory(stream.ToArray());
        Vocabulary read = GgufVocabulary.Read(file);
        Assert.All(read.TokenTypes, t => Assert.Equal(TokenType.Normal, t));
        Assert.Equal((11, 11, -1), (read.BosId, read.EosId, read.EotId));
        Assert.True(read.AddBos); // llama-bpe adds BOS unless told otherwise
        Assert.False(read.AddEos);
        var tok = new BpeTokenizer(read);
        Assert.Equal([11, 0, 1, 2], tok.Encode("ABC"));
    }

    [Fact]
    public void RejectsInconsistentVocabularies()
    {
        Assert.Throws<ArgumentException>(() => new BpeTokenizer(new Vocabulary { Tokens = ["a", "b"], TokenTypes = [TokenType.Normal], Merges = [] }));
        Assert.Throws<ArgumentException>(() => new BpeTokenizer(new Vocabulary { Tokens = ["a"], TokenTypes = [TokenType.Normal], Merges = [], AddBos = true }));
        Assert.Throws<NotSupportedException>(() => new BpeTokenizer(new Vocabulary { Tokens = ["a"], TokenTypes = [TokenType.Normal], Merges = [], PreTokenizer = "nope" }));
    }

    [Fact]
    public void SmallVocabularyMergesAndFallsBack()
    {
        // merges whose results are not tokens: llama.cpp then emits the single-byte tokens it can find
        string[] tokens = ["a", "b", "c", "ab", "Ġ", "<|x|>"];
        var v = new Vocabulary
        {
            Tokens = tokens,
            TokenTypes = [TokenType.Normal, TokenType.Normal, TokenType.Normal, TokenType.Normal, TokenType.Normal, TokenType.Control],
            Merges = ["a b", "ab c", "Ġ a"],
            PreTokenizer = "gpt-2",
        };
        var tok = new BpeTokenizer(v);
        Assert.Equal([3], tok.Encode("ab", addSpecial: false));
        Assert.Equal([0, 1, 2], tok.Encode("abc", addSpecial: false)); // "abc" is not a token: bytes a, b, c
        Assert.Equal([2, 3], tok.Encode("cab", addSpecial: false));
        Assert.Equal([4, 3, 5, 1], tok.Encode(" ab<|x|>b", addSpecial: false));
        Assert.Equal(" ab<|x|>b", tok.Decode([4, 3, 5, 1]));
        Assert.Equal(" abb", tok.Decode([4, 3, 5, 1], renderSpecial: false));
    }

    [Fact]
    public void UnicodeTableIsLlamaCpps()
    {
        // The category table compiled into llama.cpp: (uint32 start, uint16 flags, padding) entries from 0 to 0x110000.
        string? lib = Directory.Exists(Path.Combine(AppContext.BaseDirectory, "runtimes"))
            ? Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "runtimes"), "libllama.so", SearchOption.AllDirectories)
                .FirstOrDefault(p => p.Contains("linux-x64", StringComparison.Ordinal))
            : null;
        Assert.NotNull(lib);
        byte[] data = File.ReadAllBytes(lib);
        byte[] anchor = [0, 0, 0, 0, 0x80, 0, 0, 0, 0x20, 0, 0, 0, 0x08, 0, 0, 0, 0x21, 0, 0, 0, 0x20, 0];
        int at = data.AsSpan().IndexOf(anchor);
        Assert.True(at >= 0, "flag table not found in libllama.so");
        var expected = new List<(int, CodepointCategory)>();
        while (true)
        {
            int start = BinaryPrimitives.ReadInt32LittleEndian(data.AsSpan(at));
            int flags = BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(at + 4));
            at += 8;
            if (start >= 0x110000)
                break;
            expected.Add((start, flags switch
            {
                1 => CodepointCategory.Undefined,
                2 => CodepointCategory.Number,
                4 => CodepointCategory.Letter,
                8 => CodepointCategory.Separator,
                0x10 => CodepointCategory.Mark,
                0x20 => CodepointCategory.Punctuation,
                0x40 => CodepointCategory.Symbol,
                0x80 => CodepointCategory.Control,
                _ => throw new InvalidDataException($"flags {flags:X}"),
            }));
        }
        Assert.Equal(expected, CodepointInfo.Ranges().ToList());

        Assert.True(CodepointInfo.IsWhitespace(0x3000));
        Assert.True(CodepointInfo.IsWhitespace(0x85));
        Assert.False(CodepointInfo.IsWhitespace(0x200B));
        Assert.False(CodepointInfo.IsWhitespace(0x1C));
        Assert.Equal('\u00D5', CodepointInfo.Collapse('€'));
        Assert.Equal('\v', CodepointInfo.Collapse(0xA0));
        Assert.Equal('~', CodepointInfo.Collapse('~'));
    }
}
