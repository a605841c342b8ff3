using System.Text;

namespace SeekSharp.Tokenization;

public sealed partial class BpeTokenizer
{
    /// <summary>
    /// Loads a Hugging Face tokenizer.json (byte-level BPE) into a tokenizer that encodes and decodes exactly like the
    /// Hugging Face tokenizers library (Rust crate 0.22): its normalizer, added-token matching, pre-tokenizer,
    /// post-processor and ByteLevel decoder. With <paramref name="tokenizerConfigPath"/>, BOS/EOS ids come from
    /// tokenizer_config.json, and Llama-style tokenizer classes take add_bos_token / add_eos_token from it as
    /// transformers does.
    /// </summary>
    /// <exception cref="NotSupportedException">The file uses a component this loader does not implement.</exception>
    public static BpeTokenizer FromTokenizerJson(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        using var json = File.OpenRead(tokenizerJsonPath);
        using var config = tokenizerConfigPath is null ? null : File.OpenRead(tokenizerConfigPath);
        return FromTokenizerJson(json, config);
    }

    /// <summary>Like <see cref="FromTokenizerJson(string, string?)"/>, from streams.</summary>
    public static BpeTokenizer FromTokenizerJson(Stream tokenizerJson, Stream? tokenizerConfig = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        var (vocab, pipeline) = HfPipeline.Load(tokenizerJson, tokenizerConfig);
        return new BpeTokenizer(vocab, pipeline);
    }

    /// <summary>True when this tokenizer follows the Hugging Face tokenizers library (built by
    /// <see cref="FromTokenizerJson(string, string?)"/>) rather than llama.cpp.</summary>
    public bool IsHuggingFace => _hf is not null;

    [ThreadStatic] private static HfScratch? t_hfScratch;

    private sealed class HfScratch
    {
        public readonly HfText Text = new();
        public readonly List<(int Start, int Length, int Id)> Segments = new(), SubSegments = new();
        public readonly List<(int Start, int Length)> Pieces = new(), PieceScratch = new();
    }

    // Tokenizer::encode(text, add_special_tokens): added tokens first (on the raw text, then the normalized ones on
    // each normalized segment), then pre-tokenization and BPE of what is left, then the post-processor.
    private void EncodeHf(ReadOnlySpan<char> text, List<int> output, bool addSpecial, bool parseSpecial)
    {
        HfPipeline hf = _hf!;
        // The crate takes UTF-8 (Rust str), where a lone surrogate cannot exist: it becomes U+FFFD, as Encoding.UTF8 does.
        string? sanitized = null;
        if (HasLoneSurrogate(text))
        {
            sanitized = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text.ToString()));
            text = sanitized;
        }

        if (addSpecial)
            output.AddRange(hf.Prefix);
        var scratch = t_hfScratch ??= new HfScratch();
        var encodeScratch = t_scratch ??= new EncodeScratch();
        var segments = scratch.Segments;
        segments.Clear();
        if (hf.RawAdded.IsEmpty)
        {
            if (!text.IsEmpty)
                segments.Add((0, text.Length, -1));
        }
        else
        {
            hf.RawAdded.Split(text, 0, skipSpecial: !parseSpecial, segments);
        }

        for (int s = 0; s < segments.Count; s++)
        {
            var (start, length, id) = segments[s];
            if (id >= 0)
            {
                output.Add(id);
                continue;
            }
            if (length == 0)
                continue;
            ReadOnlySpan<char> segment = text.Slice(start, length);
            if (hf.Normalizer is not null)
                segment = hf.Normalizer.Normalize(segment.ToString());
            if (hf.NormalizedAdded.IsEmpty)
            {
                EncodePiecesHf(segment, output, scratch, encodeScratch);
                continue;
            }
            var subs = scratch.SubSegments;
            subs.Clear();
            hf.NormalizedAdded.Split(segment, 0, skipSpecial: !parseSpecial, subs);
            for (int k = 0; k < subs.Count; k++)
            {
                var (subStart, subLength, subId) = subs[k];
                if (subId >= 0)
                    output.Add(subId);
                else if (subLength > 0)
                    EncodePiecesHf(segment.Slice(subStart, subLength), output, scratch, encodeScratch);
            }
        }

        if (addSpecial)
            output.AddRange(hf.Suffix);
    }

    private void EncodePiecesHf(ReadOnlySpan<char> segment, List<int> output, HfScratch scratch, EncodeScratch encodeScratch)
    {
        HfText text = scratch.Text;
        text.Load(segment);
        _hf!.PreTokenizer.Split(text, scratch.Pieces, scratch.PieceScratch);
        ReadOnlySpan<char> chars = text.Chars;
        ReadOnlySpan<int> offsets = text.Offsets;
        var cache = _wordCache.GetAlternateLookup<ReadOnlySpan<char>>();
        foreach (var (start, length) in scratch.Pieces)
        {
            EncodeWordCached(chars[offsets[start]..offsets[start + length]], output, encodeScratch, cache);
        }
    }

    // The crate's ByteLevel decoder: a token whose characters are all byte characters stands for those bytes, any other
    // token for its own UTF-8; the concatenation is decoded lossily (String::from_utf8_lossy).
    private byte[] BuildPieceHf(int id)
    {
        if (!_hf!.Exists[id])
            return [];
        string text = _texts[id];
        var bytes = new byte[text.Length];
        return ByteLevel.TryDecode(text, bytes) ? bytes : Encoding.UTF8.GetBytes(text);
    }

    private byte[] DecodeToBytesHf(ReadOnlySpan<int> ids, bool skipSpecial)
    {
        var result = new List<byte>(ids.Length * 4);
        foreach (int id in ids)
        {
            if (!IsValid(id) || (skipSpecial && _hf!.Special[id]))
                continue; // ids the tokenizer does not have are dropped, as the crate does
            result.AddRange(TokenBytes(id));
        }
        return result.ToArray();
    }
}
