using System.Collections.Concurrent;

namespace SeekSharp.Tokenization;

/// <summary>
/// Byte-level BPE tokenizer that reproduces llama.cpp's tokenizer for GGUF vocabularies with
/// tokenizer.ggml.model = "gpt2" (llama_tokenize / llama_detokenize / llama_token_to_piece / llama_vocab_is_eog).
/// Thread-safe: encoding and decoding may run concurrently.
/// </summary>
public sealed partial class BpeTokenizer
{
    // llama.cpp's llama_token_attr bits.
    [Flags]
    internal enum TokenAttributes
    {
        Undefined = 0,
        Unknown = 1 << 0,
        Unused = 1 << 1,
        Normal = 1 << 2,
        Control = 1 << 3,
        UserDefined = 1 << 4,
        Byte = 1 << 5,
        Normalized = 1 << 6,
        LStrip = 1 << 7,
        RStrip = 1 << 8,
        SingleWord = 1 << 9,
    }

    private readonly string[] _texts;                 // token text as llama.cpp holds it (empty ones renamed)
    private readonly TokenAttributes[] _attributes;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _tokenLookup;
    private readonly PreTokenizer _pre;
    private readonly bool[] _endOfGeneration;
    private readonly byte[]?[] _pieces;               // token_to_piece(special: true), built on demand
    private readonly HfPipeline? _hf;                 // set when built from tokenizer.json: Hugging Face semantics
    private readonly bool _ignoreMerges;

    /// <summary>Creates a tokenizer for <paramref name="vocab"/>.</summary>
    /// <exception cref="NotSupportedException">The pre-tokenizer name is unknown.</exception>
    /// <exception cref="ArgumentException">The vocabulary is inconsistent in a way llama.cpp refuses to load.</exception>
    public BpeTokenizer(Vocabulary vocab) : this(vocab, null)
    {
    }

    private BpeTokenizer(Vocabulary vocab, HfPipeline? hf)
    {
        ArgumentNullException.ThrowIfNull(vocab);
        Vocabulary = vocab;
        int n = vocab.Tokens.Length;
        if (vocab.TokenTypes.Length < n)
            throw new ArgumentException($"{vocab.TokenTypes.Length} token types for {n} tokens", nameof(vocab));
        _pre = PreTokenizer.ForName(vocab.PreTokenizer);
        _hf = hf;
        _ignoreMerges = hf?.IgnoreMerges ?? _pre.IgnoreMerges;

        _texts = new string[n];
        _tokenToId = new Dictionary<string, int>(n, StringComparer.Ordinal);
        for (int i = 0; i < n; i++)
        {
            string text = vocab.Tokens[i];
            if (string.IsNullOrEmpty(text))
                text = $"[EMPTY_{i}]"; // llama.cpp renames empty tokens the same way
            _texts[i] = text;
            if (hf is null || hf.Exists[i])
                _tokenToId.TryAdd(text, i);
        }
        _tokenLookup = _tokenToId.GetAlternateLookup<ReadOnlySpan<char>>();

        _attributes = new TokenAttributes[n];
        for (int i = 0; i < n; i++)
        {
            _attributes[i] = vocab.TokenTypes[i] switch
            {
                TokenType.Normal => TokenAttributes.Normal,
                TokenType.Unknown => TokenAttributes.Unknown,
                TokenType.Control => TokenAttributes.Control,
                TokenType.UserDefined => TokenAttributes.UserDefined,
                TokenType.Unused => TokenAttributes.Unused,
                TokenType.Byte => TokenAttributes.Byte,
                _ => TokenAttributes.Undefined,
            };
        }

        _endOfGeneration = new bool[n];
        DeriveSpecialTokens(vocab);

        if (vocab.AddBos && !IsValid(vocab.BosId))
            throw new ArgumentException("AddBos is set but BosId is not a token", nameof(vocab));
        if (vocab.AddEos && !IsValid(vocab.EosId))
            throw new ArgumentException("AddEos is set but EosId is not a token", nameof(vocab));

        BuildMerges(vocab.Merges, lastRankWins: hf is not null);
        BuildSpecialTokenIndex();
        _pieces = new byte[]?[n];
    }

    /// <summary>The vocabulary this tokenizer was built from.</summary>
    public Vocabulary Vocabulary { get; }

    /// <summary>Number of tokens.</summary>
    public int VocabSize => _texts.Length;

    /// <summary>The end-of-turn token llama.cpp uses (tokenizer.ggml.eot_token_id, else detected by text), or -1.</summary>
    public int EotId { get; private set; } = -1;

    /// <summary>True for tokens that end generation (llama_vocab_is_eog): EOS, EOT, and the other tokens llama.cpp
    /// recognises by their text (&lt;|im_end|&gt;, &lt;|endoftext|&gt;, &lt;｜end▁of▁sentence｜&gt;, FIM pad/repo/sep...).</summary>
    public bool IsEndOfGeneration(int id) => (uint)id < (uint)_endOfGeneration.Length && _endOfGeneration[id];

    /// <summary>The ids of all end-of-generation tokens.</summary>
    public IEnumerable<int> EndOfGenerationIds()
    {
        for (int i = 0; i < _endOfGeneration.Length; i++)
        {
            if (_endOfGeneration[i])
                yield return i;
        }
    }

    /// <summary>The token's text as stored in the vocabulary.</summary>
    public string TokenText(int id) => _texts[id];

    /// <summary>The id of the token whose vocabulary text is exactly <paramref name="text"/>, or -1.</summary>
    public int TokenId(ReadOnlySpan<char> text) => _tokenLookup.TryGetValue(text, out int id) ? id : -1;

    internal TokenAttributes Attributes(int id) => _attributes[id];

    internal PreTokenizer PreTokenizer => _pre;

    private bool IsValid(int id) => (uint)id < (uint)_texts.Length;

    // The special-token bookkeeping llama.cpp's llama_vocab::impl::load does after reading the token list:
    // detect EOT/EOM/FIM tokens by text, force control type on them, and collect the end-of-generation set.
    private void DeriveSpecialTokens(Vocabulary vocab)
    {
        int eot = IsValid(vocab.EotId) ? vocab.EotId : DetectByText(SpecialTokenTexts.Eot);
        int eom = DetectByText(SpecialTokenTexts.Eom);
        DetectByText(SpecialTokenTexts.FimPrefix);
        DetectByText(SpecialTokenTexts.FimSuffix);
        DetectByText(SpecialTokenTexts.FimMiddle);
        int fimPad = DetectByText(SpecialTokenTexts.FimPad);
        int fimRep = DetectByText(SpecialTokenTexts.FimRepo);
        int fimSep = DetectByText(SpecialTokenTexts.FimSep);
        EotId = eot;

        foreach (int id in (ReadOnlySpan<int>)[fimPad, fimRep, fimSep])
        {
            if (IsValid(id))
                _endOfGeneration[id] = true;
        }
        foreach (string text in SpecialTokenTexts.EndOfGeneration)
        {
            if (_tokenToId.TryGetValue(text, out int id))
            {
                _endOfGeneration[id] = true;
                _attributes[id] |= TokenAttributes.Control;
            }
        }

        // gpt-oss: these are always rendered
        foreach (string text in (ReadOnlySpan<string>)["<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"])
        {
            if (_tokenToId.TryGetValue(text, out int id))
                _attributes[id] = TokenAttributes.UserDefined;
        }

        foreach (int id in (ReadOnlySpan<int>)[vocab.EosId, eot, eom])
        {
            if (IsValid(id))
                _endOfGeneration[id] = true;
        }

        // o200k_harmony / solar-open: <|end|> is not end-of-generation when <|return|> and <|call|> (or <|calls|> and <|flush|>) are
        bool Eog(string text) => _tokenToId.TryGetValue(text, out int id) && _endOfGeneration[id];
        bool hasCall = Eog("<|call|>") || Eog("<|calls|>");
        if (Eog("<|end|>") && ((Eog("<|return|>") && hasCall) || (hasCall && Eog("<|flush|>"))))
        {
            int end = _tokenToId["<|end|>"];
            _endOfGeneration[end] = false;
            _attributes[end] = TokenAttributes.UserDefined;
        }
        // gemma4 / paddleocr: </s> is not end-of-generation next to <|tool_response>
        if (Eog("<|tool_response>") && Eog("</s>"))
        {
            int s = _tokenToId["</s>"];
            _endOfGeneration[s] = false;
            _attributes[s] = TokenAttributes.Normal;
        }
    }

    // llama.cpp scans an unordered map, so with several candidates its pick is unspecified; we take the lowest id.
    private int DetectByText(string[] candidates)
    {
        int best = -1;
        foreach (string text in candidates)
        {
            if (_tokenToId.TryGetValue(text, out int id) && (best < 0 || id < best))
                best = id;
        }
        if (best >= 0)
            _attributes[best] |= TokenAttributes.Control;
        return best;
    }

    private static class SpecialTokenTexts
    {
        public static readonly string[] Eot =
        [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>",
            "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>",
        ];
        public static readonly string[] Eom = ["<|eom_id|>"];
        public static readonly string[] FimPrefix = ["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"];
        public static readonly string[] FimSuffix = ["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"];
        public static readonly string[] FimMiddle = ["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"];
        public static readonly string[] FimPad = ["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"];
        public static readonly string[] FimRepo = ["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"];
        public static readonly string[] FimSep = ["<|file_sep|>"];
        public static readonly string[] EndOfGeneration =
        [
            "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
            "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
            "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~[",
        ];
    }

    // ---- word cache shared by all threads ----

    private const int MaxCachedWordLength = 128;
    private const int MaxCacheEntries = 1 << 18;
    private readonly ConcurrentDictionary<string, int[]> _wordCache = new(StringComparer.Ordinal);
    private int _wordCacheCount;
}
