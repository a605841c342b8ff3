using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;

namespace SeekSharp.Tokenization;

public sealed partial class BpeTokenizer
{
    // ---- merges ----
    // Every string BPE can produce (token texts, both sides of every merge and their concatenation) gets a symbol id;
    // token texts keep their token id, other strings get ids >= VocabSize. Merging then works on ints:
    // (left id, right id) -> (rank, id of the merged string).
    private MergeTable _merges = null!;
    private readonly int[] _byteSymbols = new int[256];

    private void BuildMerges(string[] merges, bool lastRankWins)
    {
        var symbols = new Dictionary<string, int>(_tokenToId, StringComparer.Ordinal);
        var lookup = symbols.GetAlternateLookup<ReadOnlySpan<char>>();
        int next = _texts.Length;
        int SymbolOf(ReadOnlySpan<char> s)
        {
            if (!lookup.TryGetValue(s, out int id))
            {
                id = next++;
                lookup[s] = id;
            }
            return id;
        }

        _merges = new MergeTable(merges.Length);
        char[] concat = new char[64];
        for (int rank = 0; rank < merges.Length; rank++)
        {
            string merge = merges[rank];
            // llama.cpp splits at the first space after the first character
            int space = merge.Length > 1 ? merge.IndexOf(' ', 1) : -1;
            if (space < 0 || space == merge.Length - 1)
                continue; // ("", "") or (left, ""): can never match a pair of non-empty symbols
            ReadOnlySpan<char> left = merge.AsSpan(0, space), right = merge.AsSpan(space + 1);
            int leftId = SymbolOf(left), rightId = SymbolOf(right);
            if (_merges.Find(leftId, rightId, out _) != int.MaxValue)
            {
                // duplicate pair: llama.cpp keeps the first (lowest) rank; the tokenizers crate builds a map, so the last wins
                if (lastRankWins)
                    _merges.SetRank(leftId, rightId, rank);
                continue;
            }
            if (concat.Length < left.Length + right.Length)
                concat = new char[left.Length + right.Length];
            left.CopyTo(concat);
            right.CopyTo(concat.AsSpan(left.Length));
            _merges.TryAdd(leftId, rightId, rank, SymbolOf(concat.AsSpan(0, left.Length + right.Length)));
        }

        Span<char> one = stackalloc char[1];
        for (int b = 0; b < 256; b++)
        {
            one[0] = ByteLevel.ByteToChar((byte)b);
            _byteSymbols[b] = SymbolOf(one);
        }
    }


    // ---- public encode ----

    /// <summary>Tokenizes <paramref name="text"/> like llama_tokenize (for a tokenizer from tokenizer.json: like the
    /// Hugging Face tokenizers library's Tokenizer::encode).</summary>
    /// <param name="addSpecial">Prepend BOS / append EOS as the vocabulary asks (llama_tokenize's add_special; in
    /// Hugging Face mode add_special_tokens, i.e. run the post-processor).</param>
    /// <param name="parseSpecial">Text spelling a control token becomes that token (llama_tokenize's parse_special);
    /// user-defined tokens are always recognised, as in llama.cpp. In Hugging Face mode false means the library's
    /// encode_special_tokens: special added tokens are not matched, non-special added tokens still are.</param>
    public int[] Encode(string text, bool addSpecial = true, bool parseSpecial = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var output = new List<int>(text.Length / 3 + 4);
        Encode(text.AsSpan(), output, addSpecial, parseSpecial);
        return output.ToArray();
    }

    /// <summary>Tokenizes <paramref name="text"/> like llama_tokenize, appending the ids to <paramref name="output"/>.</summary>
    public void Encode(ReadOnlySpan<char> text, List<int> output, bool addSpecial, bool parseSpecial)
    {
        ArgumentNullException.ThrowIfNull(output);
        if (_hf is not null)
        {
            EncodeHf(text, output, addSpecial, parseSpecial);
            return;
        }
        // llama.cpp takes UTF-8, where a lone surrogate cannot exist: it arrives as U+FFFD (Encoding.UTF8's choice).
        string? sanitized = null;
        if (HasLoneSurrogate(text))
        {
            sanitized = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text.ToString()));
            text = sanitized;
        }

        if (addSpecial && Vocabulary.AddBos)
            output.Add(Vocabulary.BosId);

        var scratch = t_scratch ??= new EncodeScratch();
        if (!text.IsEmpty)
        {
            List<Fragment> fragments = Partition(text, parseSpecial, scratch);
            foreach (Fragment fragment in fragments)
            {
                if (fragment.Token >= 0)
                    output.Add(fragment.Token);
                else
                    EncodeRaw(text.Slice(fragment.Start, fragment.Length), output, scratch);
            }
        }

        if (addSpecial && Vocabulary.AddEos)
            output.Add(Vocabulary.EosId);
    }

    private static bool HasLoneSurrogate(ReadOnlySpan<char> text)
    {
        int i = text.IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
            return false;
        for (; i < text.Length; i++)
        {
            char c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                i++;
            else if (char.IsSurrogate(c))
                return true;
        }
        return false;
    }

    [ThreadStatic] private static EncodeScratch? t_scratch;

    internal sealed class EncodeScratch
    {
        public readonly PreTokenizerText Text = new();
        public readonly List<int> Words = new(), SplitScratch = new();
        public List<Fragment> Fragments = new(), FragmentsNext = new();
        public readonly List<int> PresentSpecials = new();
        public byte[] Bytes = new byte[256];
        public char[] Mapped = new char[256];
        public int[] Symbols = new int[256], Starts = new int[257], Ranks = new int[256];
        public readonly List<int> WordTokens = new();
        public MergeHeap Heap = new();
        public int[] Prev = new int[256], Next = new int[256];
    }

    internal readonly record struct Fragment(int Start, int Length, int Token);

    // ---- raw text: pre-tokenize, then BPE each word ----

    private void EncodeRaw(ReadOnlySpan<char> fragment, List<int> output, EncodeScratch scratch)
    {
        PreTokenizerText text = scratch.Text;
        text.Load(fragment);
        _pre.Split(text, scratch.Words, scratch.SplitScratch);
        ReadOnlySpan<int> offsets = text.CharOffsets;
        var cache = _wordCache.GetAlternateLookup<ReadOnlySpan<char>>();
        int cp = 0;
        foreach (int length in scratch.Words)
        {
            EncodeWordCached(fragment[offsets[cp]..offsets[cp + length]], output, scratch, cache);
            cp += length;
        }
    }

    /// <summary>BPE of one word through the word cache (both the llama.cpp and the Hugging Face modes).</summary>
    private void EncodeWordCached(ReadOnlySpan<char> word, List<int> output, EncodeScratch scratch,
        System.Collections.Concurrent.ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> cache)
    {
        if (word.Length <= MaxCachedWordLength && cache.TryGetValue(word, out int[]? ids))
        {
            output.AddRange(ids);
            return;
        }
        List<int> tokens = scratch.WordTokens;
        tokens.Clear();
        EncodeWord(word, tokens, scratch);
        if (word.Length <= MaxCachedWordLength)
        {
            // (ConcurrentDictionary.Count takes every lock, so we keep our own approximate count)
            if (_wordCacheCount >= MaxCacheEntries)
            {
                _wordCache.Clear();
                _wordCacheCount = 0;
            }
            if (cache.TryAdd(word, tokens.ToArray()))
                Interlocked.Increment(ref _wordCacheCount);
        }
        output.AddRange(tokens);
    }

    /// <summary>BPE of one pre-tokenized word (llm_tokenizer_bpe_session::tokenize for one word).</summary>
    internal void EncodeWord(ReadOnlySpan<char> word, List<int> output, EncodeScratch? scratch = null, bool forceHeap = false)
    {
        scratch ??= t_scratch ??= new EncodeScratch();
        int n = Encoding.UTF8.GetByteCount(word);
        if (n == 0)
            return;
        if (scratch.Bytes.Length < n)
        {
            int size = Math.Max(n, scratch.Bytes.Length * 2);
            scratch.Bytes = new byte[size];
            scratch.Mapped = new char[size];
            scratch.Symbols = new int[size];
            scratch.Starts = new int[size + 1];
            scratch.Ranks = new int[size];
            scratch.Prev = new int[size];
            scratch.Next = new int[size];
        }
        Span<byte> bytes = scratch.Bytes.AsSpan(0, n);
        Encoding.UTF8.GetBytes(word, bytes);

        if (_ignoreMerges)
        {
            Span<char> mapped = scratch.Mapped.AsSpan(0, n);
            for (int i = 0; i < n; i++)
                mapped[i] = ByteLevel.ByteToChar(bytes[i]);
            if (_tokenLookup.TryGetValue(mapped, out int whole))
            {
                output.Add(whole);
                return;
            }
        }

        if (forceHeap || n > SmallWordLimit)
            MergeWithHeap(bytes, output, scratch);
        else
            MergeSmall(bytes, output, scratch);
    }

    // Up to this many bytes a quadratic scan over a compacted symbol array beats a heap (most words are short).
    internal const int SmallWordLimit = 48;

    private void MergeSmall(ReadOnlySpan<byte> bytes, List<int> output, EncodeScratch scratch)
    {
        int count = bytes.Length;
        Span<int> symbols = scratch.Symbols.AsSpan(0, count);
        Span<int> starts = scratch.Starts.AsSpan(0, count + 1);
        Span<int> ranks = scratch.Ranks.AsSpan(0, count);     // ranks[i]: rank of merging symbols i and i+1
        Span<int> results = scratch.Prev.AsSpan(0, count);    // results[i]: the symbol that merge gives
        MergeTable merges = _merges;
        for (int i = 0; i < count; i++)
        {
            symbols[i] = _byteSymbols[bytes[i]];
            starts[i] = i;
        }
        starts[count] = count;
        for (int i = 0; i + 1 < count; i++)
            ranks[i] = merges.Find(symbols[i], symbols[i + 1], out results[i]);

        while (count > 1)
        {
            // lowest rank wins; among equal ranks the leftmost (llama.cpp's heap order: rank, then left index)
            int best = -1, bestRank = int.MaxValue;
            for (int i = 0; i + 1 < count; i++)
            {
                if (ranks[i] < bestRank)
                {
                    bestRank = ranks[i];
                    best = i;
                }
            }
            if (best < 0)
                break;
            symbols[best] = results[best];
            // drop symbol best+1 (its bytes now belong to best)
            int tail = count - best - 2;
            symbols.Slice(best + 2, tail).CopyTo(symbols.Slice(best + 1));
            starts.Slice(best + 2, tail + 1).CopyTo(starts.Slice(best + 1));
            if (tail > 1)
            {
                ranks.Slice(best + 2, tail - 1).CopyTo(ranks.Slice(best + 1));
                results.Slice(best + 2, tail - 1).CopyTo(results.Slice(best + 1));
            }
            count--;
            if (best > 0)
                ranks[best - 1] = merges.Find(symbols[best - 1], symbols[best], out results[best - 1]);
            if (best + 1 < count)
                ranks[best] = merges.Find(symbols[best], symbols[best + 1], out results[best]);
        }

        for (int i = 0; i < count; i++)
            EmitSymbol(symbols[i], bytes[starts[i]..starts[i + 1]], output);
    }

    private void MergeWithHeap(ReadOnlySpan<byte> bytes, List<int> output, EncodeScratch scratch)
    {
        // llama.cpp's algorithm: a linked list of symbols and a priority queue of candidate pairs ordered by
        // (rank, left index); stale pairs (a side already merged away or grown) are skipped when popped.
        int n = bytes.Length;
        Span<int> symbols = scratch.Symbols.AsSpan(0, n);
        Span<int> lengths = scratch.Ranks.AsSpan(0, n);
        Span<int> prev = scratch.Prev.AsSpan(0, n);
        Span<int> next = scratch.Next.AsSpan(0, n);
        MergeHeap heap = scratch.Heap;
        heap.Clear();
        for (int i = 0; i < n; i++)
        {
            symbols[i] = _byteSymbols[bytes[i]];
            lengths[i] = 1;
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        for (int i = 0; i + 1 < n; i++)
            TryPush(heap, symbols, lengths, i, i + 1);

        while (heap.TryPop(out MergeHeap.Entry pair))
        {
            int l = pair.Left, r = pair.Right;
            if (lengths[l] == 0 || lengths[r] == 0 || lengths[l] + lengths[r] != pair.Size)
                continue;
            symbols[l] = pair.Result;
            lengths[l] += lengths[r];
            lengths[r] = 0;
            next[l] = next[r];
            if (next[r] >= 0)
                prev[next[r]] = l;
            if (prev[l] >= 0)
                TryPush(heap, symbols, lengths, prev[l], l);
            if (next[l] >= 0)
                TryPush(heap, symbols, lengths, l, next[l]);
        }

        for (int i = 0; i >= 0; i = next[i])
            EmitSymbol(symbols[i], bytes.Slice(i, lengths[i]), output);
    }

    private void TryPush(MergeHeap heap, Span<int> symbols, Span<int> lengths, int left, int right)
    {
        int rank = _merges.Find(symbols[left], symbols[right], out int result);
        if (rank != int.MaxValue)
            heap.Push(new MergeHeap.Entry(rank, left, right, lengths[left] + lengths[right], result));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void EmitSymbol(int symbol, ReadOnlySpan<byte> bytes, List<int> output)
    {
        if (symbol < _texts.Length)
        {
            output.Add(symbol);
            return;
        }
        if (_hf is not null)
            return; // a byte character missing from the vocabulary: the tokenizers crate drops it (no unk_token support)
        // Not a token (only possible with merges whose results are missing from the vocabulary): llama.cpp then
        // looks up each UTF-8 byte of the byte-level string alone, which only finds the single-byte characters.
        Span<char> one = stackalloc char[1];
        foreach (byte b in bytes)
        {
            char c = ByteLevel.ByteToChar(b);
            one[0] = c;
            if (c < 0x80 && _tokenLookup.TryGetValue(one, out int id))
                output.Add(id);
        }
    }

    /// <summary>A binary min-heap of merge candidates ordered by (rank, left index).</summary>
    internal sealed class MergeHeap
    {
        internal readonly record struct Entry(int Rank, int Left, int Right, int Size, int Result);

        private Entry[] _items = new Entry[64];
        private int _count;

        public void Clear() => _count = 0;

        public void Push(Entry e)
        {
            if (_count == _items.Length)
                Array.Resize(ref _items, _count * 2);
            int i = _count++;
            while (i > 0)
            {
                int parent = (i - 1) >> 1;
                if (!Less(e, _items[parent]))
                    break;
                _items[i] = _items[parent];
                i = parent;
            }
            _items[i] = e;
        }

        public bool TryPop(out Entry top)
        {
            if (_count == 0)
            {
                top = default;
                return false;
            }
            top = _items[0];
            Entry last = _items[--_count];
            int i = 0;
            while (true)
            {
                int child = 2 * i + 1;
                if (child >= _count)
                    break;
                if (child + 1 < _count && Less(_items[child + 1], _items[child]))
                    child++;
                if (!Less(_items[child], last))
                    break;
                _items[i] = _items[child];
                i = child;
            }
            _items[i] = last;
            return true;
        }

        private static bool Less(in Entry a, in Entry b) => a.Rank < b.Rank || (a.Rank == b.Rank && a.Left < b.Left);
    }

    // ---- special tokens (llama_vocab::impl::tokenizer_st_partition) ----

    private int[] _specialOrder = null!;                        // CONTROL | USER_DEFINED | UNKNOWN ids, longest text first
    private Dictionary<int, int[]> _specialsByPrefix = null!;   // first two chars (or one, for 1-char texts) -> order indices
    private SearchValues<char> _specialFirstChars = null!;

    private void BuildSpecialTokenIndex()
    {
        var ids = new List<int>();
        for (int i = 0; i < _texts.Length; i++)
        {
            if ((_attributes[i] & (TokenAttributes.Control | TokenAttributes.UserDefined | TokenAttributes.Unknown)) != 0)
                ids.Add(i);
        }
        // llama.cpp sorts by text length, longest first (std::sort: order among equal lengths unspecified; we use id order)
        var byteLengths = new Dictionary<int, int>(ids.Count);
        foreach (int id in ids)
            byteLengths[id] = Encoding.UTF8.GetByteCount(_texts[id]);
        ids.Sort((a, b) => byteLengths[a] != byteLengths[b] ? byteLengths[b] - byteLengths[a] : a - b);
        _specialOrder = ids.ToArray();

        var byPrefix = new Dictionary<int, List<int>>();
        var firstChars = new HashSet<char>();
        for (int k = 0; k < _specialOrder.Length; k++)
        {
            string text = _texts[_specialOrder[k]];
            firstChars.Add(text[0]);
            int key = PrefixKey(text);
            if (!byPrefix.TryGetValue(key, out var list))
                byPrefix[key] = list = new List<int>();
            list.Add(k);
        }
        _specialsByPrefix = byPrefix.ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        _specialFirstChars = SearchValues.Create([.. firstChars]);
    }

    private static int PrefixKey(ReadOnlySpan<char> s) => s.Length == 1 ? s[0] | 1 << 16 : s[0] | s[1] << 17;

    private List<Fragment> Partition(ReadOnlySpan<char> text, bool parseSpecial, EncodeScratch scratch)
    {
        var fragments = scratch.Fragments;
        fragments.Clear();
        fragments.Add(new Fragment(0, text.Length, -1));
        if (_specialOrder.Length == 0)
            return fragments;

        // Find which special tokens occur in the text at all (usually none), then run llama.cpp's algorithm with only those:
        // for each token, longest first, split every remaining raw fragment at each occurrence.
        List<int> present = scratch.PresentSpecials;
        present.Clear();
        for (int i = text.IndexOfAny(_specialFirstChars); i >= 0;)
        {
            ReadOnlySpan<char> rest = text[i..];
            if (_specialsByPrefix.TryGetValue(PrefixKey(rest[..1]), out int[]? singles))
                present.AddRange(singles);
            if (rest.Length > 1 && _specialsByPrefix.TryGetValue(PrefixKey(rest[..2]), out int[]? candidates))
            {
                foreach (int k in candidates)
                {
                    if (rest.StartsWith(_texts[_specialOrder[k]], StringComparison.Ordinal))
                        present.Add(k);
                }
            }
            int nextHit = rest[1..].IndexOfAny(_specialFirstChars);
            i = nextHit < 0 ? -1 : i + 1 + nextHit;
        }
        if (present.Count == 0)
            return fragments;
        present.Sort();

        int lastK = -1;
        foreach (int k in present)
        {
            if (k == lastK)
                continue;
            lastK = k;
            int id = _specialOrder[k];
            TokenAttributes attr = _attributes[id];
            if (!parseSpecial && (attr & (TokenAttributes.Control | TokenAttributes.Unknown)) != 0)
                continue; // user-defined tokens are split out even without parse_special, as in llama.cpp
            string special = _texts[id];
            var nextList = scratch.FragmentsNext;
            nextList.Clear();
            foreach (Fragment f in fragments)
            {
                if (f.Token >= 0)
                {
                    nextList.Add(f);
                    continue;
                }
                int start = f.Start, length = f.Length;
                while (length > 0)
                {
                    int match = text.Slice(start, length).IndexOf(special, StringComparison.Ordinal);
                    if (match < 0)
                    {
                        nextList.Add(new Fragment(start, length, -1));
                        break;
                    }
                    int leftLength = match;
                    if ((attr & TokenAttributes.LStrip) != 0)
                    {
                        while (leftLength > 0 && IsCSpace(text[start + leftLength - 1]))
                            leftLength--;
                    }
                    if (leftLength > 0)
                        nextList.Add(new Fragment(start, leftLength, -1));
                    nextList.Add(new Fragment(0, 0, id));
                    int rightStart = start + match + special.Length;
                    int rightLength = start + length - rightStart;
                    if ((attr & TokenAttributes.RStrip) != 0)
                    {
                        while (rightLength > 0 && IsCSpace(text[rightStart]))
                        {
                            rightStart++;
                            rightLength--;
                        }
                    }
                    start = rightStart;
                    length = rightLength;
                }
            }
            (scratch.Fragments, scratch.FragmentsNext) = (nextList, fragments);
            fragments = nextList;
        }
        return fragments;

        static bool IsCSpace(char c) => c is ' ' or (>= '\t' and <= '\r');
    }
}
