using System.Numerics;
using System.Runtime.CompilerServices;

namespace SeekSharp.Tokenization;

/// <summary>
/// (left symbol, right symbol) -> (rank, merged symbol), as one open-addressing table: a lookup is usually a single
/// cache line, where Dictionary would touch its bucket array and then its entry array. BPE spends most of its time here.
/// </summary>
internal sealed class MergeTable
{
    private struct Entry
    {
        public long Key;   // left << 32 | right; Empty when unused (symbol ids are never negative)
        public int Rank;
        public int Result;
    }

    private const long Empty = -1;
    private readonly Entry[] _entries;
    private readonly int _shift;
    private readonly int _mask;

    public MergeTable(int capacity)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(16, capacity * 2));
        _entries = new Entry[size];
        _entries.AsSpan().Fill(new Entry { Key = Empty });
        _mask = size - 1;
        _shift = 64 - BitOperations.Log2((uint)size);
    }

    public int Count { get; private set; }

    /// <summary>Adds a merge unless the pair is already there (the first, lowest rank wins, as in llama.cpp).</summary>
    public bool TryAdd(int left, int right, int rank, int result)
    {
        long key = (long)left << 32 | (uint)right;
        int i = Slot(key);
        while (_entries[i].Key != Empty)
        {
            if (_entries[i].Key == key)
                return false;
            i = (i + 1) & _mask;
        }
        _entries[i] = new Entry { Key = key, Rank = rank, Result = result };
        Count++;
        return true;
    }

    /// <summary>Changes the rank of a pair that is already there.</summary>
    public void SetRank(int left, int right, int rank)
    {
        long key = (long)left << 32 | (uint)right;
        int i = Slot(key);
        while (_entries[i].Key != key)
            i = (i + 1) & _mask;
        _entries[i].Rank = rank;
    }

    /// <summary>The rank of merging <paramref name="left"/> with <paramref name="right"/>, or int.MaxValue if they do not merge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(int left, int right, out int result)
    {
        long key = (long)left << 32 | (uint)right;
        Entry[] entries = _entries;
        int i = Slot(key);
        while (true)
        {
            ref Entry e = ref entries[i];
            if (e.Key == key)
            {
                result = e.Result;
                return e.Rank;
            }
            if (e.Key == Empty)
            {
                result = -1;
                return int.MaxValue;
            }
            i = (i + 1) & _mask;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Slot(long key) => (int)((ulong)key * 0x9E3779B97F4A7C15UL >> _shift);
}
